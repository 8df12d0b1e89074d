# SPDX-License-Identifier: GPL-3.0-or-later
"""The one home of list addresses, as the modules and the roles' Jinja test see it."""
from __future__ import annotations

import pytest
from ansible_collections.mailops.mailman.plugins.module_utils import mailman_address
from ansible_collections.mailops.mailman.plugins.test.mailman_input import TestModule as JinjaTests

TESTS = JinjaTests().tests()
LIST = "reading-group@local.edu"


@pytest.mark.parametrize('value,ok', [
    ('reading-group@local.edu', True), ('rg_2.x@lists.example.org', True), ('RG@Local.Edu', True),
    ('rg@local.edu\n', False), ('-join@local.edu', False), ('rg+x@local.edu', False), ('rg', False),
    ('rg@@local.edu', False), ('r g@local.edu', False), ('r\u00e9@local.edu', False), ('rg@x/../y', False),
    (None, False), (42, False),
])
def test_list_address(value, ok):
    assert mailman_address.is_list_address(value) is ok
    assert TESTS['list_address'](value) is ok


def test_split_and_list_id_lowercase_as_mailman_stores_them():
    assert mailman_address.split_address("Reading-Group@Local.EDU") == ("reading-group", "local.edu")
    assert mailman_address.list_id("rg@local.edu") == "rg.local.edu"
    for bad in ("rg", "rg@", "rg+x@local.edu", "rg@local.edu\n", None):
        with pytest.raises(ValueError, match="is not a list address"):
            mailman_address.list_id(bad)


def test_every_form_mailman_answers():
    assert mailman_address.address_forms("RG@local.edu") == dict(
        posting="rg@local.edu", join="rg-join@local.edu", leave="rg-leave@local.edu",
        subscribe="rg-subscribe@local.edu", unsubscribe="rg-unsubscribe@local.edu",
        request="rg-request@local.edu", owner="rg-owner@local.edu", bounces="rg-bounces@local.edu",
        confirm="rg-confirm@local.edu", confirm_prefix="rg-confirm+")
    assert mailman_address.form_address(LIST, "confirm", "a1b2") == "reading-group-confirm+a1b2@local.edu"
    with pytest.raises(ValueError, match="not one of Mailman's address forms"):
        mailman_address.form_address(LIST, "admins")


@pytest.mark.parametrize('address,form', [
    ("reading-group@local.edu", "posting"),
    ("Reading-Group-Join@LOCAL.edu", "join"),
    ("reading-group-confirm+a1b2c3@local.edu", "confirm"),
    ("reading-group-bounces+u1=local.edu@local.edu", "bounces"),
    ("reading-group-admins@local.edu", None),
    ("reading-group2@local.edu", None),
    ("reading-group+x@local.edu", None),
    ("reading-group@other.edu", None),
    ("", None),
    (None, None),
])
def test_form_of_knows_the_lists_forms_and_no_other_lists(address, form):
    assert mailman_address.form_of(address, LIST) == form


def test_form_of_a_list_whose_name_prefixes_another():
    # reading-group-join is not a form of "reading": "group-join" is no form name.
    assert mailman_address.form_of("reading-group-join@local.edu", "reading@local.edu") is None


def test_confirm_token():
    assert mailman_address.confirm_token("rg-confirm+0a1b") == "0a1b"
    assert mailman_address.confirm_token("rg-confirm") is None
    assert mailman_address.confirm_token("alice") is None
    assert mailman_address.confirm_token(None) is None
