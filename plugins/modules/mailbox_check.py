#!/usr/bin/python
# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mailbox_check
short_description: Wait until list subscribers' mailboxes hold a message, or prove they do not
description:
  - Looks into each subscriber's local mailbox (an mbox file such as C(/var/mail/alice)
    or a Maildir) for messages matching all given criteria.
  - With O(state=present) it polls until every subscriber has at least O(copies) matching
    messages or O(timeout) runs out, then fails naming who is missing the message and
    who got duplicates (more than O(copies)).
  - With O(state=absent) it checks once, immediately, that nobody has a match.
  - Read-only. A mailbox is never created or written. A missing mbox file or Maildir
    just means no messages yet. Large mboxes are streamed, and only messages whose
    raw headers could match are fully parsed.
  - An mbox is read under a shared C(fcntl) lock, the lock Postfix local(8) holds
    exclusively while it appends (Debian's C(mailbox_delivery_lock = fcntl, dotlock)),
    so a half-written message is never counted. While the lock is held, local(8)
    retries and, if needed, defers the delivery; it never bounces it. The dotlock
    (C(NAME.lock)) is honoured but never created, since creating it writes to the
    spool; a dotlock younger than 500 seconds (Postfix's C(stale_lock_time)) makes
    the look wait.
  - A Maildir needs no lock. A delivery is written in C(tmp/) and renamed into
    C(new/), so only C(new/) and C(cur/) are read.
  - The module usually runs as root on other users' mailboxes, so what is in a mailbox
    must not make it read anything else. Only regular files are opened, never
    through a symbolic link; a mailbox path or Maildir entry that is a symbolic
    link, FIFO, device or socket fails the task with a message naming it, and is
    not read. A line is read in pieces of at most 1 MiB; a header block over 1 MiB
    or a matching message over 64 MiB fails the task (Postfix's
    C(header_size_limit) and C(message_size_limit) are far below).
  - A mailbox must be inside O(mail_spool) or inside the home directory of a regular
    account (UID 1000 and up, as Debian's C(adduser) numbers them), where Maildirs
    live; anything else needs O(allow_outside_spool=true).
author:
  - mailops.mailman contributors (@mailops)
extends_documentation_fragment:
  - mailops.mailman.attributes
options:
  subscribers:
    description:
      - Whose mailboxes to look into.
    type: list
    elements: dict
    required: true
    suboptions:
      address:
        description:
          - Subscriber address, used in results and messages.
        type: str
        required: true
      mailbox:
        description:
          - Path of an mbox file or a Maildir directory.
        type: path
        required: true
      format:
        description:
          - Mailbox format. V(auto) takes a directory with C(cur/) or C(new/) as a Maildir
            and a file as an mbox.
        type: str
        choices: [auto, mbox, maildir]
        default: auto
  message_id:
    description:
      - Message-ID the message must have, with or without angle brackets.
      - The fastest criterion on large mailboxes.
    type: str
  subject_contains:
    description:
      - Text the decoded Subject must contain (case-insensitive).
    type: str
  from_contains:
    description:
      - Text the decoded From header must contain (case-insensitive).
    type: str
  header:
    description:
      - A header that must contain a text (case-insensitive), on any of its occurrences.
    type: dict
    suboptions:
      name:
        description: Header name.
        type: str
        required: true
      value:
        description: Text the decoded header value must contain.
        type: str
        required: true
  ignore_message_ids:
    description:
      - Messages with these Message-IDs are never matches, for example to tell a leave
        confirmation from the join confirmation received earlier.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) waits until every subscriber has the message; V(absent) checks once
        that nobody has it.
    type: str
    choices: [present, absent]
    default: present
  copies:
    description:
      - Matching messages each subscriber must have with O(state=present); more counts as
        duplicates and fails.
    type: int
    default: 1
  timeout:
    description:
      - Seconds to wait with O(state=present).
      - Also bounds each look, O(state=absent) too. A look still reading a mailbox or
        waiting for its lock when the time is up stops and fails, naming the mailbox.
        A look always gets at least 10 seconds, so V(0) still means "look once, do
        not wait" even on a large mailbox.
    type: float
    default: 30
  interval:
    description:
      - Seconds between two looks into the mailboxes. Must be more than V(0).
    type: float
    default: 0.2
  mail_spool:
    description:
      - Directory Postfix delivers mbox files to (C(postconf mail_spool_directory)).
      - Mailboxes inside it, or inside a regular user's home directory, are read;
        others need O(allow_outside_spool).
    type: path
    default: /var/mail
  allow_outside_spool:
    description:
      - Read mailboxes outside O(mail_spool) and outside regular users' home directories.
      - The other protections (regular files only, no symbolic links) still hold.
    type: bool
    default: false
  settle:
    description:
      - With O(state=present), once everyone has the message, wait this many seconds
        and look once more, so that a duplicate arriving just after the first copy
        is caught too. V(0) returns at once.
    type: float
    default: 0
  expected_body:
    description:
      - Text the first text/plain part must start with, after decoding, normalising line
        endings and stripping trailing whitespace on both sides. Starts-with because
        Mailman appends the list footer.
      - With O(state=present) the wait also goes on until the matches meet it, since an
        mbox may be read in the middle of a delivery.
    type: str
  expected_body_sha256:
    description:
      - SHA-256 (hex) the normalised first text/plain part must have exactly; compare with
        RV(results[].matches[].body_sha256).
    type: str
notes:
  - A criterion that matches most messages (for example O(from_contains) alone) makes
    every such message be parsed; prefer O(message_id) on big mailboxes.
  - Mailboxes are usually readable only by their owner, so run with C(become).
attributes:
  check_mode:
    support: full
    details: The module never changes anything, so it runs the same in check mode.
  diff_mode:
    support: none
seealso:
  - module: mailops.mailman.lmtp_probe
"""

EXAMPLES = r"""
- name: Wait for the probe post in every subscriber's mailbox
  mailops.mailman.mailbox_check:
    subscribers:
      - address: alice@example.org
        mailbox: /var/mail/alice
      - address: bob@example.org
        mailbox: /home/bob/Maildir
    message_id: "{{ probe.message_id }}"
    expected_body: "{{ probe_body }}"
    timeout: 60
  become: true

- name: Find the join confirmation and its token
  mailops.mailman.mailbox_check:
    subscribers:
      - address: carol@example.org
        mailbox: /var/mail/carol
    from_contains: reading-group-confirm+
  become: true
  register: join

- name: Confirm by replying to the confirm address
  community.general.mail:
    host: 127.0.0.1
    port: 25
    from: carol@example.org
    to: "{{ join.results[0].matches[0].confirm_address }}"
    subject: "confirm {{ join.results[0].matches[0].confirm_token }}"
    body: ""

- name: The leave confirmation, not the earlier join confirmation
  mailops.mailman.mailbox_check:
    subscribers:
      - address: carol@example.org
        mailbox: /var/mail/carol
    from_contains: reading-group-confirm+
    ignore_message_ids: "{{ join.results[0].matches | map(attribute='message_id') }}"
  become: true

- name: A moderated post must not have reached anyone
  mailops.mailman.mailbox_check:
    subscribers: "{{ list_subscribers }}"
    subject_contains: held post probe
    state: absent
  become: true
"""

RETURN = r"""
results:
  description: One entry per subscriber, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: Subscriber address.
      type: str
    mailbox:
      description: Mailbox path.
      type: str
    format:
      description: Format used (V(mbox) or V(maildir)); null when the mailbox does not exist.
      type: str
    found:
      description: Whether at least one matching message is there.
      type: bool
    copies:
      description: Number of matching messages.
      type: int
    body_intact:
      description:
        - Whether every match meets O(expected_body) and O(expected_body_sha256);
          false when there is no match; null when neither option is given.
      type: bool
    matches:
      description: Matching messages, in mailbox order, headers decoded.
      type: list
      elements: dict
      contains:
        message_id:
          description: Message-ID header.
          type: str
        from:
          description: From header.
          type: str
        to:
          description: To header.
          type: str
        subject:
          description: Subject header.
          type: str
        date:
          description: Date header.
          type: str
        confirm_address:
          description: Reply-To or From address whose local part contains C(-confirm+), else null.
          type: str
          sample: reading-group-confirm+0123abcd@lists.example.org
        confirm_token:
          description: Part of RV(results[].matches[].confirm_address)'s local part after C(+).
          type: str
          sample: 0123abcd
        body_sha256:
          description: SHA-256 of the normalised first text/plain part; null when there is none.
          type: str
missing:
  description: Subscribers without the message (O(state=present)) or with it (O(state=absent)).
  returned: always
  type: list
  elements: str
duplicates:
  description: Subscribers with more than O(copies) matches (O(state=present)).
  returned: always
  type: list
  elements: str
body_altered:
  description: Subscribers whose matches do not meet the body expectation.
  returned: always
  type: list
  elements: str
elapsed:
  description: Seconds spent looking.
  returned: always
  type: float
"""

import math
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mailops.mailman.plugins.module_utils.durations import seconds
from ansible_collections.mailops.mailman.plugins.module_utils.mailbox import (
    Criteria,
    MailboxError,
    MailboxTimeout,
    body_intact,
    check_location,
    describe,
    find_matches,
)

# Even timeout: 0 ("look once") must be able to read a large mbox once.
MIN_LOOK = 10.0


def look(subscribers, criteria, expected_body, expected_sha, deadline=None, parents=None):
    """parents: the real parent directory check_location approved, per subscriber."""
    results = []
    for index, sub in enumerate(subscribers):
        fmt, msgs = find_matches(sub["mailbox"], sub["format"], criteria, deadline,
                                 parent=parents[index] if parents else None)
        intact = None
        if expected_body is not None or expected_sha:
            intact = bool(msgs) and all(body_intact(m, expected_body, expected_sha) for m in msgs)
        results.append(dict(
            address=sub["address"], mailbox=sub["mailbox"], format=fmt,
            found=bool(msgs), copies=len(msgs), body_intact=intact,
            matches=[describe(m) for m in msgs],
        ))
    return results


def verdict(results, state, copies):
    """Return (missing, duplicates, body_altered) address lists."""
    if state == "absent":
        return [r["address"] for r in results if r["found"]], [], []
    missing = [r["address"] for r in results if r["copies"] < copies]
    duplicates = [r["address"] for r in results if r["copies"] > copies]
    altered = [r["address"] for r in results if r["found"] and r["body_intact"] is False]
    return missing, duplicates, altered


def failure_message(results, state, copies, timeout, missing, duplicates, altered):
    by_address = dict((r["address"], r) for r in results)
    if state == "absent":
        return "message found but expected absent: %s" % ", ".join(
            "%s (%d in %s)" % (a, by_address[a]["copies"], by_address[a]["mailbox"]) for a in missing)
    parts = []
    if missing:
        parts.append("missing after %ss for %s" % (seconds(timeout), ", ".join(
            "%s (%d of %d in %s)" % (a, by_address[a]["copies"], copies, by_address[a]["mailbox"])
            for a in missing)))
    if duplicates:
        parts.append("duplicates for %s" % ", ".join(
            "%s (%d copies, expected %d)" % (a, by_address[a]["copies"], copies) for a in duplicates))
    if altered:
        parts.append("body not as expected for %s" % ", ".join(altered))
    return "; ".join(parts) + (
        ": see the Postfix log (journalctl -u postfix, /var/log/mail.log) and "
        "/var/log/mailman3/smtp.log")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            subscribers=dict(type="list", elements="dict", required=True, options=dict(
                address=dict(type="str", required=True),
                mailbox=dict(type="path", required=True),
                format=dict(type="str", default="auto", choices=["auto", "mbox", "maildir"]),
            )),
            message_id=dict(type="str"),
            subject_contains=dict(type="str"),
            from_contains=dict(type="str"),
            header=dict(type="dict", options=dict(
                name=dict(type="str", required=True),
                value=dict(type="str", required=True),
            )),
            ignore_message_ids=dict(type="list", elements="str", default=[]),
            mail_spool=dict(type="path", default="/var/mail"),
            allow_outside_spool=dict(type="bool", default=False),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            copies=dict(type="int", default=1),
            timeout=dict(type="float", default=30),
            interval=dict(type="float", default=0.2),
            settle=dict(type="float", default=0),
            expected_body=dict(type="str"),
            expected_body_sha256=dict(type="str"),
        ),
        required_one_of=[("message_id", "subject_contains", "from_contains", "header")],
        supports_check_mode=True,
    )
    p = module.params
    if p["copies"] < 1:
        module.fail_json(msg="copies must be at least 1, got %d" % p["copies"])
    for name, least in (("timeout", 0), ("settle", 0), ("interval", None)):
        value = p[name]
        if not math.isfinite(value) or value < 0 or (least is None and value == 0):
            module.fail_json(msg="%s must be a number of seconds %s, got %r" % (
                name, "above 0" if least is None else "of 0 or more", value))

    started = time.monotonic()
    result = dict(changed=False, results=[], missing=[], duplicates=[], body_altered=[])
    try:
        if not p["allow_outside_spool"]:
            parents = [check_location(sub["mailbox"], p["mail_spool"]) for sub in p["subscribers"]]
        else:
            parents = None
        criteria = Criteria(p["message_id"], p["subject_contains"], p["from_contains"],
                            p["header"], p["ignore_message_ids"])
        deadline = started + p["timeout"]
        while True:
            look_deadline = max(deadline, time.monotonic() + MIN_LOOK)
            results = look(p["subscribers"], criteria, p["expected_body"],
                           p["expected_body_sha256"], look_deadline, parents)
            missing, duplicates, altered = verdict(results, p["state"], p["copies"])
            # Only a missing message or a half-written mbox body can still change
            # by waiting; a duplicate never goes away, so it does not extend the wait.
            if p["state"] == "absent" or not (missing or altered) or time.monotonic() >= deadline:
                break
            time.sleep(max(0.0, min(p["interval"], deadline - time.monotonic())))
        if p["state"] == "present" and p["settle"] > 0 and not (missing or duplicates or altered):
            time.sleep(p["settle"])
            look_deadline = max(deadline, time.monotonic() + MIN_LOOK)
            results = look(p["subscribers"], criteria, p["expected_body"],
                           p["expected_body_sha256"], look_deadline, parents)
            missing, duplicates, altered = verdict(results, p["state"], p["copies"])
    except MailboxTimeout as e:
        elapsed = time.monotonic() - started
        result["elapsed"] = round(elapsed, 3)
        module.fail_json(msg="gave up after %.1fs (timeout %ss): %s" % (
            elapsed, seconds(p["timeout"]), e), **result)
    except MailboxError as e:
        result["elapsed"] = round(time.monotonic() - started, 3)
        module.fail_json(msg=str(e), **result)

    result.update(results=results, missing=missing, duplicates=duplicates, body_altered=altered,
                  elapsed=round(time.monotonic() - started, 3))
    if missing or duplicates or altered:
        module.fail_json(msg=failure_message(results, p["state"], p["copies"], p["timeout"],
                                             missing, duplicates, altered), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
