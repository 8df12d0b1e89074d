#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hold Mailman's LMTP address and never answer: accept each connection, send no
greeting, read nothing. To Postfix this is an LMTP peer that hangs (a wedged
runner, or a firewall that lets the handshake through and drops the rest):
it must time out (lmtp_lhlo_timeout) and defer, not lose or bounce the mail."""
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(100)
held = []
while True:
    conn, _peer = s.accept()
    held.append(conn)
    time.sleep(0)
