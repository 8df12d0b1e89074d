# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible.module_utils.common.warnings import get_warning_messages
from ansible_collections.mailops.mailman.plugins.modules import mailman_list

from tests.unit.plugins.modules.utils import run_module


@pytest.fixture
def domain(mailman_client, domain_name):
    return mailman_client.create_domain(domain_name)


@pytest.fixture
def address(domain):
    return 'reading-group@%s' % domain.mail_host


def settings_of(client, address):
    return dict(client.get_list(address).settings)


def list_exists(client, address):
    return address in [m.fqdn_listname for m in client.lists]


def test_create_with_settings_is_idempotent(mailman_core, mailman_client, address):
    args = dict(mailman_core.rest_args, address=address,
                settings=dict(subscription_policy='open', unsubscription_policy='confirm',
                              display_name='Reading group', max_message_size=100))
    ok, first = run_module(mailman_list, args, diff=True)
    assert ok and first['changed'], first
    assert first['list']['subscription_policy'] == 'open'
    assert first['diff']['before'] == {}
    assert first['diff']['after']['subscription_policy'] == 'open'
    stored = settings_of(mailman_client, address)
    assert stored['subscription_policy'] == 'open'
    assert stored['display_name'] == 'Reading group'
    assert stored['max_message_size'] == 100

    ok, second = run_module(mailman_list, args)
    assert ok and not second['changed'], second
    assert second['changes'] == {}


def test_values_compared_as_rest_returns_them(mailman_core, mailman_client, address):
    run_module(mailman_list, dict(mailman_core.rest_args, address=address))
    # Strings for an int and a bool, as they come from INI inventories or --extra-vars.
    args = dict(mailman_core.rest_args, address=address,
                settings=dict(max_message_size='40', advertised='yes', emergency='no'))
    ok, result = run_module(mailman_list, args)
    assert ok and not result['changed'], result
    ok, result = run_module(mailman_list, dict(args, settings=dict(advertised=False)))
    assert ok and result['changed'], result
    assert settings_of(mailman_client, address)['advertised'] is False


def test_change_only_what_differs_with_diff(mailman_core, mailman_client, address):
    run_module(mailman_list, dict(mailman_core.rest_args, address=address,
                                  settings=dict(subscription_policy='open')))
    args = dict(mailman_core.rest_args, address=address,
                settings=dict(subscription_policy='open', default_nonmember_action='discard'))
    ok, result = run_module(mailman_list, args, diff=True)
    assert ok and result['changed'], result
    assert result['changes'] == {'default_nonmember_action': {'before': 'hold', 'after': 'discard'}}
    assert result['diff']['before'] == {'default_nonmember_action': 'hold'}
    assert result['diff']['after'] == {'default_nonmember_action': 'discard'}
    assert settings_of(mailman_client, address)['default_nonmember_action'] == 'discard'


def test_check_mode_reports_but_changes_nothing(mailman_core, mailman_client, address):
    args = dict(mailman_core.rest_args, address=address,
                settings=dict(subscription_policy='moderate'))
    ok, result = run_module(mailman_list, args, check_mode=True)
    assert ok and result['changed'], result
    assert not list_exists(mailman_client, address)

    run_module(mailman_list, dict(mailman_core.rest_args, address=address))
    ok, result = run_module(mailman_list, args, check_mode=True, diff=True)
    assert ok and result['changed'], result
    assert result['diff']['after'] == {'subscription_policy': 'moderate'}
    assert result['list']['subscription_policy'] == 'moderate'
    assert settings_of(mailman_client, address)['subscription_policy'] == 'confirm'

    ok, result = run_module(mailman_list, dict(args, state='absent'), check_mode=True)
    assert ok and result['changed'], result
    assert list_exists(mailman_client, address)


def test_delete(mailman_core, mailman_client, address):
    args = dict(mailman_core.rest_args, address=address)
    run_module(mailman_list, args)
    ok, result = run_module(mailman_list, dict(args, state='absent'), diff=True)
    assert ok and result['changed'] and result['list'] == {}, result
    assert not list_exists(mailman_client, address)
    ok, result = run_module(mailman_list, dict(args, state='absent'))
    assert ok and not result['changed'], result


@pytest.mark.parametrize('settings, named', [
    (dict(subscription_policy='sometimes'), ['subscription_policy', 'sometimes']),
    (dict(no_such_setting=1), ['no_such_setting']),
    (dict(max_message_size='big'), ['max_message_size', 'big']),
    (dict(max_message_size=-1), ['max_message_size', '-1']),
    (dict(advertised='maybe'), ['advertised', 'maybe']),
    (dict(mail_host='elsewhere.org'), ['mail_host', 'read-only']),
    (dict(description='two\nlines'), ['description']),
])
def test_bad_setting_fails_and_changes_nothing(mailman_core, mailman_client, address,
                                               settings, named):
    args = dict(mailman_core.rest_args, address=address)
    run_module(mailman_list, args)
    before = settings_of(mailman_client, address)
    # A valid change next to the bad one must not be applied either.
    ok, result = run_module(mailman_list, dict(args, settings=dict(settings, display_name='Changed')))
    assert not ok, result
    for word in named:
        assert word in result['msg'], result['msg']
    assert settings_of(mailman_client, address) == before


def test_bad_setting_on_create_leaves_no_list(mailman_core, mailman_client, address):
    args = dict(mailman_core.rest_args, address=address,
                settings=dict(subscription_policy='sometimes'))
    ok, result = run_module(mailman_list, args)
    assert not ok and 'subscription_policy' in result['msg'], result
    assert not list_exists(mailman_client, address)


def test_missing_domain_is_not_created(mailman_core, mailman_client):
    address = 'announce@no-such-domain.example.org'
    ok, result = run_module(mailman_list, dict(mailman_core.rest_args, address=address))
    assert not ok, result
    assert 'domain no-such-domain.example.org does not exist' in result['msg']
    assert 'mailman_domain' in result['msg']
    assert 'no-such-domain.example.org' not in [d.mail_host for d in mailman_client.domains]


@pytest.mark.parametrize('address', ['reading-group', 'reading group@local.edu', '@local.edu',
                                     'a@b@local.edu'])
def test_bad_address_is_named(mailman_core, address):
    ok, result = run_module(mailman_list, dict(mailman_core.rest_args, address=address))
    assert not ok, result
    assert repr(address) in result['msg'] and 'address' in result['msg']


def test_check_mode_reports_a_new_list_as_a_change(mailman_core, mailman_client, address):
    ok, result = run_module(mailman_list, dict(mailman_core.rest_args, address=address), check_mode=True)
    assert ok and result['changed'], result
    assert not list_exists(mailman_client, address)


def test_check_mode_with_a_domain_still_to_create(mailman_core, mailman_client):
    # As in a --check run where mailman_domain only reported the domain it would make.
    address = 'announce@later.example.org'
    ok, result = run_module(mailman_list, dict(mailman_core.rest_args, address=address), check_mode=True)
    assert ok and result['changed'], result
    assert any('later.example.org' in w for w in get_warning_messages())
    assert 'later.example.org' not in [d.mail_host for d in mailman_client.domains]
