# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""unsafe_paths: where a CR, LF or NUL hides in role input (module_utils/mailman_input.py's rule)."""

from __future__ import annotations

from ansible_collections.mailops.mailman.plugins.module_utils.mailman_input import unsafe_paths

DOCUMENTATION = r"""
name: unsafe_paths
short_description: Name every value that holds a CR, LF or NUL
description:
  - Walks a dict of variables (strings, lists and dicts, keys included) and returns the path
    of each value that holds a CR, LF or NUL, for a validation message that names the
    variable without printing its value (it may be a secret).
options:
  _input:
    description: A dict of variable name to value.
    type: dict
    required: true
"""

EXAMPLES = r"""
- ansible.builtin.debug:
    msg: "{{ {'mailman3_site_owner': 'a@b\nBcc: x@y'} | mailops.mailman.unsafe_paths }}"
  # ['mailman3_site_owner']
"""

RETURN = r"""
_value:
  description: The paths, such as C(mailman3_lists[0].settings.subject_prefix).
  type: list
  elements: str
"""


def unsafe_variables(variables):
    found = []
    for name, value in variables.items():
        found.extend(unsafe_paths(value, name))
    return found


class FilterModule:
    def filters(self):
        return {"unsafe_paths": unsafe_variables}
