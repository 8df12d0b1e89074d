#!/usr/bin/python
# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mailman_list
short_description: Manage a Mailman 3 mailing list and its settings
description:
  - Create or remove a mailing list in Mailman 3 core and set any of its configuration
    attributes through the REST API (C(/lists/<list_id>/config)).
  - Only attributes whose value differs are changed, all in one request, so an invalid
    value leaves the list exactly as it was.
extends_documentation_fragment:
  - mailops.mailman.attributes
  - mailops.mailman.mailman_rest
options:
  address:
    description:
      - The list's posting address, C(listname@mail.host).
      - The domain C(mail.host) must already exist (see M(mailops.mailman.mailman_domain)).
    type: str
    required: true
    aliases: [fqdn_listname]
  settings:
    description:
      - List configuration attributes to set, by their REST API names, for example
        C(subscription_policy), C(unsubscription_policy), C(display_name), C(description),
        C(subject_prefix), C(default_member_action), C(default_nonmember_action),
        C(dmarc_mitigate_action), C(max_message_size), C(archive_policy).
      - Values are compared after converting them to the type the REST API returns for the
        attribute (integer, boolean, list, string), so C("40") and C(40) are the same.
      - Give values in the form the REST API returns them (for example C(7d) for periods),
        otherwise every run reports a change.
      - Attributes not named here are left as they are.
      - An unknown or read-only attribute, or a value Mailman rejects, fails the task
        without changing anything.
      - A CR, LF or NUL in any value (or key) is refused before anything is sent, as Mailman
        would put it into a mail header and shunt every message carrying it. C(info), which
        only appears in message bodies and web pages, may contain line breaks (not NUL).
      - Integer values must be from 0 to 2147483647.
    type: dict
    default: {}
  state:
    description:
      - Whether the list should exist.
      - V(absent) deletes the list with its members and held messages.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details:
      - For a list that does not exist yet, check mode cannot ask Mailman to validate
        O(settings); they are reported as given.
  diff_mode:
    support: full
author:
  - mailops.mailman contributors (@mailops)
"""

EXAMPLES = r"""
- name: Create an open list
  mailops.mailman.mailman_list:
    address: reading-group@local.edu
    settings:
      subscription_policy: open
      unsubscription_policy: confirm
      display_name: Reading group
      max_message_size: 100
  become: true

- name: Remove a list
  mailops.mailman.mailman_list:
    address: old-list@local.edu
    state: absent
  become: true
"""

RETURN = r"""
list:
  description:
    - All configuration attributes of the list after the task, as the REST API returns them.
    - Empty when the list does not exist.
  returned: always
  type: dict
  sample:
    fqdn_listname: reading-group@local.edu
    subscription_policy: open
    max_message_size: 100
changes:
  description: The attributes that were (or in check mode would be) changed, with their old and new value.
  returned: always
  type: dict
  sample:
    subscription_policy:
      before: confirm
      after: open
