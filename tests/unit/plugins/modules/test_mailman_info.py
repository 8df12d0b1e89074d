# SPDX-License-Identifier: GPL-3.0-or-later
"""mailman_info, and the connection handling every module shares through it."""
from __future__ import annotations

import socket
import time

from ansible_collections.mailops.mailman.plugins.module_utils.mailman_rest import (
    read_webservice_config,
    webservice_url,
)
from ansible_collections.mailops.mailman.plugins.modules import mailman_info

from tests.unit.mailman_core import free_port
from tests.unit.plugins.modules.utils import run_module


def test_reports_domains_lists_counts_pending(mailman_core, mailman_client, domain_name):
    mlist = mailman_client.create_domain(domain_name).create_list('announce')
    mlist.subscribe('a@example.org', pre_verified=True, pre_confirmed=True, pre_approved=True)
    mlist.add_owner('owner@example.org')
    mlist.subscribe('waiting@example.org')
    address = 'announce@%s' % domain_name

    for check_mode in (False, True):
        ok, result = run_module(mailman_info, dict(mailman_core.rest_args), check_mode=check_mode)
        assert ok and not result['changed'], result
        assert domain_name in [d['mail_host'] for d in result['domains']]
        info = {item['fqdn_listname']: item for item in result['lists']}[address]
        assert info['member_count'] == 1 and info['owner_count'] == 1
        assert info['moderator_count'] == 0
        assert info['settings']['subscription_policy'] == 'confirm'
        assert [p['email'] for p in info['pending']] == ['waiting@example.org']


def test_one_list(mailman_core, mailman_client, domain_name):
    mailman_client.create_domain(domain_name).create_list('one')
    args = dict(mailman_core.rest_args, list='one@%s' % domain_name)
    ok, result = run_module(mailman_info, args)
    assert ok and [item['fqdn_listname'] for item in result['lists']] == ['one@%s' % domain_name]
    ok, result = run_module(mailman_info, dict(args, list='two@%s' % domain_name))
    assert ok and result['lists'] == [], result


def test_members_only_when_asked(mailman_core, mailman_client, domain_name):
    mlist = mailman_client.create_domain(domain_name).create_list('roster')
    for email in ('b@example.org', 'a@example.org'):
        mlist.subscribe(email, pre_verified=True, pre_confirmed=True, pre_approved=True)
    mlist.subscribe('waiting@example.org')  # pending: not a member yet
    args = dict(mailman_core.rest_args, list='roster@%s' % domain_name)
    ok, result = run_module(mailman_info, args)
    assert ok and 'members' not in result['lists'][0], result
    ok, result = run_module(mailman_info, dict(args, members=True))
    assert ok and result['lists'][0]['members'] == ['a@example.org', 'b@example.org'], result


def test_wrong_password_from_options(mailman_core):
    args = dict(mailman_core.rest_args, api_password='wrong-secret')
    ok, result = run_module(mailman_info, args)
    assert not ok, result
    assert 'REST credentials rejected' in result['msg'] and 'api_password' in result['msg']
    assert 'wrong-secret' not in str(result)


def test_wrong_password_from_config_file(mailman_core, tmp_path):
    cfg = tmp_path / 'mailman.cfg'
    cfg.write_text(mailman_core.config_file.read_text().replace(
        mailman_core.api_password, 'stale-secret'))
    ok, result = run_module(mailman_info, dict(config_file=str(cfg)))
    assert not ok, result
    assert 'REST credentials rejected' in result['msg']
    assert '[webservice] admin_user/admin_pass in %s' % cfg in result['msg']
    assert 'stale-secret' not in str(result)


def test_nothing_listening(tmp_path):
    port = free_port()
    cfg = tmp_path / 'mailman.cfg'
    cfg.write_text('[webservice]\nhostname: 127.0.0.1\nport: %d\n' % port)
    ok, result = run_module(mailman_info, dict(config_file=str(cfg), timeout=5))
    assert not ok, result
    assert result['msg'].startswith('nothing listening on 127.0.0.1:%d (connection refused)' % port)
    assert 'is mailman3 running?' in result['msg'] and 'mailman.log' in result['msg']


def test_missing_config_file(tmp_path):
    missing = tmp_path / 'nope.cfg'
    ok, result = run_module(mailman_info, dict(config_file=str(missing)))
    assert not ok and str(missing) in result['msg'] and 'api_url' in result['msg'], result


def test_no_answer_within_timeout():
    # Listening but never answering: the TCP connect succeeds, the reply never comes.
    with socket.socket() as server:
        server.bind(('127.0.0.1', 0))
        server.listen()
        url = 'http://127.0.0.1:%d/3.1' % server.getsockname()[1]
        args = dict(api_url=url, api_user='restadmin', api_password='x', timeout=1)
        started = time.monotonic()
        ok, result = run_module(mailman_info, args)
    assert not ok, result
    assert result['msg'].startswith('no answer from the Mailman REST API at %s within 1s' % url)
    assert time.monotonic() - started < 10


def test_config_file_defaults_are_mailmans(tmp_path):
    # Debian's mailman.cfg may not have a [webservice] section at all.
    cfg = tmp_path / 'mailman.cfg'
    cfg.write_text('[mailman]\nsite_owner: root@localhost\n')
    web = read_webservice_config(str(cfg))
    assert webservice_url(web) == 'http://localhost:8001/3.1'
    assert (web['admin_user'], web['admin_pass']) == ('restadmin', 'restpass')
    cfg.write_text('[webservice]\nhostname: lists.example.org\nport = 9001\nuse_https: yes\n'
                   'admin_pass: 100%secret\n')
    web = read_webservice_config(str(cfg))
    assert webservice_url(web) == 'https://lists.example.org:9001/3.1'
    assert web['admin_pass'] == '100%secret'
