# SPDX-License-Identifier: GPL-3.0-or-later
"""mailman_trace run through AnsibleModule against a real aiosmtpd LMTP server,
Mailman queue/list directories on disk, and stand-ins for postconf/postmap/postqueue
(shell scripts on PATH printing what Postfix 3.7 prints), since this machine
has no Postfix. The real faults are exercised in the Molecule scenario."""
from __future__ import annotations

import os
import pwd
import shutil
import stat

import pytest
from ansible_collections.mailops.mailman.plugins.modules import mailman_trace

from tests.unit.lmtp_server import free_port, lmtp_server
from tests.unit.plugins.modules.utils import run_module

LIST = "reading-group@local.edu"
LID = "reading-group.local.edu"

POSTCONF = """#!/bin/sh
case "$1 $2" in
  "-xh transport_maps") echo "hash:{data}/postfix_lmtp" ;;
  "-h recipient_delimiter") echo "+" ;;
  "-xh mydestination") echo "local.edu, localhost" ;;
  "-xh local_recipient_maps") echo "proxy:unix:passwd.byname hash:/etc/aliases hash:{data}/postfix_lmtp" ;;
  *) echo "postconf: warning: $2: unknown parameter" >&2 ;;
esac
"""
POSTMAP = """#!/bin/sh
case "$2" in
  reading-group@local.edu|reading-group-join@local.edu|reading-group-leave@local.edu|\
reading-group-confirm@local.edu) echo "lmtp:[127.0.0.1]:{port}" ;;
  *) exit 1 ;;
esac
"""
POSTQUEUE = """#!/bin/sh
cat {queue}
"""
STUCK = ('{"queue_name": "deferred", "queue_id": "4dCk1v0x7Mz1xJ", "arrival_time": 1763704500, '
         '"message_size": 1532, "forced_expire": false, "sender": "u1@local.edu", "recipients": '
         '[{"address": "reading-group@local.edu", "delay_reason": "connect to '
         '127.0.0.1[127.0.0.1]:8024: Connection refused"}]}\n')


