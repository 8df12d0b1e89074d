# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's one set of input rules, as the roles' Jinja tests and filter see them."""
from __future__ import annotations

import pytest
from ansible_collections.mailops.mailman.plugins.filter.unsafe_paths import FilterModule
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_input import (
    is_email,
    is_hostname,
    unsafe_paths,
)
from ansible_collections.mailops.mailman.plugins.test.mailman_input import TestModule as JinjaTests

TESTS = JinjaTests().tests()
unsafe_variables = FilterModule().filters()['unsafe_paths']


@pytest.mark.parametrize('value,ok', [
    ('local.edu', True), ('lists.example.org', True), ('localhost', True), ('xn--bcher-kva.example', True),
    ('', False), ('a b.test', False), ('x/../y', False), ('evil\ncom', False), ('local.edu\n', False),
    ('-a.example', False), ('a-.example', False), ('a..b', False), ('b\u00fccher.example', False),
    ('a' * 64 + '.example', False), (('a' * 60 + '.') * 5 + 'org', False), (None, False), (42, False),
])
def test_hostname(value, ok):
    assert is_hostname(value) is ok
    assert TESTS['hostname'](value) is ok


@pytest.mark.parametrize('value,ok', [
    ('alice@example.org', True), ("o'brien+lists@example.org", True), ('a.b@example.org', True),
    ('a..b@example.org', False), ('.a@example.org', False), ('a b@example.org', False), ('<a@example.org>', False),
    ('j\u00fcrgen@example.org', False), ('a@example.org\r\n', False), ('a@b@example.org', False),
    ('@example.org', False),
    ('x' * 65 + '@example.org', False),
])
def test_email(value, ok):
    assert is_email(value) is ok
    assert TESTS['email_address'](value) is ok


def test_unsafe_paths_names_each_place_and_never_the_value():
    variables = {
        'mailman3_rest_password': 'secret\n[database]',
        'mailman3_lists': [{'address': 'rg@local.edu', 'settings': {'subject_prefix': '[rg]\r\nBcc: x', 'ok': 'fine'}},
                           {'address': 'b@local.edu', 'owners': ['a@local.edu', 'b\x00@local.edu']}],
        'mailman3_cfg_extra': {'mta\n': {'k': 'v'}},
        'fine': ['a', {'b': 'c'}, 3, None],
    }
    found = unsafe_variables(variables)
    assert found == ['mailman3_rest_password', 'mailman3_lists[0].settings.subject_prefix',
                     'mailman3_lists[1].owners[1]', 'a key of mailman3_cfg_extra']
    assert not any('secret' in f for f in found)
    assert TESTS['header_safe']({'a': ['b', {'c': 'd'}]}) is True
    assert TESTS['header_safe']({'a': ['b', {'c': 'd\r'}]}) is False
    assert unsafe_paths('plain') == []
