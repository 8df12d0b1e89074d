#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Restart Postfix the moment a broadcast has begun, and say how far it had got.

Watches one subscriber's mbox until the first post tagged --tag arrives, then at
once notes what is still in flight (Postfix's queue, Mailman's out queue, posts
still missing from that mbox) and runs `systemctl restart postfix`. Fast on
purpose: scanning all 100 mboxes first would let the broadcast finish.
Prints JSON: in_flight (postfix_queued, mailman_out, missing_here), waited.
"""
import argparse
import glob
import json
import subprocess
import time


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mailbox", required=True)
    p.add_argument("--tag", required=True)
    p.add_argument("--posts", type=int, required=True)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--queue-dir", default="/var/lib/mailman3/queue")
    args = p.parse_args()
    needle = ("<%s-" % args.tag).encode()
    t0 = time.time()
    copies = 0
    while time.time() - t0 < args.timeout:
        try:
            with open(args.mailbox, "rb") as f:
                copies = f.read().count(needle)
        except FileNotFoundError:
            copies = 0
        if copies:
            break
        time.sleep(0.05)
    queue = subprocess.run(["postqueue", "-j"], capture_output=True, text=True, check=False).stdout
    in_flight = {
        "postfix_queued": len([line for line in queue.splitlines() if line.strip()]),
        "mailman_out": len(glob.glob(args.queue_dir + "/out/*")),
        # Posts carry no In-Reply-To or References: one "<TAG-" per copy.
        "missing_here": max(0, args.posts - copies),
    }
    subprocess.run(["systemctl", "restart", "postfix"], check=True)
    print(json.dumps({"in_flight": in_flight, "waited": round(time.time() - t0, 2),
                      "mid_broadcast": copies > 0 and any(in_flight.values())}))


if __name__ == "__main__":
    main()
