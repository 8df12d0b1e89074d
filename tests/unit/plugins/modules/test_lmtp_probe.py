# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import email
import email.policy
import socket
import threading
import time

import pytest
from ansible_collections.mailops.mailman.plugins.modules import lmtp_probe

from tests.unit.lmtp_server import free_port, lmtp_server, mute_server
from tests.unit.plugins.modules.utils import run_module

LIST = "reading-group@lists.example.org"


@pytest.fixture
def server():
    with lmtp_server([LIST]) as (handler, port):
        yield handler, port


def test_expand_list_forms():
    assert lmtp_probe.expand_list_forms(["rg@d.org"]) == [
        "rg@d.org", "rg-join@d.org", "rg-leave@d.org", "rg-request@d.org",
        "rg-owner@d.org", "rg-bounces@d.org", "rg-confirm+probe@d.org",
    ]


def test_greeting_lhlo_and_list_forms_accepted(server):
    handler, port = server
    ok, res = run_module(lmtp_probe, dict(port=port, addresses=[LIST], list_forms=True))
    assert ok, res
    assert "GNU Mailman LMTP runner" in res["banner"]
    assert "8BITMIME" in res["lhlo"]
    assert res["latency_ms"] >= 0
    assert len(res["results"]) == 7
    assert res["all_accepted"] is True
    assert all(r["code"] == 250 for r in res["results"])
    assert res["changed"] is False
    assert res["message_id"] is None
    assert handler.messages == []


def test_unknown_list_is_diagnosed_with_per_address_results(server):
    _handler, port = server
    ok, res = run_module(lmtp_probe, dict(port=port, addresses=[LIST, "nope@lists.example.org"]))
    assert not ok
    assert "nope@lists.example.org" in res["msg"]
    assert LIST not in res["msg"]
    assert "no such list in Mailman (550)" in res["msg"]
    assert "mailman lists" in res["msg"]
    assert [(r["address"], r["accepted"], r["code"]) for r in res["results"]] == [
        (LIST, True, 250), ("nope@lists.example.org", False, 550)]
    assert res["all_accepted"] is False


def test_refused():
    port = free_port()
    ok, res = run_module(lmtp_probe, dict(port=port, addresses=[LIST]))
    assert not ok
    assert res["msg"].startswith("nothing listening on 127.0.0.1:%d (connection refused)" % port)
    assert "/var/log/mailman3/mailman.log" in res["msg"]
    assert res["results"] == []


def test_timeout_when_server_never_greets():
    with mute_server() as port:
        started = time.monotonic()
        ok, res = run_module(lmtp_probe, dict(port=port, timeout=0.5, addresses=[LIST]))
        assert time.monotonic() - started < 3
    assert not ok
    assert res["msg"].startswith("no answer from 127.0.0.1:%d within 0.5s" % port)
    assert "lmtp_host" in res["msg"]


def test_unexpected_greeting_says_what_was_seen():
    with mute_server(b"554 go away, not for you\r\n") as port:
        ok, res = run_module(lmtp_probe, dict(port=port, timeout=2))
    assert not ok
    assert "unexpected greeting" in res["msg"]
    assert "go away, not for you" in res["msg"]


def test_deliver_really_delivers(server):
    handler, port = server
    ok, res = run_module(lmtp_probe, dict(
        port=port, addresses=[LIST], deliver=True, mail_from="alice@example.org",
        subject="probe 42", body="hello list\n"))
    assert ok, res
    assert res["changed"] is True
    assert res["delivered"] == [dict(address=LIST, code=250, message="Ok")]
    assert len(handler.messages) == 1
    mail_from, rcpts, content = handler.messages[0]
    assert (mail_from, rcpts) == ("alice@example.org", [LIST])
    msg = email.message_from_bytes(content, policy=email.policy.default)
    assert msg["Message-ID"] == res["message_id"]
    assert msg["Subject"] == "probe 42"
    assert content.endswith(b"\r\nhello list\r\n")  # no stray blank line added
    assert msg.get_content().replace("\r\n", "\n") == "hello list\n"


def test_check_mode_does_not_deliver(server):
    handler, port = server
    ok, res = run_module(lmtp_probe, dict(port=port, addresses=[LIST], deliver=True),
                         check_mode=True)
    assert ok, res
    assert res["changed"] is True
    assert res["all_accepted"] is True
    assert res["message_id"] is None
    assert handler.messages == []


def test_no_delivery_when_a_rcpt_is_rejected(server):
    handler, port = server
    ok, res = run_module(lmtp_probe, dict(
        port=port, addresses=[LIST, "nope@lists.example.org"], deliver=True))
    assert not ok
    assert handler.messages == []


@pytest.mark.parametrize("port", [0, 70000, -1])
def test_port_out_of_range_is_refused(port):
    ok, res = run_module(lmtp_probe, dict(port=port, timeout=1))
    assert not ok and res["msg"] == "port must be 1-65535, got %d" % port, res


# -- impossible input: a clear failure before any connection, never a traceback --

