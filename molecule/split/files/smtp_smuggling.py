#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two SMTP protocol abuses, sent raw from a client outside mynetworks.

usage: smtp_smuggling.py HOST RCPT TAG
  smuggle:    one DATA whose body hides "<LF>.<CR><LF>" and a second message
              (Subject: TAG-inner). A Postfix that ends DATA at a bare LF
              delivers the inner message on its own.
  pipelining: HELO (no ESMTP, so no PIPELINING), then MAIL and RCPT in one
              write. Postfix with smtpd_forbid_unauth_pipelining answers 554.
Prints JSON {smuggle: [replies], pipelining: [replies]}; judging is the
caller's (the inner message must not arrive; the pipelining reply must be 554).
"""
import json
import socket
import sys

HOST, RCPT, TAG = sys.argv[1], sys.argv[2], sys.argv[3]


def session():
    s = socket.create_connection((HOST, 25), timeout=20)
    f = s.makefile("rb")
    return s, f


def reply(f):
    lines = []
    while True:
        line = f.readline().decode("ascii", "replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return " / ".join(lines)


def smuggle():
    s, f = session()
    out = [reply(f)]
    for cmd in (b"EHLO outside.test", b"MAIL FROM:<spammer@example.com>", b"RCPT TO:<%s>" % RCPT.encode(), b"DATA"):
        s.sendall(cmd + b"\r\n")
        out.append(reply(f))
    s.sendall(b"Subject: " + TAG.encode() + b"-outer\r\n\r\nouter body\n.\r\n"
              b"MAIL FROM:<spammer@example.com>\r\nRCPT TO:<" + RCPT.encode() + b">\r\nDATA\r\n"
              b"Subject: " + TAG.encode() + b"-inner\r\n\r\nsmuggled\r\n.\r\n")
    # One reply per message the server thinks it received.
    out.append(reply(f))
    s.sendall(b"QUIT\r\n")
    try:
        while True:
            line = reply(f)
            out.append(line)
            if not line or line.startswith("221"):
                break
    except (OSError, ValueError):
        pass
    s.close()
    return out


def pipelining():
    s, f = session()
    out = [reply(f)]
    s.sendall(b"HELO outside.test\r\n")
    out.append(reply(f))
    s.sendall(b"MAIL FROM:<spammer@example.com>\r\nRCPT TO:<" + RCPT.encode() + b">\r\n")
    out.append(reply(f))
    s.close()
    return out


print(json.dumps({"smuggle": smuggle(), "pipelining": pipelining()}))
