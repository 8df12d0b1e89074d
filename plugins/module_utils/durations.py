# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the modules write a number of seconds in a message."""

from __future__ import annotations


def seconds(value):
    """10.0 -> 10, 0.5 -> 0.5: a float option reads in a message as the user wrote it."""
    return int(value) if float(value).is_integer() else value
