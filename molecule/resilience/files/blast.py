#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Post to a list from many senders at once, over SMTP, and record what was sent.

Each sender posts --posts messages one after another; --threads senders run at
the same time. Every post has its own Message-ID <TAG-SENDER-POST@mailops.test>
(Mailman keeps it), so count.py can check every subscriber got each exactly once.
A post counts as sent only when the server answered 250 to its DATA; a refused
post is reported, never retried (a retry could hide a loss or make a duplicate).
Prints (and with --out writes) JSON: sent, refused, message_ids, seconds; the
file also holds each post's body, which count.py checks in every copy.
"""
import argparse
import json
import smtplib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import formatdate


def body(tag, n, sender):
    """The text of post n of a sender: what every copy must carry intact."""
    return "Post %d of sender %s in run %s.\n" % (n, sender, tag)


def post_all(args, sender_index, sender, lock, sent, refused, bodies):
    conn = None
    for n in range(1, args.posts + 1):
        mid = "%s-%02d-%02d@mailops.test" % (args.tag, sender_index, n)
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = args.to
        msg["Subject"] = "%s post %d of sender %d" % (args.tag, n, sender_index)
        msg["Message-ID"] = "<%s>" % mid
        msg["Date"] = formatdate(localtime=True)
        text = body(args.tag, n, sender)
        msg.set_content(text)
        try:
            if conn is None:
                conn = smtplib.SMTP(args.host, args.port, timeout=60)
            conn.send_message(msg, from_addr=sender, to_addrs=[args.to])
            with lock:
                sent.append(mid)
                bodies[mid] = text
        except (smtplib.SMTPException, OSError) as e:
            with lock:
                refused.append({"message_id": mid, "error": str(e)})
            conn = None
        if args.pause:
            time.sleep(args.pause)
    if conn is not None:
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            pass


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--to", required=True, help="list posting address")
    p.add_argument("--senders", required=True, help="comma-separated member addresses")
    p.add_argument("--posts", type=int, default=10, help="posts per sender")
    p.add_argument("--threads", type=int, default=20)
    p.add_argument("--pause", type=float, default=0, help="seconds between two posts of a sender")
    p.add_argument("--tag", required=True, help="unique run tag, starts every Message-ID")
    p.add_argument("--out", help="also write the JSON result here")
    args = p.parse_args()

    senders = [s for s in args.senders.split(",") if s]
    lock = threading.Lock()
    sent, refused, bodies = [], [], {}
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        for i, s in enumerate(senders, 1):
            pool.submit(post_all, args, i, s, lock, sent, refused, bodies)
    result = {
        "tag": args.tag,
        "senders": len(senders),
        "posts_per_sender": args.posts,
        "attempted": len(senders) * args.posts,
        "sent": len(sent),
        "refused": refused,
        "message_ids": sorted(sent),
        "bodies": bodies,
        "seconds": round(time.time() - t0, 1),
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f)
    print(json.dumps({k: v for k, v in result.items() if k not in ("message_ids", "bodies")}))


if __name__ == "__main__":
    main()
