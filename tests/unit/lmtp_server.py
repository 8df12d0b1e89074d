# SPDX-License-Identifier: GPL-3.0-or-later
"""Real LMTP peers for unit tests: an aiosmtpd LMTP server and a mute socket.

aiosmtpd is a test-only dependency; the modules themselves use the stdlib.
"""
from __future__ import annotations

import contextlib
import socket
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ListHandler:
    """Accepts RCPT for addresses whose list (local part minus Mailman's
    command suffixes) is known, like Mailman's LMTP runner; 550 otherwise."""

    SUFFIXES = ("-join", "-leave", "-request", "-owner", "-bounces", "-subscribe", "-unsubscribe")

    def __init__(self, lists):
        self.lists = {a.lower() for a in lists}
        self.messages = []  # (mail_from, rcpt_tos, content bytes)

    def _list_of(self, address):
        local, _at, domain = address.lower().rpartition("@")
        if "-confirm+" in local:
            local = local.split("-confirm+", 1)[0]
        for suffix in self.SUFFIXES:
            if local.endswith(suffix):
                local = local[: -len(suffix)]
                break
        return "%s@%s" % (local, domain)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self._list_of(address) not in self.lists:
            return "550 Requested action not taken: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Ok"


class LMTPController(Controller):
    def factory(self):
        return LMTP(self.handler, **self.SMTP_kwargs)


@contextlib.contextmanager
def lmtp_server(lists):
    """Yield (handler, port) of a running LMTP server that knows `lists`."""
    handler = ListHandler(lists)
    controller = LMTPController(handler, hostname="127.0.0.1", port=free_port(),
                                ident="GNU Mailman LMTP runner 2.0")
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@contextlib.contextmanager
def mute_server(greeting=None):
    """Yield the port of a server that accepts connections and then sends
    `greeting` (bytes) or, when None, nothing at all."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    conns = []
    stop = threading.Event()

    def serve():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _peer = listener.accept()
            except OSError:
                continue
            conns.append(conn)
            if greeting is not None:
                conn.sendall(greeting)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in conns:
            conn.close()
        listener.close()
