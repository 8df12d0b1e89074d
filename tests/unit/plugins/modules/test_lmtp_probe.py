# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import email
import email.policy
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
    _, port = server
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
