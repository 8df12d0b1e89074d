# SPDX-License-Identifier: GPL-3.0-or-later
"""present_lists: which declared lists the mailman3 role and verify treat as present."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.mailops.mailman.plugins.filter.present_lists import present_lists


def test_absent_dropped_state_filled_order_kept():
    lists = [{'address': 'b@x.org'}, {'address': 'gone@x.org', 'state': 'absent'},
             {'address': 'a@x.org', 'state': 'present', 'owners': []}]
    assert present_lists(lists) == [{'address': 'b@x.org', 'state': 'present'},
                                    {'address': 'a@x.org', 'state': 'present', 'owners': []}]
    assert lists[0] == {'address': 'b@x.org'}  # the input is not changed


@pytest.mark.parametrize('bad', [{'address': 'a@x.org'}, ['a@x.org'], None])
def test_not_a_list_of_entries(bad):
    with pytest.raises(AnsibleFilterError, match='present_lists: expected mailman3_lists'):
        present_lists(bad)
