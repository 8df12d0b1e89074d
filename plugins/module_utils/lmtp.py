# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one LMTP client of the collection: the dialogue with Mailman's LMTP runner.

Used by the lmtp_probe module and by the trace's lmtp hop (trace_lmtp.py).
Every step that fails raises LMTPError, whose text says what was tried,
what was seen and where to look, worded the same for every caller.
Standard library only (smtplib.LMTP), so it runs on any target.
"""

from __future__ import annotations

import smtplib
import socket
import time

from ansible_collections.mailops.mailman.plugins.module_utils.durations import seconds

ACCEPTED = (250, 251)
MAILMAN_LOG = "/var/log/mailman3/mailman.log"


class LMTPError(Exception):
    """A step of the LMTP dialogue failed; str() is the message for the user.

    step names where it failed: connect, greeting, lhlo or talk (a command
    after LHLO), for callers that point somewhere different for each.
    """

    def __init__(self, msg, step):
        super().__init__(msg)
        self.step = step


def reply_text(raw):
    """smtplib hands replies over as bytes, except after some errors."""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def where(host, port):
    """host:port, or the path of a Unix socket."""
    return host if host.startswith("/") else "%s:%s" % (host, port)


def timed_out(exc):
    # smtplib turns a read timeout into SMTPServerDisconnected; the original
    # socket.timeout survives only as the exception's context.
    return isinstance(exc, socket.timeout) or isinstance(exc.__context__, socket.timeout)


def refusals(results):
    """Why RCPT did not accept some of `results` (dicts with address, code,
    message, accepted), or None when it accepted all."""
    refused = [r for r in results if not r["accepted"]]
    if not refused:
        return None
    unknown = [r["address"] for r in refused if r["code"] == 550]
    other = ["%s (%s %s)" % (r["address"], r["code"], r["message"])
             for r in refused if r["code"] != 550]
    parts = []
    if unknown:
        parts.append("RCPT rejected for %s: no such list in Mailman (550): is the list "
                     "created? check `mailman lists`/REST" % ", ".join(unknown))
    if other:
        parts.append("RCPT not accepted for %s" % ", ".join(other))
    return "; ".join(parts)


class Session:
    """One LMTP session: open() greets and says LHLO, then recipients(),
    send() and close() (QUIT). A context manager closes it."""

    def __init__(self, host, port, timeout, mailman_log=MAILMAN_LOG):
        self.host, self.port, self.timeout = host, port, timeout
        self.where = where(host, port)
        self.mailman_log = mailman_log
        self.banner = None
        self.extensions = []
        self.latency_ms = None
        # Not LMTP(host, port): its __init__ connects and would hide the
        # greeting's reply code from us; connecting ourselves lets us
        # diagnose each step.
        self.client = smtplib.LMTP(timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def open(self):
        """Connect, read the greeting, LHLO; sets banner, extensions and latency_ms."""
        try:
            return self._open()
        except LMTPError:
            # No QUIT to a peer that did not greet or answer LHLO as Mailman does.
            self.client.close()
            raise

    def _open(self):
        client, at, secs = self.client, self.where, seconds(self.timeout)
        started = time.monotonic()
        try:
            code, banner = client.connect(self.host, self.port)
        except ConnectionRefusedError:
            raise LMTPError(
                "nothing listening on %s (connection refused): is mailman3 running and is "
                "[mta] lmtp_host/lmtp_port right? see %s" % (at, self.mailman_log), "connect") from None
        except (TimeoutError, smtplib.SMTPServerDisconnected) as e:
            if timed_out(e):
                raise LMTPError("no answer from %s within %ss: wrong bind address (lmtp_host) "
                                "or a firewall" % (at, secs), "connect") from e
            raise LMTPError("%s closed the connection before greeting: %s" % (at, e), "connect") from e
        except OSError as e:
            raise LMTPError("cannot connect to %s: %s" % (at, e), "connect") from e
        self.banner = banner = reply_text(banner)
        if code != 220:
            raise LMTPError(
                "unexpected greeting from %s: %r (code %s, expected 220 from Mailman's LMTP "
                "runner): is something else listening there?" % (at, banner, code), "greeting")
        try:
            code, reply = client.ehlo()
        except (TimeoutError, smtplib.SMTPServerDisconnected) as e:
            if timed_out(e):
                raise LMTPError("no reply to LHLO from %s within %ss (greeting was %r)"
                                % (at, secs, banner), "lhlo") from e
            raise LMTPError("%s closed the connection after LHLO (greeting was %r): %s"
                            % (at, banner, e), "lhlo") from e
        self.latency_ms = round((time.monotonic() - started) * 1000, 1)
        if code != 250:
            raise LMTPError(
                "LHLO rejected by %s with %s %r (greeting was %r): is this an SMTP server "
                "rather than Mailman's LMTP runner?" % (at, code, reply_text(reply), banner), "lhlo")
        self.extensions = reply_text(reply).splitlines()[1:]
        return self

    def _talk(self, command, *args):
        """One command after LHLO; a dropped or silent server becomes LMTPError."""
        try:
            code, reply = getattr(self.client, command)(*args)
        except (smtplib.SMTPException, OSError) as e:
            if timed_out(e):
                raise LMTPError("%s stopped answering within %ss after LHLO"
                                % (self.where, seconds(self.timeout)), "talk") from e
            raise LMTPError("LMTP conversation with %s failed: %s" % (self.where, e), "talk") from e
        return code, reply_text(reply)

    def _mail(self, mail_from):
        code, reply = self._talk("mail", mail_from)
        if code != 250:
            raise LMTPError("MAIL FROM:<%s> rejected by %s with %s %s"
                            % (mail_from, self.where, code, reply), "talk")

    def recipients(self, mail_from, addresses):
        """MAIL FROM, RCPT TO for each address, RSET: asks, delivers nothing.

        Returns one dict per address: address, code, message, accepted.
        """
        results = []
        if not addresses:
            return results
        self._mail(mail_from)
        for address in addresses:
            code, reply = self._talk("rcpt", address)
            results.append(dict(address=address, code=code, message=reply,
                                accepted=code in ACCEPTED))
        self._talk("rset")
        return results

    def send(self, mail_from, address, content):
        """Deliver content (bytes with CRLF line ends) to one address; return (code, reply).

        One transaction per recipient: after DATA an LMTP server sends one
        reply per accepted recipient, and smtplib only reads the first.
        """
        self._mail(mail_from)
        code, reply = self._talk("rcpt", address)
        if code not in ACCEPTED:
            raise LMTPError("RCPT TO:<%s> rejected at delivery with %s %s" % (address, code, reply), "talk")
        code, reply = self._talk("data", content)
        if code != 250:
            raise LMTPError("DATA for %s not accepted: %s %s" % (address, code, reply), "talk")
        return code, reply

    def close(self):
        """QUIT if connected; a server that is already gone is simply closed."""
        if self.client.sock is None:
            return
        try:
            self.client.quit()
        except (smtplib.SMTPException, OSError):
            self.client.close()
