#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile mail as bytes on the socket, from outside mynetworks, and what arrived.

  raw_smtp.py send    --list L@D --member M --victim V --tag T --out SENT.json
  raw_smtp.py inspect --tag T --sent SENT.json --mailboxes GLOB --members M,M2 --sender-box MBOX

send: one SMTP session per case, from the host's own non-loopback address (not
in mynetworks), written byte for byte (no mail library, so nothing is
normalised on the way out):

  smuggle-lf-dot-lf    a member's post whose DATA holds "\\n.\\n", then a whole
  smuggle-crlf-dot-lf  second transaction to --victim (subject SMUGGLED-T),
  smuggle-lf-dot-crlf  then the real "\\r\\n.\\r\\n" (the three end-of-data
                       forms of SMTP smuggling)
  bare-lf-header       a header ended by a bare LF, then "X-Injected: yes"
  bare-cr-header       a header with a bare CR, then "X-Injected: yes"
  utf8-8bitmime        a member's post, BODY=8BITMIME, RFC 2047 UTF-8 subject,
                       8-bit UTF-8 body
  smtputf8             MAIL FROM ... SMTPUTF8, a raw UTF-8 subject

Each case's replies are recorded; the posts the server took are written to
SENT.json in blast.py's format (Message-IDs and bodies) for count.py.

