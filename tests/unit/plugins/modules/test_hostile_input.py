# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile input to the REST modules, against a real Mailman core: each case
fails with a message naming what is wrong, and Mailman's state is unchanged."""
from __future__ import annotations

import re

import pytest
from ansible_collections.mailops.mailman.plugins.modules import (
    mailman_domain,
    mailman_info,
    mailman_list,
    mailman_member,
)

from tests.unit.plugins.modules.utils import run_module


@pytest.fixture
def mlist(mailman_client, domain_name):
    return mailman_client.create_domain(domain_name).create_list('reading-group')


def snapshot(client):
    """Everything the cases could change: domains, lists with settings, rosters."""
    return {
        'domains': sorted(d.mail_host for d in client.domains),
        'lists': {m.fqdn_listname: (dict(m.settings),
                                    sorted((r.role, r.email, r.display_name) for r in m.members),
                                    sorted(o.email for o in m.owners))
                  for m in client.lists},
    }


LIST_CASES = [
    ('subject_prefix CRLF header injection', {'subject_prefix': '[rg]\r\nBcc: victim@example.org'}, 'subject_prefix'),
    ('display_name LF', {'display_name': 'Reading\nGroup'}, 'display_name'),
    ('description NUL', {'description': 'a\x00b'}, 'description'),
    ('reply_to_address CR', {'reply_to_address': 'x@example.org\rBcc: y@example.org'}, 'reply_to_address'),
    ('list item with LF', {'acceptable_aliases': ['ok@example.org', 'bad\n@example.org']}, r'acceptable_aliases\[1\]'),
    ('info with NUL', {'info': 'line one\nline two\x00'}, 'info'),
    ('max_message_size 1e400', {'max_message_size': float('inf')}, 'max_message_size'),
    ('max_message_size negative', {'max_message_size': -1}, 'max_message_size'),
    ('max_message_size above INTEGER', {'max_message_size': 2 ** 31}, 'max_message_size'),
    ('max_message_size fraction', {'max_message_size': 1.5}, 'max_message_size'),
]


@pytest.mark.parametrize('case,settings,expect', LIST_CASES, ids=[c[0] for c in LIST_CASES])
def test_list_refuses_hostile_settings(mailman_core, mailman_client, mlist, case, settings, expect):
    before = snapshot(mailman_client)
    ok, result = run_module(mailman_list, dict(mailman_core.rest_args, address=mlist.fqdn_listname,
                                               settings=settings))
    assert not ok, result
    assert re.search(expect, result["msg"]), result["msg"]
    assert 'Traceback' not in result['msg']
    assert snapshot(mailman_client) == before


def test_list_allows_line_breaks_in_info_only(mailman_core, mlist):
    ok, result = run_module(mailman_list, dict(mailman_core.rest_args, address=mlist.fqdn_listname,
                                               settings={'info': 'line one\nline two'}))
    assert ok and result['changed'], result


@pytest.mark.parametrize('address', ['rg@a b.test', 'rg\n@example.org', 'r\u00e9@example.org',
                                     '-join@example.org', 'rg@x/../y', 'rg@@example.org', ''])
def test_list_address_rule(mailman_core, mailman_client, address):
    before = snapshot(mailman_client)
    ok, result = run_module(mailman_list, dict(mailman_core.rest_args, address=address))
    assert not ok and 'not a list address' in result['msg'], result
    assert snapshot(mailman_client) == before


@pytest.mark.parametrize('name', ['', 'a b.test', 'x/../y', 'evil\ncom', 'b\u00fccher.example', '-lead.example',
                                  'a' * 64 + '.example'])
def test_domain_refuses_non_hostnames(mailman_core, mailman_client, name):
    before = snapshot(mailman_client)
    ok, result = run_module(mailman_domain, dict(mailman_core.rest_args, name=name))
    assert not ok and 'not a host name' in result['msg'], result
    assert snapshot(mailman_client) == before


def test_domain_refuses_line_break_in_description(mailman_core, mailman_client, domain_name):
    before = snapshot(mailman_client)
    ok, result = run_module(mailman_domain, dict(mailman_core.rest_args, name=domain_name,
                                                 description='Lists\r\nX-Evil: 1'))
    assert not ok and 'description' in result['msg'], result
    assert snapshot(mailman_client) == before


def seed(mailman_core, mlist):
    ok, result = run_module(mailman_member, dict(mailman_core.rest_args, list=mlist.fqdn_listname,
                                                 addresses=['a@example.org', 'b@example.org']))
    assert ok, result


MEMBER_CASES = [
    ('one malformed address among good ones', ['c@example.org', 'not an address'], 'not an address'),
    ('display name with CRLF', [{'address': 'c@example.org', 'display_name': 'C\r\nBcc: x@example.org'}],
     r'addresses\[0\]\.display_name'),
    ('non-ASCII address', ['j\u00fcrgen@example.org'], 'not an email address'),
    ('address with a space', ['c d@example.org'], 'not an email address'),
    ('display name not a string', [{'address': 'c@example.org', 'display_name': ['x']}], 'display_name'),
    ('address in angle brackets', ['<c@example.org>'], 'not an email address'),
]


@pytest.mark.parametrize('case,addresses,expect', MEMBER_CASES, ids=[c[0] for c in MEMBER_CASES])
def test_member_exclusive_changes_nothing_on_bad_input(mailman_core, mailman_client, mlist, case, addresses, expect):
    seed(mailman_core, mlist)
    before = snapshot(mailman_client)
    ok, result = run_module(mailman_member, dict(mailman_core.rest_args, list=mlist.fqdn_listname,
                                                 addresses=addresses, exclusive=True))
    assert not ok, result
    assert re.search(expect, result["msg"]), result["msg"]
    assert snapshot(mailman_client) == before


def test_member_exclusive_empty_needs_allow_empty(mailman_core, mailman_client, mlist):
    seed(mailman_core, mlist)
    before = snapshot(mailman_client)
    args = dict(mailman_core.rest_args, list=mlist.fqdn_listname, addresses=[], exclusive=True)
    ok, result = run_module(mailman_member, args)
    assert not ok and 'allow_empty' in result['msg'], result
    assert snapshot(mailman_client) == before
    ok, result = run_module(mailman_member, dict(args, allow_empty=True))
    assert ok and result['removed'] == ['a@example.org', 'b@example.org'], result


@pytest.mark.parametrize('module,args', [
    (mailman_info, {}),
    (mailman_list, {'address': 'x@example.org'}),
    (mailman_domain, {'name': 'example.org'}),
    (mailman_member, {'list': 'x@example.org', 'addresses': []}),
])
@pytest.mark.parametrize('timeout', [0, -5, 10 ** 9])
def test_impossible_timeouts_are_refused(mailman_core, module, args, timeout):
    ok, result = run_module(module, dict(mailman_core.rest_args, timeout=timeout, **args))
    assert not ok and 'timeout=' in result['msg'], result
