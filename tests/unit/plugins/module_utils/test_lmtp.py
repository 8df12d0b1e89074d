# SPDX-License-Identifier: GPL-3.0-or-later
"""The one LMTP client, step by step: against a real aiosmtpd LMTP server, and
against a scripted socket peer for each way a server can misbehave."""
from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from ansible_collections.mailops.mailman.plugins.module_utils import lmtp
from ansible_collections.mailops.mailman.plugins.module_utils.durations import seconds

from tests.unit.lmtp_server import free_port, lmtp_server, mute_server

LIST = "reading-group@local.edu"


@contextlib.contextmanager
def scripted_server(greeting, replies):
    """Yield the port of a peer that sends `greeting`, then answers the n-th line
    it reads with replies[n] (bytes), and stays silent once replies run out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(5)
    seen = []
    stop = threading.Event()

    def serve():
        try:
            conn, _peer = listener.accept()
        except OSError:
            return
        with conn:
            if greeting is None:
                return  # hang up at once
            conn.sendall(greeting)
            buf = b""
            conn.settimeout(0.1)
            while not stop.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\r\n" in buf:
                    line, buf = buf.split(b"\r\n", 1)
                    seen.append(line)
                    if len(seen) <= len(replies):
                        conn.sendall(replies[len(seen) - 1])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        stop.set()
        listener.close()
        thread.join(2)


def failure(port, timeout=0.5, step=None, **calls):
    """Open a session to port, make the calls, and return the LMTPError raised."""
    with pytest.raises(lmtp.LMTPError) as e:
        with lmtp.Session("127.0.0.1", port, timeout) as session:
            session.open()
            if "recipients" in calls:
                session.recipients(*calls["recipients"])
    if step is not None:
        assert e.value.step == step
    return str(e.value)


def test_a_whole_session_against_a_real_lmtp_server():
    with lmtp_server([LIST]) as (handler, port):
        with lmtp.Session("127.0.0.1", port, 5) as session:
            session.open()
            assert session.banner.endswith("GNU Mailman LMTP runner 2.0")
            assert "8BITMIME" in session.extensions
            assert session.latency_ms >= 0
            results = session.recipients("a@example.org", [LIST, "nope@local.edu"])
            assert handler.messages == []  # RCPT only
            code, reply = session.send("a@example.org", LIST, b"Subject: hi\r\n\r\nhello\r\n")
        assert session.client.sock is None  # closed with QUIT
    assert results == [
        dict(address=LIST, code=250, message="Ok", accepted=True),
        dict(address="nope@local.edu", code=550,
             message="Requested action not taken: mailbox unavailable", accepted=False)]
    assert (code, reply) == (250, "Ok")
    assert [(m[0], m[1]) for m in handler.messages] == [("a@example.org", [LIST])]
    assert handler.messages[0][2].endswith(b"\r\nhello\r\n")


def test_send_refuses_to_go_on_after_a_rejected_rcpt():
    with lmtp_server([LIST]) as (handler, port):
        with pytest.raises(lmtp.LMTPError, match=r"^RCPT TO:<nope@local.edu> rejected at delivery "
                                                 r"with 550 Requested action not taken"):
            with lmtp.Session("127.0.0.1", port, 5) as session:
                session.open()
                session.send("a@example.org", "nope@local.edu", b"Subject: hi\r\n\r\nhello\r\n")
    assert handler.messages == []


def test_refused():
    port = free_port()
    assert failure(port, step="connect") == (
        "nothing listening on 127.0.0.1:%d (connection refused): is mailman3 running and is "
        "[mta] lmtp_host/lmtp_port right? see /var/log/mailman3/mailman.log" % port)


def test_no_greeting_within_the_timeout():
    with mute_server() as port:
        assert failure(port, step="connect") == (
            "no answer from 127.0.0.1:%d within 0.5s: wrong bind address (lmtp_host) or a "
            "firewall" % port)


def test_hung_up_before_greeting():
    with scripted_server(None, []) as (port, _seen):
        assert failure(port, step="connect").startswith(
            "127.0.0.1:%d closed the connection before greeting: " % port)


def test_unexpected_greeting():
    with scripted_server(b"554 go away\r\n", []) as (port, seen):
        assert failure(port, step="greeting") == (
            "unexpected greeting from 127.0.0.1:%d: 'go away' (code 554, expected 220 from "
            "Mailman's LMTP runner): is something else listening there?" % port)
    assert seen == []  # no QUIT to such a peer


def test_lhlo_rejected():
    with scripted_server(b"220 smtp.example.org ESMTP\r\n", [b"500 5.5.1 what?\r\n"]) as (port, seen):
        assert failure(port, step="lhlo") == (
            "LHLO rejected by 127.0.0.1:%d with 500 '5.5.1 what?' (greeting was "
            "'smtp.example.org ESMTP'): is this an SMTP server rather than Mailman's LMTP "
            "runner?" % port)
    assert seen[0].lower().startswith(b"lhlo ")


def test_no_reply_to_lhlo():
    with scripted_server(b"220 lmtp\r\n", []) as (port, _seen):
        assert failure(port, step="lhlo") == (
            "no reply to LHLO from 127.0.0.1:%d within 0.5s (greeting was 'lmtp')" % port)


def test_silent_after_lhlo():
    with scripted_server(b"220 lmtp\r\n", [b"250 ok\r\n"]) as (port, seen):
        assert failure(port, step="talk", recipients=("a@example.org", [LIST])) == (
            "127.0.0.1:%d stopped answering within 0.5s after LHLO" % port)
    assert seen[1].lower() == b"mail from:<a@example.org>"


def test_mail_from_rejected():
    with scripted_server(b"220 lmtp\r\n", [b"250 ok\r\n", b"553 no thanks\r\n"]) as (port, _seen):
        assert failure(port, step="talk", recipients=("a@example.org", [LIST])) == (
            "MAIL FROM:<a@example.org> rejected by 127.0.0.1:%d with 553 no thanks" % port)


def test_refusals_name_unknown_lists_and_other_answers():
    ok = dict(address=LIST, code=250, message="Ok", accepted=True)
    assert lmtp.refusals([ok]) is None
    assert lmtp.refusals([]) is None
    assert lmtp.refusals([
        ok,
        dict(address="a@local.edu", code=550, message="no", accepted=False),
        dict(address="b@local.edu", code=451, message="try later", accepted=False),
    ]) == ("RCPT rejected for a@local.edu: no such list in Mailman (550): is the list created? "
           "check `mailman lists`/REST; RCPT not accepted for b@local.edu (451 try later)")


def test_where_and_seconds():
    assert lmtp.where("/run/mailman3/lmtp.sock", 8024) == "/run/mailman3/lmtp.sock"
    assert lmtp.where("127.0.0.1", 8024) == "127.0.0.1:8024"
    assert (seconds(10.0), seconds(0.5)) == (10, 0.5)
    assert str(seconds(10.0)) == "10"
