# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.mailops.mailman.plugins.modules import mailman_domain

from tests.unit.plugins.modules.utils import run_module


def domain_exists(client, name):
    return name in [d.mail_host for d in client.domains]


def test_create_is_idempotent(mailman_core, mailman_client, domain_name):
    args = dict(mailman_core.rest_args, name=domain_name, description='Lists of a school')
    ok, first = run_module(mailman_domain, args)
    assert ok and first['changed'], first
    assert first['domain'] == dict(mail_host=domain_name, description='Lists of a school',
                                   alias_domain=None)
    ok, second = run_module(mailman_domain, args)
    assert ok and not second['changed'], second
    assert mailman_client.get_domain(domain_name).description == 'Lists of a school'


def test_change_description_with_diff(mailman_core, mailman_client, domain_name):
    mailman_client.create_domain(domain_name, description='old')
    args = dict(mailman_core.rest_args, name=domain_name, description='new')
    ok, result = run_module(mailman_domain, args, diff=True)
    assert ok and result['changed'], result
    assert result['diff']['before']['description'] == 'old'
    assert result['diff']['after']['description'] == 'new'
    assert mailman_client.get_domain(domain_name).description == 'new'


def test_check_mode_changes_nothing(mailman_core, mailman_client, domain_name):
    args = dict(mailman_core.rest_args, name=domain_name)
    ok, result = run_module(mailman_domain, args, check_mode=True, diff=True)
    assert ok and result['changed'], result
    assert result['diff']['before'] == {}
    assert not domain_exists(mailman_client, domain_name)

    mailman_client.create_domain(domain_name)
    ok, result = run_module(mailman_domain, dict(args, state='absent'), check_mode=True)
    assert ok and result['changed'], result
    assert domain_exists(mailman_client, domain_name)


def test_delete(mailman_core, mailman_client, domain_name):
    mailman_client.create_domain(domain_name)
    args = dict(mailman_core.rest_args, name=domain_name, state='absent')
    ok, result = run_module(mailman_domain, args)
    assert ok and result['changed'] and result['domain'] == {}, result
    assert not domain_exists(mailman_client, domain_name)
    ok, result = run_module(mailman_domain, args)
    assert ok and not result['changed'], result


def test_config_file_supplies_url_and_credentials(mailman_core, domain_name):
    # What the mailman3 role does: no api_* options, only the core's mailman.cfg.
    args = dict(name=domain_name, config_file=str(mailman_core.config_file))
    ok, result = run_module(mailman_domain, args)
    assert ok and result['changed'], result
