#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""SMTP conversations an attacker or a broken client would have with the list server.

  smtp_cases.py relay   --list L@D        relay attempts from outside mynetworks
  smtp_cases.py hostile --list L@D --sender S --out SENT.json
  smtp_cases.py forged-join --list L@D --sender MALLORY --victim VICTOR

relay: connects from the host's own non-loopback address (not in mynetworks,
which is loopback only) and asks RCPT for foreign and local addresses, with the
classic relay tricks; RSET after each, nothing is ever sent. A foreign
recipient must get a 5xx; the list's own addresses (and -owner, -bounces) 250.

hostile: oversize mail (declared with SIZE, and undeclared), an unknown list
address, and posts with malformed MIME, raw 8-bit headers and a huge header
line from a member. The posts that are accepted are written to SENT.json in
blast.py's format, so count.py can check each arrives exactly once.
Prints JSON: one entry per case with the server's reply.
"""
import argparse
import json
import smtplib
import socket


def reply(fn, *a, **kw):
    try:
        r = fn(*a, **kw)
        if isinstance(r, tuple):
            return r[0], r[1].decode("utf-8", "replace") if isinstance(r[1], bytes) else str(r[1])
        return 250, ""
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
    except smtplib.SMTPRecipientsRefused as e:
        code, msg = list(e.recipients.values())[0]
        return code, msg.decode("utf-8", "replace")
    except (smtplib.SMTPException, OSError) as e:
        return 0, "%s: %s" % (type(e).__name__, e)


def outside_address():
    """The host's own address on the container network: not in mynetworks."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # No packet is sent: this only picks the interface of the default route.
        s.connect(("192.0.2.1", 9))
        return s.getsockname()[0]
    finally:
        s.close()


def relay(args):
    ip = outside_address()
    local, domain = args.list.split("@")
    cases = [
        # (recipient, foreign?)
        ("foreign@example.com", True),
        ("%s-owner@example.com" % local, True),
        ("%s-bounces@example.com" % local, True),
        ("foreign%%example.com@%s" % domain, True),
        ("foreign@example.com@%s" % domain, True),
        ("@%s:foreign@example.com" % domain, True),
        ('"foreign@example.com"@%s' % domain, True),
        ("foreign!example.com@%s" % domain, True),
        ("%s@%s" % (local, domain), False),
        ("%s-owner@%s" % (local, domain), False),
        ("%s-bounces@%s" % (local, domain), False),
    ]
    results = []
    conn = smtplib.SMTP(timeout=30, source_address=(ip, 0))
    conn.connect(ip, 25)
    conn.ehlo("outside.example.net")
    for rcpt, foreign in cases:
        mail = reply(conn.mail, "stranger@example.net")
        code, text = reply(conn.rcpt, rcpt)
        reply(conn.rset)
        results.append({
            "case": rcpt, "foreign": foreign, "mail_from": mail[0], "code": code, "reply": text,
            # Refused: a permanent error for a foreign recipient. Relayed: accepted.
            "refused": foreign and 500 <= code < 600,
            "relayed": foreign and 200 <= code < 300,
            "ok": (500 <= code < 600) if foreign else (200 <= code < 300),
        })
    conn.quit()
    print(json.dumps({"client_address": ip, "cases": results}))


