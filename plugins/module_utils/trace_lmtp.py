# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The trace's lmtp hop: Mailman's LMTP runner answers and accepts the list.

The dialogue is module_utils/lmtp.py's, the one LMTP client; this only turns
its answer into a hop. RCPT only: nothing is delivered.
"""

from __future__ import annotations

import os

from ansible_collections.mailops.mailman.plugins.module_utils.lmtp import (
    LMTPError,
    Session,
    refusals,
)
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_address import address_forms
from ansible_collections.mailops.mailman.plugins.module_utils.trace_hop import hop

# The forms asked at RCPT: the ones a member's post, join and leave go to.
ASKED_FORMS = ("posting", "join", "leave")


def check_lmtp(list_address, host, port, timeout=10, mail_from="mailman-trace@localhost",
               log_dir="/var/log/mailman3"):
    """Connect, LHLO, MAIL FROM, RCPT per list form, RSET, QUIT: nothing is delivered."""
    name = "lmtp"
    mailman_log = os.path.join(log_dir, "mailman.log")
    look = "systemctl status mailman3; %s; [mta] lmtp_host/lmtp_port" % mailman_log
    forms = address_forms(list_address)
    detail = []
    failed = None
    with Session(host, port, timeout, mailman_log) as session:
        try:
            session.open()
            results = session.recipients(mail_from, [forms[f] for f in ASKED_FORMS])
        except LMTPError as e:
            failed = e
    if session.banner is not None:
        detail.append("greeting: %s" % session.banner)
    if failed is not None:
        if failed.step == "greeting":
            look = "ss -ltnp | grep %s: is something else on that port?" % port
        return hop(name, False, str(failed), detail, look_at=look)
    detail.extend("RCPT TO:<%s> → %s %s" % (r["address"], r["code"], r["message"]) for r in results)
    problem = refusals(results)
    if problem:
        return hop(name, False, problem, detail,
                   look_at="mailman-wrapper lists (is the list created, in this domain?)")
    return hop(name, True, "%s accepts RCPT for %s" % (session.where, list_address), detail,
               look_at=look)
