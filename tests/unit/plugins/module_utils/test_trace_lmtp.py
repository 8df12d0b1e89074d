# SPDX-License-Identifier: GPL-3.0-or-later
"""The lmtp hop against a real aiosmtpd LMTP server (the dialogue itself is
tested in test_lmtp.py)."""
from __future__ import annotations

from ansible_collections.mailops.mailman.plugins.module_utils import trace_lmtp

from tests.unit.lmtp_server import free_port, lmtp_server, mute_server
from tests.unit.plugins.module_utils.test_lmtp import scripted_server

LIST = "reading-group@local.edu"


def test_lmtp_accepts():
    with lmtp_server([LIST]) as (handler, port):
        h = trace_lmtp.check_lmtp(LIST, "127.0.0.1", port)
        assert h["ok"], h
        assert handler.messages == []  # RCPT only, nothing delivered
    assert h["detail"][0].startswith("greeting: ")
    assert h["detail"][0].endswith(" GNU Mailman LMTP runner 2.0")
    assert [d.split(" → ")[0] for d in h["detail"][1:]] == [
        "RCPT TO:<reading-group@local.edu>", "RCPT TO:<reading-group-join@local.edu>",
        "RCPT TO:<reading-group-leave@local.edu>"]
    assert any("RCPT TO:<reading-group-join@local.edu> → 250" in d for d in h["detail"])


def test_lmtp_unknown_list():
    with lmtp_server(["other@local.edu"]) as (_handler, port):
        h = trace_lmtp.check_lmtp(LIST, "127.0.0.1", port)
    assert not h["ok"]
    assert h["evidence"] == (
        "RCPT rejected for reading-group@local.edu, reading-group-join@local.edu, "
        "reading-group-leave@local.edu: no such list in Mailman (550): is the list created? "
        "check `mailman lists`/REST")
    assert h["look_at"] == "mailman-wrapper lists (is the list created, in this domain?)"
    assert any(d.startswith("RCPT TO:<reading-group-leave@local.edu> → 550") for d in h["detail"])


def test_lmtp_refused():
    port = free_port()
    h = trace_lmtp.check_lmtp(LIST, "127.0.0.1", port)
    assert not h["ok"]
    assert h["evidence"] == ("nothing listening on 127.0.0.1:%d (connection refused): is mailman3 "
                             "running and is [mta] lmtp_host/lmtp_port right? see "
                             "/var/log/mailman3/mailman.log" % port)
    assert h["detail"] == []


def test_lmtp_mute():
    with mute_server() as port:
        h = trace_lmtp.check_lmtp(LIST, "127.0.0.1", port, timeout=0.5)
    assert not h["ok"]
    assert h["evidence"] == ("no answer from 127.0.0.1:%d within 0.5s: wrong bind address "
                             "(lmtp_host) or a firewall" % port)


def test_lmtp_unexpected_greeting_points_at_the_port(tmp_path):
    with mute_server(b"554 go away\r\n") as port:
        h = trace_lmtp.check_lmtp(LIST, "127.0.0.1", port, timeout=2, log_dir=str(tmp_path))
    assert not h["ok"]
    assert h["evidence"].startswith("unexpected greeting from 127.0.0.1:%d: 'go away' (code 554" % port)
    assert h["look_at"] == "ss -ltnp | grep %d: is something else on that port?" % port
    assert h["detail"] == ["greeting: go away"]


def test_lmtp_silent_after_lhlo_names_the_greeting_once():
    with scripted_server(b"220 lmtp\r\n", [b"250 ok\r\n"]) as (port, _seen):
        h = trace_lmtp.check_lmtp(LIST, "127.0.0.1", port, timeout=0.5)
    assert not h["ok"]
    assert h["evidence"] == "127.0.0.1:%d stopped answering within 0.5s after LHLO" % port
    assert h["detail"] == ["greeting: lmtp"]
