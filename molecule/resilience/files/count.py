#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Count, in every subscriber's mbox, the copies of each post blast.py sent.

Waits until every subscriber has every post and the mail system is idle (Postfix
queue empty, Mailman's in/pipeline/out/retry/virgin queues empty), or --timeout
runs out; then waits --settle seconds more and counts again, so a late duplicate
is seen too. Read-only: mailboxes are only read.
With --bounces MBOX, a post that came back to its sender in a delivery status
notification (in that mbox) counts as bounced, with the reason, not as lost:
a clean rejection after SMTP acceptance.
Every copy's text must begin with the body blast.py sent (Mailman may append
a footer): a copy that does not counts as corrupted.
Prints JSON: posts, subscribers, expected, delivered, lost, duplicated,
corrupted, bounced, what is still queued, shunted or left half-done in
Mailman's queues (.bak, .tmp, bad/), why each shunted message was shunted
(from mailman.log), and the first few (mailbox, message_id, copies) that are
wrong.
"""
import argparse
import collections
import email.policy
import glob
import hashlib
import json
import mailbox
import os
import re
import subprocess
import time

MID = re.compile(rb"(?im)^Message-ID:[ \t]*<([^>\r\n]+)>")
MAILMAN_QUEUES = ["in", "pipeline", "out", "retry", "virgin", "command"]
# A mailman.log record: "Dec 03 17:22:34 2026 (477) text".
LOG_RECORD = re.compile(r"\w{3} \d{2} \d{2}:\d{2}:\d{2} \d{4} \((\d+)\) (.*)")


def scan(mailboxes, expected):
    """Copies per Message-ID, from each message's own header only: a bounce
    quotes the original's headers in its body, and that is not a copy."""
    counts = {}
    for mb in mailboxes:
        c = collections.Counter()
        try:
            with open(mb, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = b""
        for message in re.split(rb"(?m)^From ", data):
            header = re.split(rb"\r?\n\r?\n", message, maxsplit=1)[0]
            for m in MID.finditer(header):
                mid = m.group(1).decode("ascii", "replace")
                if mid in expected:
                    c[mid] += 1
        counts[mb] = c
    return counts


def messages(path):
    """(Message-ID, raw bytes) of each message in an mbox, from its own header."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return
    for chunk in re.split(rb"(?m)^From ", data):
        raw = chunk.split(b"\n", 1)[1] if b"\n" in chunk else b""
        header = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
        m = MID.search(header)
        if m:
            yield m.group(1).decode("ascii", "replace"), raw


def corrupted(mailboxes, bodies):
    """Copies whose text does not begin with the body that was sent."""
    bad = []
    for mb in mailboxes:
        for mid, raw in messages(mb):
            if mid not in bodies:
                continue
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            part = msg.get_body(("plain",))
            # MIME's canonical line end is CRLF: a re-encoded part may keep it.
            text = (part.get_content() if part is not None else "").replace("\r\n", "\n")
            if not text.startswith(bodies[mid]):
                bad.append([mb, mid, hashlib.sha256(text.encode()).hexdigest()[:12]])
    return bad


def leftovers(queue_dir):
    """Half-done or failed entries in Mailman's queues."""
    return sorted(glob.glob(os.path.join(queue_dir, "*", "*.bak"))
                  + glob.glob(os.path.join(queue_dir, "*", "*.tmp"))
                  + glob.glob(os.path.join(queue_dir, "bad", "*")))


def shunt_reasons(queue_dir, log_path):
    """[reason, count] for the messages in Mailman's shunt queue, from mailman.log.

    A runner logs the exception and its traceback, then "SHUNTING: <file>";
    a message for a list it cannot find is logged without the file's name.
    """
    shunted = {os.path.splitext(os.path.basename(f))[0] for f in glob.glob(os.path.join(queue_dir, "shunt", "*"))}
    if not shunted:
        return []
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as error:
        return [["mailman.log unreadable: %s" % error, len(shunted)]]
    reasons = collections.Counter()
    found = set()
    missing_list = 0
    # Per process (its pid in each record's prefix; a traceback's lines have
    # none and belong to the record before): the exception's message from
    # "Uncaught runner exception", and the traceback's last line (its class).
    uncaught, tail = {}, {}
    pid = None
    for line in lines:
        record = LOG_RECORD.match(line)
        if record:
            pid, line = record.groups()
        m = re.match(r"Uncaught runner exception: (.*)", line)
        if m:
            uncaught[pid], tail[pid] = m.group(1)[:160], None
        elif not record and re.match(r"[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b", line):
            tail[pid] = line[:160]
        m = re.match(r"SHUNTING: (\S+)", line)
        if m and m.group(1) in shunted:
            found.add(m.group(1))
            reasons[tail.pop(pid, None) or uncaught.pop(pid, None) or "no exception logged before it"] += 1
        # Logged without the file's name: counted as seen in the whole log.
        m = re.search(r"shunting message for missing list: (.*)", line)
        if m:
            reasons["list not found: " + m.group(1)[:80]] += 1
            missing_list += 1
    unexplained = len(shunted - found) - missing_list
    if unexplained > 0:
        reasons["not named in mailman.log"] += unexplained
    return [[reason, n] for reason, n in reasons.most_common()]


def tally(counts, expected):
    lost = duplicated = delivered = 0
    wrong = []
    for mb, c in counts.items():
        for mid in expected:
            n = c.get(mid, 0)
            if n == 0:
                lost += 1
            else:
                delivered += 1
                duplicated += n - 1
            if n != 1 and len(wrong) < 10:
                wrong.append([mb, mid, n])
    return delivered, lost, duplicated, wrong


def bounces(path, expected):
    """{message_id: diagnostic} for each post a DSN in mbox `path` returns."""
    found = {}
    if not path or not os.path.exists(path):
        return found
    for msg in mailbox.mbox(path, factory=lambda f: email.message_from_binary_file(f, policy=email.policy.default)):
        if "mailer-daemon" not in str(msg.get("From", "")).lower():
            continue
        text = msg.as_bytes().decode("utf-8", "replace")
        for mid in expected:
            if "<%s>" % mid in text:
                diag = re.search(r"(?im)^Diagnostic-Code:\s*(.+)$", text)
                found[mid] = diag.group(1).strip() if diag else "returned to sender"
    return found


def idle(queue_dir):
    out = subprocess.run(["postqueue", "-j"], capture_output=True, text=True, check=False).stdout
    postfix = len([line for line in out.splitlines() if line.strip()])
    mailman = sum(len(glob.glob(os.path.join(queue_dir, q, "*"))) for q in MAILMAN_QUEUES)
    return postfix, mailman


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sent", required=True, nargs="+", help="blast.py --out files")
    p.add_argument("--mailboxes", required=True, help="glob of the subscribers' mboxes")
    p.add_argument("--subscribers", type=int, required=True, help="how many mboxes there must be")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--settle", type=float, default=3)
    p.add_argument("--queue-dir", default="/var/lib/mailman3/queue")
    p.add_argument("--bounces", help="the senders' mbox, where bounced posts come back")
    p.add_argument("--mailman-log", default="/var/log/mailman3/mailman.log")
    args = p.parse_args()

    expected, bodies = set(), {}
    for path in args.sent:
        with open(path) as f:
            sent = json.load(f)
        expected.update(sent["message_ids"])
        bodies.update(sent.get("bodies", {}))
    mailboxes = sorted(glob.glob(args.mailboxes))
    t0 = time.time()
    bounced = {}
    while True:
        mailboxes = sorted(glob.glob(args.mailboxes))
        bounced = bounces(args.bounces, expected)
        counts = scan(mailboxes, expected - set(bounced))
        delivered, lost, duplicated, wrong = tally(counts, expected - set(bounced))
        queued = idle(args.queue_dir)
        complete = lost == 0 and len(mailboxes) >= args.subscribers
        if (complete and queued == (0, 0)) or time.time() - t0 > args.timeout:
            break
        time.sleep(1)
    waited = round(time.time() - t0, 1)
    # A duplicate may still be on its way: look once more after a pause.
    time.sleep(args.settle)
    bounced = bounces(args.bounces, expected)
    # A bounced post must not have reached anyone either.
    counts = scan(mailboxes, expected)
    delivered, lost, duplicated, wrong = tally(counts, expected - set(bounced))
    leaked = [[mb, mid, c[mid]] for mb, c in counts.items() for mid in bounced if c.get(mid)]
    missing_mailboxes = max(0, args.subscribers - len(mailboxes))
    lost += missing_mailboxes * len(expected)
    queued = idle(args.queue_dir)
    damaged = corrupted(mailboxes, bodies)
    print(json.dumps({
        "posts": len(expected),
        "subscribers": args.subscribers,
        "expected": len(expected) * args.subscribers,
        "delivered": delivered,
        "lost": lost,
        "duplicated": duplicated,
        "corrupted": len(damaged),
        "bodies_checked": len(bodies),
        "bounced": bounced,
        "bounced_but_delivered": leaked,
        "seconds": waited,
        "still_queued": {"postfix": queued[0], "mailman": queued[1]},
        "shunted": len(glob.glob(os.path.join(args.queue_dir, "shunt", "*"))),
        "shunt_reasons": shunt_reasons(args.queue_dir, args.mailman_log),
        "leftovers": leftovers(args.queue_dir),
        "wrong": wrong + damaged[:10],
    }))


if __name__ == "__main__":
    main()
