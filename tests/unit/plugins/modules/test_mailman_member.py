# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible_collections.mailops.mailman.plugins.modules import mailman_member

from tests.unit.plugins.modules.utils import run_module


@pytest.fixture
def mlist(mailman_client, domain_name):
    return mailman_client.create_domain(domain_name).create_list('reading-group')


def roster(mlist, role='member'):
    return sorted(m.email for m in mlist.get_roster(role))


def test_add_members_without_confirmation_is_idempotent(mailman_core, mlist):
    args = dict(mailman_core.rest_args, list=mlist.fqdn_listname,
                addresses=['alice@example.org', {'address': 'Bob@Example.org', 'display_name': 'Bob'}])
    ok, first = run_module(mailman_member, args, diff=True)
    assert ok and first['changed'], first
    assert first['added'] == ['alice@example.org', 'bob@example.org']
    assert first['pending'] == []
    assert first['diff']['after'] == 'alice@example.org\nbob@example.org\n'
    assert roster(mlist) == ['alice@example.org', 'bob@example.org']
    assert mlist.get_member('bob@example.org').display_name == 'Bob'

    ok, second = run_module(mailman_member, args)
    assert ok and not second['changed'] and second['added'] == [], second


@pytest.mark.parametrize('role', ['owner', 'moderator'])
def test_owner_and_moderator(mailman_core, mlist, role):
    args = dict(mailman_core.rest_args, list=mlist.fqdn_listname, role=role,
                addresses=['admin@example.org'])
    ok, result = run_module(mailman_member, args)
    assert ok and result['changed'], result
    assert roster(mlist, role) == ['admin@example.org']
    assert roster(mlist) == []
    ok, result = run_module(mailman_member, args)
    assert ok and not result['changed'], result
    ok, result = run_module(mailman_member, dict(args, state='absent'))
    assert ok and result['removed'] == ['admin@example.org'], result
    assert roster(mlist, role) == []


def test_exclusive_removes_undeclared(mailman_core, mlist):
    base = dict(mailman_core.rest_args, list=mlist.fqdn_listname)
    run_module(mailman_member, dict(base, addresses=['a@example.org', 'b@example.org']))
    args = dict(base, addresses=['b@example.org', 'c@example.org'], exclusive=True)
    ok, result = run_module(mailman_member, args, check_mode=True, diff=True)
    assert ok and result['changed'], result
    assert result['added'] == ['c@example.org'] and result['removed'] == ['a@example.org']
    assert result['diff']['after'] == 'b@example.org\nc@example.org\n'
    assert roster(mlist) == ['a@example.org', 'b@example.org']

    ok, result = run_module(mailman_member, args)
    assert ok and result['changed'], result
    assert roster(mlist) == ['b@example.org', 'c@example.org']


def test_absent(mailman_core, mlist):
    base = dict(mailman_core.rest_args, list=mlist.fqdn_listname)
    run_module(mailman_member, dict(base, addresses=['a@example.org', 'b@example.org']))
    args = dict(base, addresses=['a@example.org', 'nobody@example.org'], state='absent')
    ok, result = run_module(mailman_member, args, check_mode=True)
    assert ok and result['removed'] == ['a@example.org'], result
    assert roster(mlist) == ['a@example.org', 'b@example.org']
    ok, result = run_module(mailman_member, args)
    assert ok and result['changed'] and result['removed'] == ['a@example.org'], result
    assert roster(mlist) == ['b@example.org']
    ok, result = run_module(mailman_member, args)
    assert ok and not result['changed'], result


def test_unconfirmed_subscription_is_pending(mailman_core, mlist):
    args = dict(mailman_core.rest_args, list=mlist.fqdn_listname, addresses=['carol@example.org'],
                pre_verified=False, pre_confirmed=False, pre_approved=False)
    ok, result = run_module(mailman_member, args)
    assert ok and result['changed'] and result['added'] == [], result
    assert [p['email'] for p in result['pending']] == ['carol@example.org']
    assert result['pending'][0]['token_owner'] == 'subscriber'
    assert roster(mlist) == []
    # Asking again must not start a second request.
    ok, result = run_module(mailman_member, args)
    assert ok and not result['changed'], result
    assert len(mlist.get_requests()) == 1


def test_missing_list(mailman_core, domain_name):
    args = dict(mailman_core.rest_args, list='nope@%s' % domain_name, addresses=['a@example.org'])
    ok, result = run_module(mailman_member, args)
    assert not ok and 'nope@%s does not exist' % domain_name in result['msg'], result


@pytest.mark.parametrize('bad', ['not-an-address', {'display_name': 'No address'},
                                 {'address': 'a@example.org', 'name': 'typo'}])
def test_bad_address_fails_and_changes_nothing(mailman_core, mlist, bad):
    args = dict(mailman_core.rest_args, list=mlist.fqdn_listname,
                addresses=['good@example.org', bad])
    ok, result = run_module(mailman_member, args)
    assert not ok and 'addresses' in result['msg'], result
    assert roster(mlist) == []


def test_check_mode_on_a_list_still_to_create(mailman_core, mailman_client, domain_name):
    # As in a --check run where mailman_list only reported the list it would make.
    address = 'later@%s' % domain_name
    args = dict(mailman_core.rest_args, list=address, role='owner', addresses=['admin@example.org'])
    ok, result = run_module(mailman_member, args, check_mode=True)
    assert ok and result['changed'] and result['added'] == ['admin@example.org'], result
    assert address not in [m.fqdn_listname for m in mailman_client.lists]