@pytest.fixture
def listener():
    """A port that records every connection and hangs up at once, so a probe
    that should never have connected fails fast instead of waiting out its timeout."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    sock.settimeout(0.05)
    seen = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _peer = sock.accept()
            except OSError:
                continue
            seen.append(True)
            conn.close()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], seen
    finally:
        stop.set()
        thread.join()
        sock.close()


IDNA = "give the domain in its IDNA form"


@pytest.mark.parametrize("args, msg", [
    (dict(timeout=0), "timeout must be more than 0 and at most 86400 seconds, got 0.0"),
    (dict(timeout=-1), "timeout must be more than 0 and at most 86400 seconds, got -1.0"),
    (dict(timeout="nan"), "timeout must be more than 0 and at most 86400 seconds, got nan"),
    (dict(timeout="1e400"), "timeout must be more than 0 and at most 86400 seconds, got inf"),
    (dict(timeout=1e9), "timeout must be more than 0 and at most 86400 seconds, got 1000000000.0"),
    (dict(addresses=["rg@bücher.example.org"]),
     "addresses[0] 'rg@bücher.example.org' is not ASCII and LMTP without SMTPUTF8 cannot "
     "carry it; " + IDNA + ": rg@xn--bcher-kva.example.org"),
    (dict(addresses=[LIST, "jörg@lists.example.org"]),
     "addresses[1] 'jörg@lists.example.org' is not ASCII and LMTP without SMTPUTF8 cannot "
     "carry it; a non-ASCII local part cannot be probed over LMTP"),
    (dict(addresses=["rg@bücher.example.org"], list_forms=True),
     "addresses[0] 'rg@bücher.example.org' is not ASCII and LMTP without SMTPUTF8 cannot "
     "carry it; " + IDNA + ": rg@xn--bcher-kva.example.org"),
    (dict(addresses=[LIST], mail_from="jörg@example.org"),
     "mail_from 'jörg@example.org' is not ASCII and LMTP without SMTPUTF8 cannot carry it; "
     "a non-ASCII local part cannot be probed over LMTP"),
    (dict(addresses=[LIST + "\r\nRCPT TO:<owner@example.org>"]),
     "addresses[0] %r contains a CR, LF or NUL, which would end the LMTP command early"
     % (LIST + "\r\nRCPT TO:<owner@example.org>")),
    (dict(addresses=[LIST], mail_from="a@example.org\nRSET"),
     "mail_from 'a@example.org\\nRSET' contains a CR, LF or NUL, which would end the LMTP "
     "command early"),
    (dict(addresses=[""]),
     "addresses[0] '' is not an address: it is empty or holds spaces or angle brackets"),
    (dict(addresses=["a b@example.org"]),
     "addresses[0] 'a b@example.org' is not an address: it is empty or holds spaces or angle "
     "brackets"),
    (dict(addresses=["<rg@example.org>"]),
     "addresses[0] '<rg@example.org>' is not an address: it is empty or holds spaces or "
     "angle brackets"),
    (dict(addresses=["reading-group"]),
     "addresses[0] 'reading-group' is not an address: expected LOCAL@DOMAIN"),
    (dict(addresses=["@example.org"]),
     "addresses[0] '@example.org' is not an address: expected LOCAL@DOMAIN"),
    (dict(host=""), "host is empty: give the LMTP runner's host or a Unix socket path"),
    (dict(host="a..b"), "host 'a..b' is not a valid host name (encoding with 'idna' codec "
                        "failed (UnicodeError: label empty or too long)): check [mta] lmtp_host"),
    (dict(host="x" * 64 + ".example.org"),
     "host '%s.example.org' is not a valid host name (encoding with 'idna' codec failed "
     "(UnicodeError: label empty or too long)): check [mta] lmtp_host" % ("x" * 64)),
    (dict(host="127.0.0.1\n"), "host '127.0.0.1\\n' contains spaces or control characters"),
    (dict(addresses=[LIST], deliver=True, subject="probe\r\nBcc: everyone@example.org"),
     "subject 'probe\\r\\nBcc: everyone@example.org' contains a CR, LF or NUL: a header "
     "cannot hold it"),
    (dict(addresses=[LIST], deliver=True, body="a\0b"),
     "body contains a NUL character, which mail cannot carry"),
])
def test_impossible_input_is_refused_before_connecting(listener, args, msg):
    port, seen = listener
    args = dict(dict(port=port, timeout=1), **args)
    ok, res = run_module(lmtp_probe, args)
    assert not ok
    assert res["msg"] == msg, res
    assert res["results"] == [] and res["delivered"] == [] and res["message_id"] is None
    assert seen == []  # refused before connecting


def test_null_sender_is_allowed(server):
    _handler, port = server
    ok, res = run_module(lmtp_probe, dict(port=port, addresses=[LIST], mail_from=""))
    assert ok and res["all_accepted"], res


def test_idna_domain_and_host_are_usable(server):
    _handler, port = server
    ok, res = run_module(lmtp_probe, dict(host="localhost", port=port,
                                          addresses=["rg@xn--bcher-kva.example.org"]))
    assert not ok  # the server does not know the list: a 550, not a traceback
    assert "no such list in Mailman (550)" in res["msg"], res
