#!/usr/bin/python
# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: lmtp_probe
short_description: Check that Mailman's LMTP runner answers and accepts list addresses
description:
  - Connects to the LMTP endpoint Postfix hands list mail to (Mailman's C(lmtp) runner),
    checks the greeting and C(LHLO), then asks C(MAIL FROM) / C(RCPT TO) for each address
    and ends with C(RSET), so nothing is delivered.
  - With O(deliver=true) a real probe message is sent with C(DATA) to each address in
    O(addresses) and its Message-ID is returned, so a later
    M(mailops.mailman.mailbox_check) can wait for the copies.
  - Failures say what was seen and where to look next (connection refused, timeout,
    unexpected greeting, unknown list).
author:
  - mailops.mailman contributors (@mailops)
extends_documentation_fragment:
  - mailops.mailman.attributes
options:
  host:
    description:
      - Host the LMTP runner listens on (Mailman's C([mta] lmtp_host)).
      - An absolute path is taken as a Unix socket.
    type: str
    default: 127.0.0.1
  port:
    description:
      - TCP port of the LMTP runner (Mailman's C([mta] lmtp_port)).
    type: int
    default: 8024
  timeout:
    description:
      - Seconds to wait for the connection and for each reply; more than V(0), at most
        a day (V(86400)).
    type: float
    default: 10
  addresses:
    description:
      - Recipient addresses to check with C(RCPT TO), usually list posting addresses.
      - When empty, only the greeting and C(LHLO) are checked.
      - Each must be C(LOCAL@DOMAIN) in ASCII, without spaces, angle brackets or control
        characters. Mailman's LMTP runner does not offer C(SMTPUTF8), so give an
        internationalised domain in its IDNA form (C(xn--...)); the failure message
        shows it.
    type: list
    elements: str
    default: []
  list_forms:
    description:
      - Treat each address C(L@D) as a list and also check C(L-join@D), C(L-leave@D),
        C(L-request@D), C(L-owner@D), C(L-bounces@D) and C(L-confirm+probe@D)
        (Mailman accepts any C(-confirm+TOKEN) at C(RCPT)).
      - The extra forms are only checked with C(RCPT), never delivered to.
      - Each address must then be a list address (the rule of the
        C(mailops.mailman.list_address) test); the forms are written lowercased, as
        Mailman stores list names.
    type: bool
    default: false
  mail_from:
    description:
      - Envelope sender used for C(MAIL FROM); the same rules as O(addresses), or V("")
        for the null sender.
    type: str
    default: lmtp-probe@localhost
  deliver:
    description:
      - Send a real probe message to each address in O(addresses), one LMTP transaction
        per address, all with the same Message-ID.
      - Only done when every C(RCPT) check passed. Skipped in check mode.
    type: bool
    default: false
  subject:
    description:
      - Subject of the probe message sent with O(deliver=true).
    type: str
    default: lmtp probe
  body:
    description:
      - Plain-text body of the probe message sent with O(deliver=true).
    type: str
    default: "This is a delivery probe sent by mailops.mailman.lmtp_probe.\n"
attributes:
  check_mode:
    support: full
    details:
      - The C(RCPT) checks run in check mode too (they are read-only); O(deliver) is
        skipped and C(changed) reports what would have happened.
  diff_mode:
    support: none
notes:
  - Uses only the Python standard library (C(smtplib.LMTP)) on the target.
seealso:
  - module: mailops.mailman.mailbox_check
"""

EXAMPLES = r"""
- name: Check that Mailman accepts the list and all its command addresses
  mailops.mailman.lmtp_probe:
    addresses:
      - reading-group@lists.example.org
    list_forms: true

- name: Send a probe post through LMTP
  mailops.mailman.lmtp_probe:
    addresses:
      - reading-group@lists.example.org
    mail_from: alice@example.org
    deliver: true
    subject: "probe {{ ansible_date_time.epoch }}"
  register: probe

- name: Wait for every subscriber to get it
  mailops.mailman.mailbox_check:
    subscribers:
      - address: bob@example.org
        mailbox: /var/mail/bob
    message_id: "{{ probe.message_id }}"
"""

RETURN = r"""
banner:
  description: Greeting text of the LMTP server (without the code).
  returned: when connected
  type: str
  sample: mail.example.org GNU Mailman LMTP runner 2.0
lhlo:
  description: Extensions announced in the C(LHLO) reply.
  returned: when LHLO succeeded
  type: list
  elements: str
  sample: [PIPELINING, 8BITMIME, SIZE 33554432]
latency_ms:
  description: Milliseconds from connecting until the C(LHLO) reply was read.
  returned: when LHLO succeeded
  type: float
  sample: 3.2
results:
  description: One entry per checked address (after O(list_forms) expansion), in order.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: Address given to C(RCPT TO).
      type: str
    code:
      description: SMTP reply code to C(RCPT TO).
      type: int
      sample: 250
    message:
      description: Reply text to C(RCPT TO).
      type: str
    accepted:
      description: Whether the reply code was 250 or 251.
      type: bool
all_accepted:
  description: Whether every address was accepted (true when there were none).
  returned: always
  type: bool
message_id:
  description: Message-ID of the probe message; null when nothing was delivered.
  returned: always
  type: str
  sample: <lmtp-probe.1700000000.1a2b3c@mail.example.org>
delivered:
  description: Addresses the probe message was delivered to, with the reply code to C(DATA).
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: Recipient.
      type: str
    code:
      description: Reply code to C(DATA).
      type: int
    message:
      description: Reply text to C(DATA).
      type: str
"""

import email.policy
import math
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mailops.mailman.plugins.module_utils.lmtp import (
    LMTPError,
    Session,
    refusals,
    where,
)
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_address import (
    address_forms,
    form_address,
)
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_input import UNSAFE_CHARS

# The forms list_forms checks, in this order; -confirm with a made-up token,
# which Mailman accepts at RCPT.
LIST_FORMS = ("posting", "join", "leave", "request", "owner", "bounces")
CONFIRM_TOKEN = "probe"
# A day: anything longer is a typo, and the socket layer refuses values near time_t's limit.
MAX_TIMEOUT = 86400
# smtplib sends commands as they are: a CR or LF would end the command early
# and start another one (command injection); NUL ends strings in C servers.
# The characters are the collection's one set (module_utils/mailman_input).
_CONTROL = UNSAFE_CHARS


class ProbeError(Exception):
    pass


def expand_list_forms(addresses):
    forms = []
    for address in addresses:
        try:
            named = address_forms(address)
        except ValueError as e:
            raise ProbeError("%s: list_forms needs LIST@DOMAIN" % e) from e
        for form in [named[f] for f in LIST_FORMS] + [form_address(address, "confirm", CONFIRM_TOKEN)]:
            if form not in forms:
                forms.append(form)
    return forms


def build_probe(mail_from, addresses, subject, body):
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = ", ".join(addresses)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    domain = mail_from.rpartition("@")[2] or None
    msg["Message-ID"] = make_msgid("lmtp-probe", domain=domain)
    msg.set_content(body)
    return msg


def deliver(session, mail_from, addresses, msg):
    # CRLF line endings: smtplib would otherwise add a stray CRLF after the final LF.
    content = msg.as_bytes(policy=email.policy.SMTP)
    delivered = []
    for address in addresses:
        code, reply = session.send(mail_from, address, content)
        delivered.append(dict(address=address, code=code, message=reply))
    return delivered


def _controls(value):
    return any(c in value for c in _CONTROL)


def _idna_hint(address):
    local, _at, domain = address.rpartition("@")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return ""
    if not local.isascii() or ascii_domain == domain:
        return "; a non-ASCII local part cannot be probed over LMTP"
    return "; give the domain in its IDNA form: %s@%s" % (local, ascii_domain)


def check_address(option, value, allow_empty=False):
    """Return why value cannot go into MAIL FROM/RCPT TO, or None."""
    if value == "" and allow_empty:
        return None  # the null sender, <>
    if _controls(value):
        return "%s %r contains a CR, LF or NUL, which would end the LMTP command early" % (
            option, value)
    if not value.isascii():
        # smtplib would die with UnicodeEncodeError; SMTPUTF8 is not offered
        # by Mailman's LMTP runner, so there is nothing to negotiate.
        return "%s %r is not ASCII and LMTP without SMTPUTF8 cannot carry it%s" % (
            option, value, _idna_hint(value))
    if not value or any(c.isspace() for c in value) or "<" in value or ">" in value:
        return "%s %r is not an address: it is empty or holds spaces or angle brackets" % (
            option, value)
    if "@" not in value[1:-1]:
        return "%s %r is not an address: expected LOCAL@DOMAIN" % (option, value)
    return None


def check_host(host):
    if not host:
        return "host is empty: give the LMTP runner's host or a Unix socket path"
    if _controls(host) or any(c.isspace() for c in host):
        return "host %r contains spaces or control characters" % host
    if host.startswith("/"):
        return None
    try:
        # What the resolver will do anyway, but there a bad name is a
        # UnicodeError deep in socket.create_connection.
        host.encode("idna")
    except UnicodeError as e:
        return "host %r is not a valid host name (%s): check [mta] lmtp_host" % (host, e)
    return None


def check_params(p):
    """Return the first reason the parameters cannot make a probe, or None."""
    timeout = p["timeout"]
    if not (math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT):
        return "timeout must be more than 0 and at most %d seconds, got %r" % (
            MAX_TIMEOUT, timeout)
    problem = check_host(p["host"])
    if problem:
        return problem
    # The resolver would quietly wrap 70000 to 4464 and probe the wrong port.
    if not 0 < p["port"] < 65536 and not p["host"].startswith("/"):
        return "port must be 1-65535, got %d" % p["port"]
    problem = check_address("mail_from", p["mail_from"], allow_empty=True)
    if problem:
        return problem
    for i, address in enumerate(p["addresses"]):
        problem = check_address("addresses[%d]" % i, address)
        if problem:
            return problem
    if _controls(p["subject"]):
        return "subject %r contains a CR, LF or NUL: a header cannot hold it" % p["subject"]
    if "\0" in p["body"]:
        return "body contains a NUL character, which mail cannot carry"
    return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type="str", default="127.0.0.1"),
            port=dict(type="int", default=8024),
            timeout=dict(type="float", default=10),
            addresses=dict(type="list", elements="str", default=[]),
            list_forms=dict(type="bool", default=False),
            mail_from=dict(type="str", default="lmtp-probe@localhost"),
            deliver=dict(type="bool", default=False),
            subject=dict(type="str", default="lmtp probe"),
            body=dict(type="str", default="This is a delivery probe sent by mailops.mailman.lmtp_probe.\n"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, results=[], all_accepted=False, message_id=None, delivered=[])
    problem = check_params(p)
    if problem:
        module.fail_json(msg=problem, **result)

    session = Session(p["host"], p["port"], p["timeout"])
    try:
        addresses = expand_list_forms(p["addresses"]) if p["list_forms"] else list(p["addresses"])
        session.open()
        result.update(banner=session.banner, lhlo=session.extensions, latency_ms=session.latency_ms)
        result["results"] = session.recipients(p["mail_from"], addresses)
        result["all_accepted"] = all(r["accepted"] for r in result["results"])
        problem = refusals(result["results"])
        if problem:
            module.fail_json(msg=problem, **result)
        if p["deliver"] and p["addresses"]:
            result["changed"] = True
            if not module.check_mode:
                msg = build_probe(p["mail_from"], p["addresses"], p["subject"], p["body"])
                result["message_id"] = msg["Message-ID"]
                result["delivered"] = deliver(session, p["mail_from"], p["addresses"], msg)
    except (ProbeError, LMTPError) as e:
        module.fail_json(msg=str(e), **result)
    except ValueError as e:
        # Input is checked up front; this is the last line against a traceback
        # (smtplib and the resolver raise ValueError/UnicodeError for what they cannot encode).
        module.fail_json(msg="LMTP probe of %s stopped on a value it cannot use: %s: %s"
                         % (where(p["host"], p["port"]), type(e).__name__, e), **result)
    finally:
        session.close()

    module.exit_json(**result)


if __name__ == "__main__":
    main()
