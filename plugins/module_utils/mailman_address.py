# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one home of list addresses: what one is, its parts, its List-Id and Mailman's forms of it.

Used by every module (the REST modules, lmtp_probe, mailman_trace,
mailbox_check), by the roles' validation (the Jinja test
mailops.mailman.list_address in plugins/test) and by verify (the filters
mailops.mailman.list_address_forms and list_id in plugins/filter).
"""

from __future__ import annotations

import re

from ansible_collections.mailops.mailman.plugins.module_utils.mailman_input import is_hostname

# A list's local part uses the listname_chars the mailman3 role configures
# ([-_.0-9a-z]); it must start with a letter or digit, or the -join/-leave
# forms read as options to some tools. Always fullmatch: with match() and
# '$', a trailing newline slips through.
LIST_LOCAL_RE = re.compile(r'[a-z0-9][-_.a-z0-9]*', re.IGNORECASE)

# Mailman's per-list addresses besides the posting address
# (mailman.mta.aliases.SUBDESTINATIONS): LIST-<form>@DOMAIN.
SUBDESTINATIONS = ('bounces', 'confirm', 'join', 'leave', 'owner', 'request',
                   'subscribe', 'unsubscribe')
# The name this module gives the plain LIST@DOMAIN among the forms.
POSTING = 'posting'
# Every form name, posting first.
FORMS = (POSTING,) + SUBDESTINATIONS
# Mailman mails a confirmation from, and takes the reply at, LIST-confirm+TOKEN@DOMAIN
# (and VERPs bounces to LIST-bounces+...@DOMAIN); the token follows this.
TOKEN_SEPARATOR = '+'
CONFIRM_MARK = '-confirm' + TOKEN_SEPARATOR


def is_list_address(value):
    """listname@host, as Mailman on a host set up by the mailman3 role accepts it."""
    if not isinstance(value, str) or value.count('@') != 1:
        return False
    local, host = value.split('@')
    return bool(LIST_LOCAL_RE.fullmatch(local)) and is_hostname(host)


def split_address(address):
    """(listname, domain) of a list address, lowercased as Mailman stores them.

    Raises ValueError for anything is_list_address refuses.
    """
    if not is_list_address(address):
        raise ValueError('%r is not a list address (LIST@DOMAIN)' % (address,))
    local, _at, domain = address.rpartition('@')
    return local.lower(), domain.lower()


def list_id(address):
    """The List-Id Mailman gives the list (and names its data directory by): rg@local.edu -> rg.local.edu."""
    return '%s.%s' % split_address(address)


def form_address(address, form, token=None):
    """Mailman's `form` address of the list (a name from FORMS), with +token when given."""
    if form not in FORMS:
        raise ValueError('%r is not one of Mailman\'s address forms (%s)' % (form, ', '.join(FORMS)))
    local, domain = split_address(address)
    if form != POSTING:
        local = '%s-%s' % (local, form)
    if token is not None:
        local = '%s%s%s' % (local, TOKEN_SEPARATOR, token)
    return '%s@%s' % (local, domain)


def address_forms(address):
    """Every form of the list, by name, and confirm_prefix: the local part
    that starts the address of each confirmation Mailman sends (LIST-confirm+)."""
    forms = dict((form, form_address(address, form)) for form in FORMS)
    forms['confirm_prefix'] = split_address(address)[0] + CONFIRM_MARK
    return forms


def form_of(address, list_address):
    """Which of the list's forms `address` is (LIST-confirm+TOKEN is 'confirm'),
    or None when it is no form of this list (another list's, say)."""
    name, domain = split_address(list_address)
    local, _at, adomain = (address or '').lower().rpartition('@')
    if adomain != domain:
        return None
    if local == name:
        return POSTING
    if not local.startswith(name + '-'):
        return None
    rest = local[len(name) + 1:].split(TOKEN_SEPARATOR, 1)[0]
    return rest if rest in SUBDESTINATIONS else None


def confirm_token(local_part):
    """The TOKEN of a LIST-confirm+TOKEN local part, or None when it is not one."""
    _head, mark, token = (local_part or '').partition(CONFIRM_MARK)
    return token if mark else None
