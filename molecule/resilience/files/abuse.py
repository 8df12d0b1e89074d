#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Mail abuse against a list, each case bounded, and what reached the victims counted.

bomb        --count forged join messages "From:" --victim (envelope sender
            --forger) to --to (a LIST-join address): the list must answer
            the victim at most --bound times (Mailman's
            max_autoresponses_per_day), not once per forged join.
self-loop   one post from --member to --list, which has among its members
            an address that forwards to the list and the list's own -bounces
            address: the member must get the post once, and the list must
            not send it round again.
responder   one post from --member to --list, which has a member whose
            auto-responder (--responder-log written by autoreply.py) answers
            every message to the list, marked Auto-Submitted: auto-replied
            as RFC 3834 asks: the member must get the post once, and the
            responder's answers must not be distributed.

Waits until the mail system is idle and no watched mailbox has grown for
--settle seconds (at most --timeout), then counts. Prints JSON: case, sent,
the mail each watched mailbox received, bound, within (the bound held),
evidence (Mailman's log lines that show the defence acted).
Bounded: at most --count messages, every wait has a timeout.
"""
import argparse
import json
import os
import re
import smtplib
import sys
import time
import uuid
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from count import idle  # noqa: E402  (the scripts sit side by side on the host)
from mid_broadcast import log_offset, log_since  # noqa: E402

LOG = "/var/log/mailman3/mailman.log"


def messages_in(mailbox):
    try:
        with open(mailbox, "rb") as f:
            return sum(1 for line in f if line.startswith(b"From "))
    except FileNotFoundError:
        return 0


def settle(mailboxes, queue_dir, quiet, timeout):
    """Wait until the queues are empty and the mailboxes unchanged for `quiet` seconds."""
    deadline = time.time() + timeout
    last, since = None, time.time()
    while time.time() < deadline:
        now = [messages_in(m) for m in mailboxes] + list(idle(queue_dir))
        if now != last:
            last, since = now, time.time()
        elif sum(idle(queue_dir)) == 0 and time.time() - since >= quiet:
            return True
        time.sleep(0.5)
    return False


def message(sender, to, subject, body):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = "<%s@abuse.test>" % uuid.uuid4()
    msg.set_content(body)
    return msg


def send(msgs, envelope_sender=None):
    with smtplib.SMTP("127.0.0.1", 25, timeout=30) as smtp:
        for msg in msgs:
            smtp.send_message(msg, from_addr=envelope_sender)
    return len(msgs)


def bomb(args):
    box = "/var/mail/" + args.victim.split("@")[0]
    before, offset = messages_in(box), log_offset(LOG)
    sent = send([message(args.victim, args.to, "join", "join\n") for _n in range(args.count)], args.forger)
    settled = settle([box], args.queue_dir, args.settle, args.timeout)
    got = messages_in(box) - before
    discarded = re.findall(r"command message from %s .* discarded" % re.escape(args.victim), log_since(LOG, offset))
    return {"case": "subscription bomb: %d forged joins for %s" % (sent, args.victim), "sent": sent,
            "received": {args.victim: got}, "bound": args.bound, "settled": settled,
            "within": settled and got <= args.bound,
            "evidence": "%d command messages discarded past the daily limit" % len(discarded)}


def one_post(args, case, watched):
    boxes = ["/var/mail/" + a.split("@")[0] for a in watched]
    before, offset = [messages_in(b) for b in boxes], log_offset(LOG)
    msg = message(args.member, args.list, "abuse %s %s" % (case, uuid.uuid4().hex[:8]), "One post, once.\n")
    send([msg])
    settled = settle(boxes, args.queue_dir, args.settle, args.timeout)
    got = {a: messages_in(b) - n for a, b, n in zip(watched, boxes, before, strict=True)}
    drops = re.findall(r"discarded by mailops-drop-loop on [^:]+: (.*)", log_since(LOG, offset))
    return {"sent": 1, "received": got, "settled": settled, "drops": drops}


def self_loop(args):
    result = one_post(args, "self-loop", [args.member])
    return dict(result, bound=1,
                case="list subscribed to itself (a member forwarding to it) and to its own -bounces address",
                within=result["settled"] and result["received"][args.member] == 1,
                evidence="posts discarded as loops: %d (%s)"
                         % (len(result["drops"]), "; ".join(sorted(set(result["drops"])))))


def lines_in(path):
    """Lines in a file the responder writes as its own user (none yet: 0)."""
    try:
        with open(path, encoding="ascii") as f:
            return sum(1 for _line in f)
    except FileNotFoundError:
        return 0


def responder(args):
    answered_before = lines_in(args.responder_log)
    result = one_post(args, "responder", [args.member, args.responder])
    answered = lines_in(args.responder_log) - answered_before
    return dict(result, case="a member's auto-responder answering every message to the list", bound=1,
                within=(result["settled"] and result["received"][args.member] == 1
                        and result["received"][args.responder] == 1 and answered == 1),
                evidence="the responder answered %d time(s); posts discarded as loops: %d (%s)"
                         % (answered, len(result["drops"]), "; ".join(sorted(set(result["drops"])))))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("case", choices=["bomb", "self-loop", "responder"])
    p.add_argument("--to", help="bomb: the LIST-join address")
    p.add_argument("--victim", help="bomb: the forged From:")
    p.add_argument("--forger", help="bomb: the envelope sender")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--bound", type=int, default=10)
    p.add_argument("--list", help="self-loop, responder: the list's posting address")
    p.add_argument("--member", help="self-loop, responder: who posts")
    p.add_argument("--responder", help="responder: the member whose responder answers")
    p.add_argument("--responder-log", help="responder: the file autoreply.py appends to")
    p.add_argument("--settle", type=float, default=8)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--queue-dir", default="/var/lib/mailman3/queue")
    args = p.parse_args()
    if args.count > 500:
        p.error("--count is at most 500")
    if args.case == "responder" and not args.responder_log:
        p.error("responder needs --responder-log")
    action = {"bomb": bomb, "self-loop": self_loop, "responder": responder}[args.case]
    print(json.dumps(action(args)))


if __name__ == "__main__":
    main()
