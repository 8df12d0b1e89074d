# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja tests for the roles' validation: the rules of module_utils/mailman_input.py
and, for list addresses, module_utils/mailman_address.py."""

from __future__ import annotations

from ansible_collections.mailops.mailman.plugins.module_utils.mailman_address import is_list_address
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_input import (
    is_email,
    is_hostname,
    unsafe_paths,
)


def header_safe(value):
    """No CR, LF or NUL anywhere in value (strings, lists and dicts, keys included)."""
    return not unsafe_paths(value)


class TestModule:
    def tests(self):
        return {
            'list_address': is_list_address,
            'hostname': is_hostname,
            'email_address': is_email,
            'header_safe': header_safe,
        }
