# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postconf_lines: main.cf settings as the `key=value` arguments of `postconf -e`."""

from __future__ import annotations

DOCUMENTATION = r"""
name: postconf_lines
short_description: Turn main.cf settings into C(key=value) arguments for C(postconf -e)
description:
  - Writes each value the way Postfix reads it, so a setting compares equal to
    what C(postconf -n) prints afterwards and the role stays idempotent.
  - Booleans become C(yes)/C(no) (Postfix rejects C(True)), lists are joined
    with C(, ), C(null) is the empty value, numbers are written as text.
options:
  _input:
    description: A dict of main.cf key to value.
    type: dict
    required: true
"""

EXAMPLES = r"""
- ansible.builtin.debug:
    msg: "{{ {'disable_vrfy_command': true, 'mydestination': ['a', 'b']} | mailops.mailman.postconf_lines }}"
  # ['disable_vrfy_command=yes', 'mydestination=a, b']
"""

RETURN = r"""
_value:
  description: C(key=value) strings, in the input's order.
  type: list
  elements: str
"""


def postconf_value(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(postconf_value(item) for item in value)
    return str(value)


def postconf_lines(settings):
    return ["%s=%s" % (key, postconf_value(value)) for key, value in settings.items()]


class FilterModule:
    def filters(self):
        return {"postconf_lines": postconf_lines}
