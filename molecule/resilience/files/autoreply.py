#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A member's auto-responder: answers every message it is given to the list.

Run by Postfix's local(8) from the member's ~/.forward, as the member, with
the message on stdin: answers it to argv[1] (the list's posting address, as
a responder that answers to List-Post or to a munged Reply-To does), marked
"Auto-Submitted: auto-replied" (RFC 3834), and appends a line to argv[2].
Bounded: after MAX answers it stops answering, so a list that loops sends
the test at most MAX rounds, not forever. Always exits 0 (never a bounce).
"""
import email
import email.policy
import subprocess
import sys
from email.message import EmailMessage

MAX = 20


def main():
    to, log = sys.argv[1], sys.argv[2]
    original = email.message_from_binary_file(sys.stdin.buffer, policy=email.policy.default)
    try:
        with open(log, encoding="ascii") as f:
            answered = sum(1 for _line in f)
    except FileNotFoundError:
        answered = 0
    if answered >= MAX:
        return
    reply = EmailMessage()
    reply["From"] = "autor@local.edu"
    reply["To"] = to
    reply["Subject"] = "Auto: " + str(original.get("subject", ""))
    reply["Auto-Submitted"] = "auto-replied"
    if original.get("message-id"):
        reply["In-Reply-To"] = original["message-id"]
    reply.set_content("I am away; your message will be read later.\n")
    subprocess.run(["/usr/sbin/sendmail", "-i", "-f", "autor@local.edu", to], input=reply.as_bytes(), check=True)
    with open(log, "a", encoding="ascii") as f:
        f.write("%s\n" % original.get("message-id", "n/a"))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # pylint: disable=broad-exception-caught
        print("autoreply: %s" % error, file=sys.stderr)
    sys.exit(0)