"""

from urllib.error import HTTPError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_input import unsafe_message
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_rest import (
    MailmanREST,
    check_list_address,
    http_error_text,
    mailman_rest_argument_spec,
)

MAX_INT = 2 ** 31 - 1
# Settings that only ever appear in message bodies and web pages, never in a
# header: line breaks are their point. NUL is refused in them all the same.
MULTILINE_SETTINGS = ('info',)


def unsafe_settings_message(settings):
    """Refuse CR/LF/NUL in any setting (and NUL in the multi-line ones) before Mailman sees it."""
    header_bound = {k: v for k, v in settings.items() if k not in MULTILINE_SETTINGS}
    message = unsafe_message('settings', header_bound)
    if message:
        return message
    nul = [k for k in MULTILINE_SETTINGS if '\x00' in str(settings.get(k, ''))]
    if nul:
        return 'settings.%s: NUL in the value; nothing was changed' % nul[0]
    return None


def normalise(value, current):
    """Convert value to the type REST returns for the attribute (that of current).

    Raises ValueError or TypeError when value cannot be of that type.
    """
    if value is None:
        raise ValueError('the REST API cannot set an attribute to null')
    # bool before int: bool is a subclass of int.
    if isinstance(current, bool):
        try:
            return boolean(value, strict=True)
        except TypeError:
            raise ValueError('expected a boolean') from None
    if isinstance(current, int):
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError('expected an integer')
        number = int(value)
        # Mailman's integer settings are counts and sizes; PostgreSQL's INTEGER
        # column refuses more than 2**31-1 with a server error, mid-request.
        if not 0 <= number <= MAX_INT:
            raise ValueError('expected an integer from 0 to %d' % MAX_INT)
        return number
    if isinstance(current, float):
        number = float(value)
        if not 0 <= number <= MAX_INT:
            raise ValueError('expected a number from 0 to %d' % MAX_INT)
        return number
    if isinstance(current, list):
        if not isinstance(value, list):
            raise ValueError('expected a list')
        return [str(item) for item in value]
    if isinstance(current, str):
        if isinstance(value, (dict, list)):
            raise ValueError('expected a string')
        return str(value)
    return value


def compute_changes(config, wanted):
    """Return ({attribute: {before, after}}, [error messages]) for wanted vs config."""
    changes, errors = {}, []
    for attribute, value in sorted(wanted.items()):
        if attribute not in config:
            errors.append('unknown attribute %s (value %r)' % (attribute, value))
            continue
        try:
            value = normalise(value, config[attribute])
        # OverflowError: int() of an infinite float (1e400 in YAML).
        except (TypeError, ValueError, OverflowError) as exc:
            errors.append('invalid value %r for %s: %s' % (value, attribute, exc))
            continue
        if value != config[attribute]:
            changes[attribute] = dict(before=config[attribute], after=value)
    return changes, errors


def apply_changes(mlist, changes):
    """PATCH all changes in one request; return an error message or None."""
    settings = mlist.settings
    for attribute, change in changes.items():
        try:
            settings[attribute] = change['after']
        except ValueError:
            # mailmanclient refuses read-only attributes before sending anything.
            return 'read-only attribute %s (value %r)' % (attribute, change['after'])
    try:
        settings.save()
    except HTTPError as exc:
        text = http_error_text(exc)
        # Mailman names the offending attributes; repeat the values we sent for them.
        named = [a for a in changes if a in text] or list(changes)
        return '%s (requested: %s)' % (
            text, ', '.join('%s=%r' % (a, changes[a]['after']) for a in named))
    return None


def make_diff(address, existed, exists, changes):
    """Diff of the changed attributes; a list coming or going shows as its name."""
    before = {a: c['before'] for a, c in changes.items()} if existed else {}
    after = {a: c['after'] for a, c in changes.items()} if exists else {}
    if existed != exists:
        (before if existed else after)['fqdn_listname'] = address
    header = 'list %s' % address
    return dict(before=before, after=after, before_header=header, after_header=header)


def main():
    argument_spec = mailman_rest_argument_spec()
    argument_spec.update(
        address=dict(type='str', required=True, aliases=['fqdn_listname']),
        settings=dict(type='dict', default={}),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    address = check_list_address(module, module.params['address'])
    wanted = module.params['settings']
    unsafe = unsafe_settings_message(wanted)
    if unsafe:
        module.fail_json(msg='list %s not changed: %s' % (address, unsafe))
    state = module.params['state']

    rest = MailmanREST(module)
    mlist = rest.get_list(address)
    before = {} if mlist is None else dict(mlist.settings)
    changes = {}
    created = would_create = False

    if state == 'absent':
        after = {}
        if mlist is not None and not module.check_mode:
            mlist.delete()
    elif mlist is None:
        listname, mail_host = address.split('@')
        domain = rest.get_domain(mail_host)
        if domain is None and not module.check_mode:
            module.fail_json(msg='cannot create list %s: domain %s does not exist in Mailman; '
                                 'create it first with mailops.mailman.mailman_domain'
                                 % (address, mail_host))
        if module.check_mode:
            # In check mode an earlier mailman_domain task may only have
            # reported the domain it would create: report the list the same way.
            if domain is None:
                module.warn('domain %s does not exist yet; a real run creates list %s only '
                            'if the domain is created first' % (mail_host, address))
            would_create = True
            # Without the list there is nothing to compare or validate against.
            changes = {a: dict(before=None, after=v) for a, v in sorted(wanted.items())}
            after = dict(wanted, fqdn_listname=address)
        else:
            try:
                mlist = domain.create_list(listname)
            except HTTPError as exc:
                module.fail_json(msg='Mailman refused to create list %s: %s'
                                     % (address, http_error_text(exc)))
            created = True
    if mlist is not None and state == 'present':
        config = dict(mlist.settings)
        changes, errors = compute_changes(config, wanted)
        if not errors and changes and not module.check_mode:
            error = apply_changes(mlist, changes)
            errors = [error] if error else []
        if errors:
            msg = 'list %s not changed: %s' % (address, '; '.join(errors))
            if created:
                # Leave no half-configured list behind: nothing changed means nothing created.
                mlist.delete()
                msg = 'list %s not created: %s' % (address, '; '.join(errors))
            module.fail_json(msg=msg)
        if module.check_mode:
            after = dict(config, **{a: c['after'] for a, c in changes.items()})
        else:
            after = dict(mlist.settings) if changes else config

    changed = created or would_create or bool(changes) or (state == 'absent' and bool(before))
    result = dict(changed=changed, list=after, changes=changes)
    if module._diff:
        result['diff'] = make_diff(address, bool(before), state == 'present', changes)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
