#!/usr/bin/python
# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mailman_member
short_description: Manage members, owners and moderators of a Mailman 3 list
description:
  - Add or remove addresses in one role of a Mailman 3 mailing list through the REST API.
  - Reports the list's pending subscription requests, those still waiting for the
    subscriber's confirmation or a moderator's approval.
extends_documentation_fragment:
  - mailops.mailman.attributes
  - mailops.mailman.mailman_rest
options:
  list:
    description:
      - The list's posting address, C(listname@mail.host).
      - The list must exist (see M(mailops.mailman.mailman_list)).
    type: str
    required: true
  addresses:
    description:
      - The addresses to add or remove.
      - Each is an email address, or a dict with C(address) and optionally C(display_name).
      - All are checked before anything changes; a non-ASCII address, or a CR, LF or NUL in a
        C(display_name) (Mailman would put it into headers and shunt every notice to that
        member), fails the task with nothing changed.
      - C(display_name) is used when the address is added; an existing member's name is not changed.
    type: list
    elements: raw
    default: []
  role:
    description:
      - The roster the addresses belong to.
    type: str
    choices: [member, owner, moderator]
    default: member
  state:
    description:
      - Whether the addresses should be in the roster of O(role).
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), also remove every address of O(role) that is not in O(addresses).
      - Addresses are added before any is removed, so a failure part-way never leaves the
        roster emptied.
      - With an empty O(addresses) this would remove everyone, so it is refused unless
        O(allow_empty=true).
    type: bool
    default: false
  allow_empty:
    description:
      - Allow O(exclusive=true) with an empty O(addresses), which removes every address of O(role).
    type: bool
    default: false
  pre_verified:
    description:
      - Treat the added members' addresses as verified, so Mailman sends no verification mail.
      - Only for O(role=member).
    type: bool
    default: true
  pre_confirmed:
    description:
      - Treat the subscription (or, with O(state=absent), the unsubscription) as confirmed
        by the member, so Mailman sends no confirmation mail.
      - Only for O(role=member).
    type: bool
    default: true
  pre_approved:
    description:
      - Treat the subscription (or unsubscription) as approved by a moderator, even when the
        list's policy asks for moderation.
      - Only for O(role=member).
    type: bool
    default: true
  send_welcome_message:
    description:
      - Send the list's welcome message to added members.
      - Only for O(role=member).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - mailops.mailman contributors (@mailops)
"""

EXAMPLES = r"""
- name: Make admin the owner of the list
  mailops.mailman.mailman_member:
    list: reading-group@local.edu
    role: owner
    addresses: [admin@local.edu]
  become: true

- name: Subscribe exactly these members, without confirmation mails
  mailops.mailman.mailman_member:
    list: reading-group@local.edu
    addresses:
      - alice@local.edu
      - address: bob@local.edu
        display_name: Bob
    exclusive: true
  become: true

- name: Let a member subscribe the normal way (confirmation mail, moderation per list policy)
  mailops.mailman.mailman_member:
    list: reading-group@local.edu
    addresses: [carol@example.org]
    pre_verified: false
    pre_confirmed: false
    pre_approved: false
  become: true
"""

RETURN = r"""
added:
  description:
    - Addresses added to the roster (or that would be, in check mode).
    - Subscriptions that Mailman holds for confirmation or approval are in RV(pending) instead.
  returned: always
  type: list
  elements: str
  sample: [alice@local.edu]
