#!/usr/bin/python
# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""smtp_probe: check a running smtpd greets and accepts the given recipients."""

from __future__ import annotations

DOCUMENTATION = r"""
module: smtp_probe
short_description: Check that an SMTP server greets and accepts RCPT for given addresses
description:
  - Opens an SMTP session, sends EHLO, C(MAIL FROM:<>) and one RCPT TO per address,
    then RSET and QUIT. No message is ever sent.
  - Fails unless the greeting is 220 and every RCPT is answered 250. A restriction
    that Postfix cannot evaluate (a misspelt one) answers C(451 4.3.5) and fails the probe.
extends_documentation_fragment:
  - mailops.mailman.attributes
options:
  host:
    description: Server to probe.
    type: str
    default: 127.0.0.1
  port:
    description: TCP port, 1 to 65535.
    type: int
    default: 25
  recipients:
    description: Addresses that must be accepted at RCPT.
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds for the connection and each reply, 1 to 300.
    type: int
    default: 10
author:
  - mailops.mailman contributors (@mailops)
attributes:
  check_mode:
    support: full
    details: Read-only; runs in check mode too.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Check Postfix accepts mail for the postmaster
  mailops.mailman.smtp_probe:
    recipients: [postmaster@example.org]
"""

RETURN = r"""
greeting:
  description: The server's greeting, code and text.
  returned: when connected
  type: str
answers:
  description: RCPT answer per recipient, C("250 2.1.5 Ok").
  returned: always
  type: dict
"""

import smtplib

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_input import is_email


def probe(host, port, recipients, timeout):
    """Return (greeting, {recipient: "code text"}); raise OSError/SMTPException on no session."""
    answers = {}
    smtp = smtplib.SMTP(timeout=timeout)
    try:
        code, text = smtp.connect(host, port)
        greeting = "%d %s" % (code, text.decode("utf-8", "replace"))
        if code != 220:
            return greeting, answers
        smtp.ehlo("mailops-probe.invalid")
        code, text = smtp.mail("")
        if code != 250:
            answers["MAIL FROM:<>"] = "%d %s" % (code, text.decode("utf-8", "replace"))
            return greeting, answers
        for rcpt in recipients:
            code, text = smtp.rcpt(rcpt)
            answers[rcpt] = "%d %s" % (code, text.decode("utf-8", "replace"))
        smtp.rset()
        return greeting, answers
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type="str", default="127.0.0.1"),
            port=dict(type="int", default=25),
            recipients=dict(type="list", elements="str", required=True),
            timeout=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not 1 <= p["port"] <= 65535:
        module.fail_json(msg="port must be 1 to 65535, got %d" % p["port"])
    if not 1 <= p["timeout"] <= 300:
        module.fail_json(msg="timeout must be 1 to 300 seconds, got %d" % p["timeout"])
    bad = [r for r in p["recipients"] if not is_email(r)]
    if bad:
        module.fail_json(msg="not an address: %r" % bad)
    try:
        greeting, answers = probe(p["host"], p["port"], p["recipients"], p["timeout"])
    except (TimeoutError, OSError, smtplib.SMTPException) as e:
        module.fail_json(msg="no SMTP session with %s:%d (%s); is postfix running? see journalctl -u postfix@-"
                         % (p["host"], p["port"], e), answers={})
    refused = {k: v for k, v in answers.items() if not v.startswith("250")}
    if not greeting.startswith("220") or refused or len(answers) < len(p["recipients"]):
        module.fail_json(msg="SMTP probe of %s:%d failed: greeting %r, refused %s"
                         % (p["host"], p["port"], greeting, refused or "-"),
                         greeting=greeting, answers=answers)
    module.exit_json(changed=False, greeting=greeting, answers=answers)


if __name__ == "__main__":
    main()
