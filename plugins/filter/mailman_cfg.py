# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mailman_cfg_section: module_utils/mailman_cfg.py (the one reader of mailman.cfg) for tasks.

Documented in mailman_cfg_section.yml beside this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.mailops.mailman.plugins.module_utils import mailman_cfg


def mailman_cfg_section(text, name, defaults=True):
    try:
        parser = mailman_cfg.parse(text or '', source='mailman.cfg')
    except mailman_cfg.Error as e:
        # Line numbers only: the text of a line may be the REST password.
        lines = sorted({str(n) for n, _text in getattr(e, 'errors', ())} | {str(getattr(e, 'lineno', '') or '')} - {''})
        raise AnsibleFilterError('mailman_cfg_section: mailman.cfg cannot be parsed (%s, line %s)'
                                 % (type(e).__name__, ', '.join(lines) or '?')) from None
    if defaults:
        return mailman_cfg.section(parser, name)
    return dict(parser.items(name)) if parser.has_section(name) else {}


class FilterModule:
    def filters(self):
        return {'mailman_cfg_section': mailman_cfg_section}
