# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Connection options shared by every module that talks to the Mailman 3 REST API.
    DOCUMENTATION = r'''
attributes:
  action_group:
    description: Use C(group/mailops.mailman.mailman_rest) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - mailops.mailman.mailman_rest
options:
  api_url:
    description:
      - Base URL of the Mailman core REST API, including the API version.
      - When not set, built as C(http://HOSTNAME:PORT/3.1) from the C([webservice]) section
        of O(config_file) (C(https) if C(use_https) is true there).
    type: str
  api_user:
    description:
      - REST API user name.
      - When not set, C(admin_user) from the C([webservice]) section of O(config_file).
    type: str
  api_password:
    description:
      - REST API password.
      - When not set, C(admin_pass) from the C([webservice]) section of O(config_file).
    type: str
  config_file:
    description:
      - Mailman core configuration file to read the REST address and credentials from,
        for whichever of O(api_url), O(api_user) and O(api_password) are not given.
      - Keys missing from its C([webservice]) section take Mailman's own defaults
        (C(localhost), C(8001), C(restadmin), C(restpass)).
      - It is readable only by root and the C(list) group on Debian, so tasks usually need C(become).
    type: path
    default: /etc/mailman3/mailman.cfg
  timeout:
    description:
      - Seconds to wait for each REST request before giving up.
    type: int
    default: 30
requirements:
  - mailmanclient (Debian package C(python3-mailmanclient)) on the target
notes:
  - The modules talk to the REST API of Mailman core, so C(mailman3) must be running on the target.
'''
