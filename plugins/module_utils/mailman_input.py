# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one home of the rules for what the collection lets reach Mailman.

Host names, member addresses and the CR/LF/NUL rule live here; list
addresses (the rule, their parts and Mailman's forms of them) live in
mailman_address.py, which builds on is_hostname.

Used by the REST modules (before any request), by the roles' validation
(through the test and filter plugins in plugins/test and plugins/filter) and
by verify, so an address or a setting is judged the same way everywhere.

Why CR, LF and NUL: every Mailman setting, display name and domain ends up
in a header of some message (Subject prefix, From display name, List-Id,
welcome and notice mails). A raw line break there makes Python's email
package refuse the header, and Mailman then shunts every message carrying
it: joins keep working while every post silently goes nowhere. The same
characters in a mailman.cfg value start a new key or section.
"""

from __future__ import annotations

import re

# Characters that end a header line, or a C string.
UNSAFE_CHARS = ('\r', '\n', '\x00')

# Always fullmatch: with match() and '$', a trailing newline slips through.
# RFC 1123 host name labels, ASCII only: Mailman's domain table, Postfix's
# maps and the List-Id header all take the domain verbatim.
_LABEL = r'[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?'
HOSTNAME_RE = re.compile(r'%s(?:\.%s)*' % (_LABEL, _LABEL), re.IGNORECASE)
# Member, owner and moderator addresses: RFC 5322 dot-atom local parts, ASCII
# only (Mailman 3.3 has no SMTPUTF8 support on the way out).
EMAIL_LOCAL_RE = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*",
                            re.IGNORECASE)


def is_hostname(value):
    return isinstance(value, str) and len(value) <= 253 and bool(HOSTNAME_RE.fullmatch(value))


def is_email(value):
    """An address Mailman can add to a roster and Postfix can deliver to."""
    if not isinstance(value, str) or value.count('@') != 1:
        return False
    local, host = value.split('@')
    return len(local) <= 64 and bool(EMAIL_LOCAL_RE.fullmatch(local)) and is_hostname(host)


def unsafe_paths(value, name='value'):
    """Where in value (a string, or lists and dicts of them) a CR, LF or NUL is.

    Returns paths such as ``settings.subject_prefix`` or ``owners[1]`` (name
    being the outermost); dict keys are checked as well as values. Empty when
    everything is safe.
    """
    found = []
    if isinstance(value, str):
        if any(c in value for c in UNSAFE_CHARS):
            found.append(name)
    elif isinstance(value, dict):
        for key, item in value.items():
            where = '%s.%s' % (name, key)
            if isinstance(key, str) and any(c in key for c in UNSAFE_CHARS):
                found.append('a key of %s' % name)
            found.extend(unsafe_paths(item, where))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found.extend(unsafe_paths(item, '%s[%d]' % (name, index)))
    return found


def unsafe_message(name, value):
    """A fail_json message naming each CR/LF/NUL in value, or None when there are none."""
    paths = unsafe_paths(value, name)
    if not paths:
        return None
    return ('%s: line break or NUL (CR, LF or NUL) in the value; Mailman would put it into a mail '
            'header and shunt every message that carries it. Nothing was changed'
            % ', '.join(repr(p) if '\n' in p or '\r' in p else p for p in paths))
