# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""list_address_forms, list_id: module_utils/mailman_address.py for templates and tasks.

Documented in list_address_forms.yml and list_id.yml beside this file (one
file holds two filters, so each gets its own documentation file, as in
ansible-core).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.mailops.mailman.plugins.module_utils import mailman_address


def _checked(name, fn, address):
    try:
        return fn(address)
    except ValueError as e:
        raise AnsibleFilterError('%s: %s' % (name, e)) from e


def list_address_forms(address):
    return _checked('list_address_forms', mailman_address.address_forms, address)


def list_id(address):
    return _checked('list_id', mailman_address.list_id, address)


class FilterModule:
    def filters(self):
        return {
            'list_address_forms': list_address_forms,
            'list_id': list_id,
        }