inspect: reads every mailbox in GLOB and reports: messages whose own Subject
is a smuggled one; per case, the copies each member got and whether a bare CR
or LF became a header line of its own (Postfix's smtpd_forbid_bare_newline
= normalize reads a bare LF as a line end: the sender could have written that
header anyway; what matters is that the post is not shunted or lost); each
accepted post's decoded subject and body against what was sent; and whether
the SMTPUTF8 post reached a member or came back to its sender.
"""
import argparse
import email
import email.header
import email.policy
import email.utils
import glob
import hashlib
import json
import mailbox
import socket
import time

# A sibling script in the same directory: the one home of the outside address.
from smtp_cases import outside_address

CRLF = b"\r\n"
SUBJECT_UTF8 = "Grüße aus Köln – ☃"


class Session:
    """A raw SMTP client: writes exactly the bytes it is given."""

    def __init__(self, host, source):
        self.sock = socket.create_connection((host, 25), timeout=30, source_address=(source, 0))
        self.buf = b""
        self.replies = [self.reply()]

    def reply(self):
        lines = []
        while True:
            while CRLF not in self.buf:
                chunk = self.sock.recv(4096)
                if not chunk:
                    return {"code": 0, "text": "connection closed"}
                self.buf += chunk
            line, self.buf = self.buf.split(CRLF, 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return {"code": int(line[:3] or 0), "text": " | ".join(lines)[:300]}

    def send(self, data, expect_reply=True):
        self.sock.sendall(data)
        if expect_reply:
            r = self.reply()
            self.replies.append(r)
            return r
        return None

    def close(self):
        try:
            self.sock.sendall(b"QUIT" + CRLF)
            self.reply()
        except OSError:
            pass
        self.sock.close()


def transaction(session, sender, rcpt, data, mail_params=b""):
    """MAIL, RCPT, DATA, the content as given (it must carry its own end), one reply each."""
    r = session.send(b"MAIL FROM:<" + sender.encode() + b">" + mail_params + CRLF)
    if r["code"] != 250:
        return r
    r = session.send(b"RCPT TO:<" + rcpt.encode("utf-8") + b">" + CRLF)
    if r["code"] != 250:
        return r
    r = session.send(b"DATA" + CRLF)
    if r["code"] != 354:
        return r
    return session.send(data)


def headers(mid, sender, to, subject, extra=b""):
    return (b"From: <" + sender.encode() + b">\r\nTo: <" + to.encode() + b">\r\nSubject: " + subject
            + b"\r\nMessage-ID: <" + mid.encode() + b">\r\nDate: " + email.utils.formatdate().encode()
            + b"\r\n" + extra)


def send(args):
    source = outside_address()
    results, sent, bodies = [], [], {}

    def case(name, content, mail_params=b"", body_text=None):
        mid = "%s-%s@mailops.test" % (args.tag, name)
        s = Session(args.host, source)
        s.send(b"EHLO raw.mailops.test" + CRLF)
        final = transaction(s, args.member, args.list, content(mid), mail_params)
        s.close()
        accepted = final["code"] == 250
        results.append({"case": name, "code": final["code"], "reply": final["text"],
                        "replies": [r["code"] for r in s.replies], "message_id": mid})
        if accepted and body_text is not None:
            sent.append(mid)
            bodies[mid] = body_text

    smuggled = ("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\nFrom: <%s>\r\nTo: <%s>\r\n"
                "Subject: SMUGGLED-%s\r\n\r\nsmuggled\r\n.\r\n" % (
                    args.member, args.victim, args.member, args.victim, args.tag)).encode()
    for name, end in (("smuggle-lf-dot-lf", b"\n.\n"), ("smuggle-crlf-dot-lf", b"\r\n.\n"),
                      ("smuggle-lf-dot-crlf", b"\n.\r\n")):
        case(name, lambda mid, end=end, name=name: headers(mid, args.member, args.list, name.encode())
             + b"\r\nbefore the fake end" + end + smuggled + b"after\r\n.\r\n")
    case("bare-lf-header", lambda mid: headers(mid, args.member, args.list, b"bare LF\nX-Injected: yes")
         + b"\r\nbody\r\n.\r\n")
    case("bare-cr-header", lambda mid: headers(mid, args.member, args.list, b"bare CR\rX-Injected: yes")
         + b"\r\nbody\r\n.\r\n")
    utf8_body = "Prost! Ein Beitrag mit Umlauten: äöü ß, und ein Schneemann ☃.\n"
    encoded_subject = email.header.Header(SUBJECT_UTF8, "utf-8").encode().encode()
    case("utf8-8bitmime", lambda mid: headers(
        mid, args.member, args.list, encoded_subject,
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n")
        + b"\r\n" + utf8_body.replace("\n", "\r\n").encode() + b".\r\n",
        mail_params=b" BODY=8BITMIME", body_text=utf8_body)
    case("smtputf8", lambda mid: headers(
        mid, args.member, args.list, SUBJECT_UTF8.encode(),
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n")
        + b"\r\nraw UTF-8 headers: " + SUBJECT_UTF8.encode() + b"\r\n.\r\n",
        mail_params=b" BODY=8BITMIME SMTPUTF8")
    with open(args.out, "w") as f:
        json.dump({"tag": args.tag, "client": source, "cases": results, "message_ids": sent,
                   "bodies": bodies}, f)
    print(json.dumps({"client": source, "cases": results}))


def read(path):
    try:
        return list(mailbox.mbox(path, factory=lambda f: email.message_from_binary_file(
            f, policy=email.policy.default), create=False))
    except (FileNotFoundError, mailbox.NoSuchMailboxError):
        return []


def inspect(args):
    with open(args.sent) as f:
        sent = json.load(f)
    members = args.members.split(",")
    deadline = time.time() + args.timeout
    boxes = {}
    while True:
        boxes = {path: read(path) for path in sorted(glob.glob(args.mailboxes))}
        mine = {path: [m for m in msgs if args.tag in str(m.get("Message-ID", "")) + str(m.get("Subject", ""))]
                for path, msgs in boxes.items()}
        utf8 = [m for path in members for m in mine.get("/var/mail/" + path.split("@")[0], [])
                if "utf8-8bitmime" in str(m.get("Message-ID", ""))]
        if len(utf8) >= len(members) or time.time() > deadline:
            break
        time.sleep(1)
    smuggled = [[p, str(m["Subject"])] for p, msgs in boxes.items() for m in msgs
                if str(m.get("Subject", "")).startswith("SMUGGLED-" + args.tag)]
    # Per case: the copies each member got, and whether its bare CR or LF
    # became a header line of its own (normalised) or stayed in the subject.
    cases = {}
    for member in members:
        path = "/var/mail/" + member.split("@")[0]
        for m in mine.get(path, []):
            case = str(m.get("Message-ID", "")).strip("<>").split("@")[0][len(args.tag) + 1:]
            entry = cases.setdefault(case, {"copies": {}, "header_line": False})
            entry["copies"][member] = entry["copies"].get(member, 0) + 1
            entry["header_line"] = entry["header_line"] or m.get("X-Injected") is not None
    copies = []
    for mid, text in sent["bodies"].items():
        for member in members:
            path = "/var/mail/" + member.split("@")[0]
            for m in mine.get(path, []):
                if mid in str(m.get("Message-ID", "")):
                    body = m.get_body(("plain",))
                    # MIME's canonical line end is CRLF: a re-encoded part may keep it.
                    content = (body.get_content() if body is not None else "").replace("\r\n", "\n")
                    copies.append({"mailbox": path, "message_id": mid, "subject": str(m["Subject"]),
                                   "subject_ok": str(m["Subject"]).endswith(SUBJECT_UTF8),
                                   "body_ok": content.startswith(text),
                                   "body_sha256": hashlib.sha256(content[:len(text)].encode()).hexdigest()[:16],
                                   "sent_sha256": hashlib.sha256(text.encode()).hexdigest()[:16]})
    utf8_mid = "%s-smtputf8@mailops.test" % args.tag
    utf8_delivered = [p for p, msgs in mine.items() for m in msgs if utf8_mid in str(m.get("Message-ID", ""))]
    returned = [str(m.get("Subject")) for m in read(args.sender_box)
                if "mailer-daemon" in str(m.get("From", "")).lower() and utf8_mid in m.as_string()]
    print(json.dumps({"smuggled": smuggled, "cases": cases, "copies": copies,
                      "smtputf8_delivered_to": utf8_delivered, "smtputf8_returned": returned}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("send")
    s.add_argument("--host", default=None, help="server address (default: the outside address itself)")
    s.add_argument("--list", required=True)
    s.add_argument("--member", required=True)
    s.add_argument("--victim", required=True)
    s.add_argument("--tag", required=True)
    s.add_argument("--out", required=True)
    i = sub.add_parser("inspect")
    i.add_argument("--tag", required=True)
    i.add_argument("--sent", required=True)
    i.add_argument("--mailboxes", default="/var/mail/*")
    i.add_argument("--members", required=True)
    i.add_argument("--sender-box", required=True)
    i.add_argument("--timeout", type=float, default=90)
    args = p.parse_args()
    if args.command == "send":
        args.host = args.host or outside_address()
        send(args)
    else:
        inspect(args)


if __name__ == "__main__":
    main()