def raw_post(sender, to, mid, headers, body):
    lines = [b"From: " + sender.encode(), b"To: " + to.encode(),
             b"Message-ID: <" + mid.encode() + b">"] + headers
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def hostile(args):
    local, domain = args.list.split("@")
    results, sent = [], []

    def case(name, expect, code, text, mid=None):
        ok = expect(code)
        results.append({"case": name, "code": code, "reply": text.strip()[:200], "handled": ok})
        if mid and 200 <= code < 300:
            sent.append(mid)

    # 1. Oversize, declared: refused at MAIL FROM, before any data is sent.
    conn = smtplib.SMTP("127.0.0.1", 25, timeout=60)
    conn.ehlo("client.local")
    code, text = reply(conn.mail, args.sender, ["SIZE=%d" % (args.size_limit * 2)])
    case("oversize mail, declared with SIZE", lambda c: c == 552, code, text)
    reply(conn.rset)
    # 2. Oversize, undeclared: Postfix reads and discards it, then 552.
    reply(conn.mail, args.sender)
    reply(conn.rcpt, args.list)
    big = raw_post(args.sender, args.list, "%s-big@mailops.test" % args.tag,
                   [b"Subject: too big"], (b"x" * 998 + b"\r\n") * (args.size_limit // 1000 + 100))
    code, text = reply(conn.data, big)
    case("oversize mail, undeclared", lambda c: c == 552, code, text)
    reply(conn.rset)
    # 3. A list address that does not exist: refused at RCPT (no backscatter).
    reply(conn.mail, args.sender)
    code, text = reply(conn.rcpt, "%s-nosuch@%s" % (local, domain))
    case("unknown list address", lambda c: c == 550, code, text)
    reply(conn.rset)
    conn.quit()

    posts = [
        ("malformed MIME", [
            b"Subject: %s malformed mime" % args.tag.encode(),
            b"MIME-Version: 1.0",
            b'Content-Type: multipart/mixed; boundary="never-closed"',
        ], b"preamble\r\n--never-closed\r\nContent-Type: text/plain\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n!!! not base64 ***\r\n"
           b"--wrong-boundary\r\nContent-Type: application/x-nothing; name=\r\n\r\n\x00\x01junk\r\n"),
        ("8-bit headers", [
            "Subject: {} Grüße aus Köln – ünïcödé".format(args.tag).encode("utf-8"),
            "X-Note: ✓ raw UTF-8, not RFC 2047".encode("utf-8"),
            b"MIME-Version: 1.0",
            b"Content-Type: text/plain; charset=utf-8",
            b"Content-Transfer-Encoding: 8bit",
        ], "Grüße.\r\n".encode("utf-8")),
        ("huge header line", [
            b"Subject: " + args.tag.encode() + b" long " + b"y" * 20000,
        ], b"A subject of 20000 characters on one line.\r\n"),
    ]
    for n, (name, headers, body) in enumerate(posts, 1):
        mid = "%s-%02d-01@mailops.test" % (args.tag, n)
        conn = smtplib.SMTP("127.0.0.1", 25, timeout=60)
        code, text = reply(conn.sendmail, args.sender, [args.list],
                           raw_post(args.sender, args.list, mid, headers, body))
        if code == 250 and not text:
            text = "250 accepted"
        # Accepted here; count.py then checks it reaches every member exactly once.
        case(name, lambda c: c == 250 or 500 <= c < 600, code, text, mid)
        reply(conn.quit)
    with open(args.out, "w") as f:
        json.dump({"tag": args.tag, "message_ids": sent}, f)
    print(json.dumps({"cases": results, "accepted": sent}))


def forged_join(args):
    """Mallory asks, from his own envelope, to join the victim: From is forged,
    Reply-To points back at him. The confirmation must go to the victim."""
    local, domain = args.list.split("@")
    msg = raw_post(args.victim, "%s-join@%s" % (local, domain), "%s-forged@mailops.test" % args.tag,
                   [b"Reply-To: " + args.sender.encode(), b"Subject: join"], b"join\r\n")
    conn = smtplib.SMTP("127.0.0.1", 25, timeout=60)
    code, text = reply(conn.sendmail, args.sender, ["%s-join@%s" % (local, domain)], msg)
    reply(conn.quit)
    print(json.dumps({"code": code, "reply": text}))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("what", choices=["relay", "hostile", "forged-join"])
    p.add_argument("--list", required=True)
    p.add_argument("--sender", default="member@localhost")
    p.add_argument("--tag", default="hostile")
    p.add_argument("--size-limit", type=int, default=1048576)
    p.add_argument("--victim")
    p.add_argument("--out")
    args = p.parse_args()
    {"relay": relay, "hostile": hostile, "forged-join": forged_join}[args.what](args)


if __name__ == "__main__":
    main()