def has_postfix():
    return any(shutil.which("postconf", path=d) for d in ("/usr/sbin", "/sbin"))


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A list server on disk: Mailman's var/log dirs, its generated map, Postfix's tools."""
    if has_postfix():
        pytest.skip("a real Postfix is installed here; the stand-ins would not be used")
    var, logs, data, bin_dir = (tmp_path / n for n in ("var", "log", "var/data", "bin"))
    for q in ("bad", "in", "out", "pipeline", "retry", "shunt"):
        (var / "queue" / q).mkdir(parents=True)
    (var / "lists" / LID).mkdir(parents=True)
    try:
        uid = pwd.getpwnam("list").pw_uid
        os.chown(var / "lists" / LID, uid, uid)
    except (KeyError, PermissionError):
        pytest.skip("needs root and a 'list' user to own the list directory")
    data.mkdir()
    (data / "postfix_lmtp").write_text("reading-group@local.edu lmtp:[127.0.0.1]:8024\n")
    (data / "postfix_lmtp.db").write_bytes(b"\0" * 64)
    logs.mkdir()
    (logs / "mailman.log").write_text("Nov 21 05:49:41 2026 (5057) lmtp runner started.\n")
    (logs / "smtp.log").write_text("")
    (tmp_path / "queue.json").write_text("")
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))

    def postfix(port):
        for name, text in (("postconf", POSTCONF), ("postmap", POSTMAP), ("postqueue", POSTQUEUE)):
            path = bin_dir / name
            path.write_text(text.format(data=data, port=port, queue=tmp_path / "queue.json"))
            path.chmod(stat.S_IRWXU)

    return dict(var=str(var), log=str(logs), tmp=tmp_path, postfix=postfix)


def args(host, port, **more):
    return dict(list=LIST, recipients=["u1@local.edu", "u2@local.edu"], lmtp_port=port,
                mailman_var_dir=host["var"], mailman_log_dir=host["log"], **more)


def test_all_hops_ok_in_check_mode(host):
    with lmtp_server([LIST]) as (handler, port):
        host["postfix"](port)
        ok, res = run_module(mailman_trace, args(host, port), check_mode=True)
        assert handler.messages == []
    assert ok, res
    assert res["changed"] is False
    assert res["broken_hop"] is None
    assert [h["hop"] for h in res["hops"]] == [
        "postfix_routing", "lmtp", "postfix_to_lmtp", "mailman_inbound",
        "mailman_outbound", "postfix_delivery"]
    assert all(h["ok"] for h in res["hops"]), res["hops"]
    assert res["order"] == [h["hop"] for h in res["hops"]]
    assert set(res["hops"][0]) == {"hop", "ok", "evidence", "detail", "look_at"}


def test_lmtp_down_fails_naming_the_hop(host):
    port = free_port()
    host["postfix"](port)
    (host["tmp"] / "queue.json").write_text(STUCK)
    ok, res = run_module(mailman_trace, args(host, port))
    assert not ok
    assert res["broken_hop"] == "lmtp"
    assert res["msg"].startswith(
        "broken hop: lmtp: nothing listening on 127.0.0.1:%d (connection refused): is mailman3 "
        "running and is [mta] lmtp_host/lmtp_port right? see %s/mailman.log; look at: "
        % (port, host["log"]))
    to_lmtp = res["hops"][2]
    assert to_lmtp["hop"] == "postfix_to_lmtp" and not to_lmtp["ok"]
    assert "Connection refused" in to_lmtp["evidence"]


def test_root_owned_list_dir_reported_without_failing(host):
    os.chown(os.path.join(host["var"], "lists", LID), 0, 0)
    with lmtp_server([LIST]) as (_handler, port):
        host["postfix"](port)
        ok, res = run_module(mailman_trace, args(host, port, fail_on_broken=False))
    assert ok, res
    assert res["broken_hop"] == "mailman_inbound"
    assert "owned by root, not list: every post shunts with PermissionError" in res["msg"]


def test_postfix_not_installed(host):
    # No stand-ins on PATH: this machine really has no Postfix.
    with lmtp_server([LIST]) as (_handler, port):
        ok, res = run_module(mailman_trace, args(host, port, fail_on_broken=False))
    assert ok
    assert res["broken_hop"] == "postfix_routing"
    assert res["hops"][0]["evidence"] == "postconf not found: is postfix installed?"
    assert res["hops"][2]["evidence"] == "postqueue not found: is postfix installed?"
    assert res["hops"][1]["ok"]


def test_bad_list_address():
    ok, res = run_module(mailman_trace, dict(list="reading-group"))
    assert not ok
    assert "not a list address" in res["msg"]


@pytest.mark.parametrize("more,expect", [
    (dict(list="reading-group@local.edu\n"), "not a list address"),
    (dict(list="r\u00e9@local.edu"), "not a list address"),
    (dict(list=LIST, lmtp_timeout=0), "lmtp_timeout="),
    (dict(list=LIST, lmtp_timeout=-1), "lmtp_timeout="),
    (dict(list=LIST, lmtp_port=70000), "lmtp_port="),
    (dict(list=LIST, lmtp_port=0), "lmtp_port="),
])
def test_impossible_arguments_are_refused(more, expect):
    ok, res = run_module(mailman_trace, more)
    assert not ok and expect in res["msg"], res
    assert res["hops"] == []
    assert res["order"][0] == "postfix_routing"


def test_order_is_the_whole_path_when_only_some_hops_are_checked(host):
    # What an MX/core pair of traces is sorted by.
    ok, res = run_module(mailman_trace, args(host, free_port(), hops=["mailman_outbound",
                                                                      "mailman_inbound"]))
    assert ok, res
    assert [h["hop"] for h in res["hops"]] == ["mailman_inbound", "mailman_outbound"]
    assert res["order"] == ["postfix_routing", "lmtp", "postfix_to_lmtp", "mailman_inbound",
                            "mailman_outbound", "postfix_delivery"]