removed:
  description: Addresses removed from the roster (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [mallory@local.edu]
addresses:
  description: The addresses in the roster of O(role) after the task.
  returned: always
  type: list
  elements: str
  sample: [alice@local.edu, bob@local.edu]
pending:
  description:
    - The list's subscription requests waiting for the subscriber (C(token_owner=subscriber))
      or a moderator (C(token_owner=moderator)), after the task.
  returned: always
  type: list
  elements: dict
  sample:
    - email: carol@example.org
      display_name: ''
      token_owner: subscriber
      request_date: '2026-01-01T10:00:00'
"""

from urllib.error import HTTPError

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_input import is_email, unsafe_message
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_rest import (
    MailmanREST,
    check_list_address,
    http_error_text,
    mailman_rest_argument_spec,
)


def parse_addresses(module, items):
    """Return [(email, display_name)] from strings and {address, display_name} dicts.

    Every item is checked before the first request, so one bad entry changes
    nothing (with exclusive, it would otherwise come after the removals).
    """
    parsed, bad = [], []
    for index, item in enumerate(items):
        if isinstance(item, dict) and set(item) <= {'address', 'display_name'} \
                and isinstance(item.get('address'), str) and item['address'] \
                and isinstance(item.get('display_name', ''), (str, type(None))):
            email, name = item['address'], item.get('display_name')
        elif isinstance(item, str):
            email, name = item, None
        else:
            bad.append('%r is neither an email address nor a dict with address and optionally '
                       'a display_name string' % (item,))
            continue
        email = email.strip()
        if not is_email(email):
            bad.append('%r is not an email address (ASCII local@host.name)' % (email,))
        unsafe = unsafe_message('addresses[%d].display_name' % index, name)
        if unsafe:
            bad.append(unsafe)
        # Mailman compares addresses case-insensitively and lists them lowercased.
        parsed.append((email.lower(), name))
    if bad:
        module.fail_json(msg='addresses: nothing was changed: %s' % '; '.join(bad))
    return parsed


def add(module, mlist, role, email, name):
    """Add email to the roster; return the pending request Mailman made instead, if any."""
    params = module.params
    if role != 'member':
        mlist.add_role(role, email, name)
        return None
    response = mlist.subscribe(
        email, display_name=name,
        pre_verified=params['pre_verified'], pre_confirmed=params['pre_confirmed'],
        pre_approved=params['pre_approved'],
        send_welcome_message=params['send_welcome_message'])
    # mailmanclient returns the request (a dict with a token) when Mailman
    # waits for confirmation or approval, and a Member object otherwise.
    return response if isinstance(response, dict) else None


def remove(module, mlist, role, email):
    if role != 'member':
        mlist.remove_role(role, email)
    else:
        mlist.unsubscribe(email, pre_confirmed=module.params['pre_confirmed'],
                          pre_approved=module.params['pre_approved'])


def main():
    argument_spec = mailman_rest_argument_spec()
    argument_spec.update(
        list=dict(type='str', required=True),
        addresses=dict(type='list', elements='raw', default=[]),
        role=dict(type='str', choices=['member', 'owner', 'moderator'], default='member'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        exclusive=dict(type='bool', default=False),
        pre_verified=dict(type='bool', default=True),
        pre_confirmed=dict(type='bool', default=True),
        pre_approved=dict(type='bool', default=True),
        send_welcome_message=dict(type='bool', default=False),
        allow_empty=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    address = check_list_address(module, module.params['list'], option='list')
    declared = parse_addresses(module, module.params['addresses'])
    if module.params['exclusive'] and module.params['state'] == 'present' and not declared \
            and not module.params['allow_empty']:
        module.fail_json(msg='exclusive: true with no addresses would remove every %s of %s; '
                             'set allow_empty: true if that is what you want'
                             % (module.params['role'], address))
    role = module.params['role']
    state = module.params['state']

    rest = MailmanREST(module)
    if module.check_mode and rest.get_list(address) is None:
        # The list may be one an earlier task only reported it would create:
        # then every declared address would be added.
        module.warn('list %s does not exist yet; a real run fails unless it is created first' % address)
        adding = sorted(e for e, _name in declared) if state == 'present' else []
        module.exit_json(changed=bool(adding), added=adding, removed=[], pending=[], addresses=adding)
    mlist = rest.require_list(address)
    current = sorted(m.email.lower() for m in mlist.get_roster(role))
    pending_emails = {r['email'].lower() for r in rest.pending_requests(mlist)}
    declared_emails = {email for email, _name in declared}

    if state == 'present':
        # An address already waiting for confirmation is not subscribed again:
        # Mailman would refuse, and the request is reported in `pending`.
        to_add = [(e, n) for e, n in declared if e not in current
                  and not (role == 'member' and e in pending_emails)]
        to_remove = [e for e in current if e not in declared_emails] if module.params['exclusive'] else []
    else:
        to_add = []
        to_remove = [e for e in current if e in declared_emails]

    added, removed, now_pending = [], [], []
    if not module.check_mode:
        # Additions first: if Mailman refuses one, the roster has grown, not
        # been emptied (with exclusive, removals would otherwise come first).
        doing = 'change the roster'
        try:
            for email, name in to_add:
                doing = 'add %s' % email
                if add(module, mlist, role, email, name) is None:
                    added.append(email)
                else:
                    now_pending.append(email)
            for email in to_remove:
                doing = 'remove %s' % email
                remove(module, mlist, role, email)
                removed.append(email)
        except (HTTPError, ValueError) as exc:
            text = http_error_text(exc) if isinstance(exc, HTTPError) else str(exc)
            module.fail_json(msg='Mailman refused to %s as %s of %s: %s'
                                 % (doing, role, address, text),
                             added=added, removed=removed)
        after = sorted(m.email.lower() for m in mlist.get_roster(role))
    else:
        added, removed = [e for e, _name in to_add], to_remove
        after = sorted(set(current) - set(removed) | set(added))

    result = dict(changed=bool(added or removed or now_pending), added=added, removed=removed,
                  addresses=after, pending=rest.pending_requests(mlist))
    if module._diff:
        header = '%s roster of %s' % (role, address)
        result['diff'] = dict(before=''.join(e + '\n' for e in current),
                              after=''.join(e + '\n' for e in after),
                              before_header=header, after_header=header)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
