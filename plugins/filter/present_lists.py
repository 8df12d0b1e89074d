# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""present_lists: the lists of mailman3_lists that should exist (documented in present_lists.yml).

The one home of "which declared lists are present": the mailman3 role sets
their owners and moderators, playbooks/verify.yml verifies them.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def present_lists(lists):
    if not isinstance(lists, list) or not all(isinstance(item, dict) for item in lists):
        raise AnsibleFilterError('present_lists: expected mailman3_lists, a list of {address: ...} '
                                 'entries, got %s' % type(lists).__name__)
    return [dict(item, state=item.get('state', 'present')) for item in lists
            if item.get('state', 'present') != 'absent']


class FilterModule:
    def filters(self):
        return {'present_lists': present_lists}
