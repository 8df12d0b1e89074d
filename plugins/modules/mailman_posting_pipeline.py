#!/usr/bin/python
# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mailman_posting_pipeline
short_description: Move every Mailman 3 list off one posting pipeline
description:
  - Set the C(posting_pipeline) of every mailing list in Mailman 3 (not only
    the ones a playbook manages) that uses O(old) to O(new), through Mailman's
    REST API.
  - Run it before the pipeline O(old) goes away (a plugin removed from
    mailman.cfg). Mailman shunts every post to a list whose pipeline does not
    exist, while joins and leaves keep working.
  - Mailman refuses O(new) unless it is a pipeline it has loaded.
extends_documentation_fragment:
  - mailops.mailman.attributes
  - mailops.mailman.mailman_rest
options:
  old:
    description: The pipeline no list may use afterwards.
    type: str
    required: true
  new:
    description: The pipeline those lists get instead.
    type: str
    default: default-posting-pipeline
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author:
  - mailops.mailman contributors (@mailops)
"""

EXAMPLES = r"""
- name: Put every list back on Mailman's own posting pipeline
  mailops.mailman.mailman_posting_pipeline:
    old: mailops-posting-pipeline
  become: true
"""

RETURN = r"""
lists:
  description: The lists that used O(old) (and, unless in check mode, now use O(new)), sorted.
  returned: always
  type: list
  elements: str
  sample: [reading-group@local.edu]
"""

from urllib.error import HTTPError

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_input import unsafe_message
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_rest import (
    MailmanREST,
    http_error_text,
    mailman_rest_argument_spec,
)


def main():
    argument_spec = mailman_rest_argument_spec()
    argument_spec.update(
        old=dict(type='str', required=True),
        new=dict(type='str', default='default-posting-pipeline'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    old, new = module.params['old'], module.params['new']
    for option in ('old', 'new'):
        unsafe = unsafe_message(option, module.params[option])
        if unsafe:
            module.fail_json(msg=unsafe)
    if old == new:
        module.fail_json(msg='old and new are both %r; nothing was changed' % old)

    rest = MailmanREST(module)
    moved = []
    for mlist in rest.client.lists:
        settings = mlist.settings
        if settings['posting_pipeline'] != old:
            continue
        moved.append(mlist.fqdn_listname)
        if module.check_mode:
            continue
        settings['posting_pipeline'] = new
        try:
            settings.save()
        except HTTPError as exc:
            module.fail_json(msg='Mailman refused posting_pipeline=%r for %s: %s (lists moved so far: %s)'
                             % (new, mlist.fqdn_listname, http_error_text(exc), moved[:-1]),
                             lists=sorted(moved[:-1]))
    module.exit_json(changed=bool(moved), lists=sorted(moved))


if __name__ == '__main__':
    main()
