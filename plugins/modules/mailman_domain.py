#!/usr/bin/python
# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mailman_domain
short_description: Manage a Mailman 3 mail domain
description:
  - Create, update or remove a mail domain in Mailman 3 core through its REST API.
  - Mailing lists can only be created in an existing domain.
extends_documentation_fragment:
  - mailops.mailman.attributes
  - mailops.mailman.mailman_rest
options:
  name:
    description:
      - The mail host, the part after the C(@) of the lists' addresses.
      - Must be a host name (ASCII letters, digits and C(-) in dot-separated labels).
    type: str
    required: true
    aliases: [mail_host]
  description:
    description:
      - Human readable description of the domain. Line breaks and NUL are refused.
      - Left as it is when not given.
    type: str
  alias_domain:
    description:
      - Alternate domain Postfix uses for the lists' transport maps. Must be a host name.
      - Left as it is when not given.
    type: str
  state:
    description:
      - Whether the domain should exist.
      - V(absent) makes Mailman delete every mailing list of the domain as well.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - mailops.mailman contributors (@mailops)
"""

EXAMPLES = r"""
- name: Create the list domain
  mailops.mailman.mailman_domain:
    name: local.edu
    description: Lists of local.edu
  become: true

- name: Remove a domain and all its lists
  mailops.mailman.mailman_domain:
    name: old.example.org
    state: absent
  become: true
"""

RETURN = r"""
domain:
  description: The domain after the task; empty when it does not exist.
  returned: always
  type: dict
  sample:
    mail_host: local.edu
    description: Lists of local.edu
    alias_domain: null
"""

from urllib.error import HTTPError

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_input import is_hostname, unsafe_message
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_rest import (
    MailmanREST,
    http_error_text,
    mailman_rest_argument_spec,
)

FIELDS = ('mail_host', 'description', 'alias_domain')


def domain_dict(domain):
    return {} if domain is None else {field: getattr(domain, field) for field in FIELDS}


def check_input(module, name, wanted):
    """Refuse what Mailman would store but never serve (or never let go of) before asking it."""
    # Mailman takes any string: '' and 'x/../y' are created, and the latter
    # can never be deleted through REST again.
    if not is_hostname(name):
        module.fail_json(msg='name=%r is not a host name (letters, digits and - in dot-separated '
                             'labels, as in lists.example.org); nothing was changed' % name)
    if wanted.get('alias_domain') and not is_hostname(wanted['alias_domain']):
        module.fail_json(msg='alias_domain=%r is not a host name; nothing was changed' % wanted['alias_domain'])
    unsafe = unsafe_message('description', wanted.get('description'))
    if unsafe:
        module.fail_json(msg=unsafe)


def main():
    argument_spec = mailman_rest_argument_spec()
    argument_spec.update(
        name=dict(type='str', required=True, aliases=['mail_host']),
        description=dict(type='str'),
        alias_domain=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    name = module.params['name'].lower()
    state = module.params['state']
    wanted = {key: module.params[key] for key in ('description', 'alias_domain')
              if module.params[key] is not None}
    check_input(module, name, wanted)

    rest = MailmanREST(module)
    domain = rest.get_domain(name)
    before = domain_dict(domain)

    if state == 'absent':
        after = {}
    elif domain is None:
        after = dict({field: None for field in FIELDS}, mail_host=name, **wanted)
    else:
        after = dict(before, **wanted)
    changed = before != after

    if changed and not module.check_mode:
        try:
            if state == 'absent':
                rest.client.delete_domain(name)
            elif domain is None:
                rest.client.create_domain(name, **wanted)
            else:
                for key, value in wanted.items():
                    setattr(domain, key, value)
                domain.save()
        except HTTPError as exc:
            module.fail_json(msg='Mailman refused to %s domain %s with %r: %s'
                             % ('delete' if state == 'absent' else 'save', name, wanted,
                                http_error_text(exc)))
        after = domain_dict(rest.get_domain(name))

    result = dict(changed=changed, domain=after)
    if module._diff:
        result['diff'] = dict(before=before, after=after,
                              before_header='domain %s' % name, after_header='domain %s' % name)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
