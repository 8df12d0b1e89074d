# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters verify uses for Mailman's address forms and the List-Id."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.mailops.mailman.plugins.filter.mailman_address import FilterModule

FILTERS = FilterModule().filters()


def test_list_address_forms():
    forms = FILTERS["list_address_forms"]("rg@local.edu")
    assert forms == dict(
        posting="rg@local.edu", join="rg-join@local.edu", leave="rg-leave@local.edu",
        subscribe="rg-subscribe@local.edu", unsubscribe="rg-unsubscribe@local.edu",
        request="rg-request@local.edu", owner="rg-owner@local.edu", bounces="rg-bounces@local.edu",
        confirm="rg-confirm@local.edu", confirm_prefix="rg-confirm+")


def test_list_id():
    assert FILTERS["list_id"]("rg@local.edu") == "rg.local.edu"
    assert FILTERS["list_id"]("Reading-Group@Local.Edu") == "reading-group.local.edu"


@pytest.mark.parametrize("name", ["list_address_forms", "list_id"])
@pytest.mark.parametrize("bad", ["rg", "rg@local.edu\nBcc: x@y", "-join@local.edu", "", None, 42])
def test_not_a_list_address(name, bad):
    with pytest.raises(AnsibleFilterError, match="%s: .* is not a list address" % name):
        FILTERS[name](bad)
