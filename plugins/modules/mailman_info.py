#!/usr/bin/python
# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mailman_info
short_description: Read domains, mailing lists and pending requests from Mailman 3
description:
  - Read the domains, the mailing lists with all their settings and roster sizes, and
    the pending subscription requests from Mailman 3 core through its REST API.
  - Changes nothing.
extends_documentation_fragment:
  - mailops.mailman.attributes
  - mailops.mailman.mailman_rest
options:
  list:
    description:
      - Only report this list, given by its posting address C(listname@mail.host).
      - RV(lists) is empty when it does not exist.
    type: str
  members:
    description:
      - Also return each list's member addresses (RV(lists[].members)).
      - Off by default because a large list has a large roster.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details:
      - The module only reads, so it runs normally in check mode.
  diff_mode:
    support: none
author:
  - mailops.mailman contributors (@mailops)
"""

EXAMPLES = r"""
- name: Read the Mailman state
  mailops.mailman.mailman_info:
  become: true
  register: mailman

- name: Show who waits for approval on the reading group
  mailops.mailman.mailman_info:
    list: reading-group@local.edu
  become: true
  register: reading_group

- name: Fail if subscriptions wait for a moderator
  ansible.builtin.assert:
    that: reading_group.lists[0].pending | selectattr('token_owner', '==', 'moderator') | list | length == 0
"""

RETURN = r"""
domains:
  description: All mail domains.
  returned: always
  type: list
  elements: dict
  sample:
    - mail_host: local.edu
      description: Lists of local.edu
      alias_domain: null
lists:
  description: The mailing lists (only O(list) when given), sorted by address.
  returned: always
  type: list
  elements: dict
  contains:
    fqdn_listname:
      description: The list's posting address.
      type: str
    settings:
      description: All configuration attributes, as the REST API returns them.
      type: dict
    member_count:
      description: Number of members.
      type: int
    owner_count:
      description: Number of owners.
      type: int
    moderator_count:
      description: Number of moderators.
      type: int
    pending:
      description: Subscription requests waiting for the subscriber or a moderator.
      type: list
      elements: dict
    members:
      description: Addresses of the regular members, sorted.
      returned: when O(members=true)
      type: list
      elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_rest import (
    MailmanREST,
    check_list_address,
    mailman_rest_argument_spec,
)


def list_info(rest, mlist, members=False):
    info = dict(
        fqdn_listname=mlist.fqdn_listname,
        settings=dict(mlist.settings),
        member_count=mlist.member_count,
        owner_count=len(mlist.owners),
        moderator_count=len(mlist.moderators),
        pending=rest.pending_requests(mlist),
    )
    if members:
        info['members'] = sorted(m.email for m in mlist.members)
    return info


def main():
    argument_spec = mailman_rest_argument_spec()
    argument_spec.update(list=dict(type='str'), members=dict(type='bool', default=False))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    only = module.params['list']
    if only:
        only = check_list_address(module, only, option='list')

    rest = MailmanREST(module)
    domains = [dict(mail_host=d.mail_host, description=d.description, alias_domain=d.alias_domain)
               for d in rest.client.domains]
    if only:
        mlist = rest.get_list(only)
        mlists = [] if mlist is None else [mlist]
    else:
        mlists = rest.client.lists
    lists = sorted((list_info(rest, m, module.params['members']) for m in mlists),
                   key=lambda item: item['fqdn_listname'])
    module.exit_json(changed=False, domains=domains, lists=lists)


if __name__ == '__main__':
    main()
