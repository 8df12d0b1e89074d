# SPDX-License-Identifier: GPL-3.0-or-later
"""The Postfix hops on realistic inputs: postconf/postmap answers and `postqueue -j`
lines as Postfix 3.7 (Debian 12) prints them."""
from __future__ import annotations

import json
import os

import pytest
from ansible_collections.mailops.mailman.plugins.module_utils import trace_postfix
from ansible_collections.mailops.mailman.plugins.module_utils.trace_hop import ToolMissing

LIST = "reading-group@local.edu"
NOW = 1763704800

# `postqueue -j` while Mailman's LMTP runner was down: a post and a join stuck
# on the way to LMTP, plus an unrelated local message and a list delivery.
POSTQUEUE = "\n".join(json.dumps(e) for e in [
    {"queue_name": "deferred", "queue_id": "4dCk1v0x7Mz1xJ", "arrival_time": NOW - 300,
     "message_size": 1532, "forced_expire": False, "sender": "u1@local.edu",
     "recipients": [{"address": "reading-group@local.edu",
                     "delay_reason": "connect to 127.0.0.1[127.0.0.1]:8024: Connection refused"}]},
    {"queue_name": "deferred", "queue_id": "4dCk2B3yQvz1xK", "arrival_time": NOW - 240,
     "message_size": 980, "forced_expire": False, "sender": "u2@local.edu",
     "recipients": [{"address": "reading-group-join@local.edu",
                     "delay_reason": "connect to 127.0.0.1[127.0.0.1]:8024: Connection refused"}]},
    {"queue_name": "active", "queue_id": "4dCk3F6mWnz1xL", "arrival_time": NOW - 5,
     "message_size": 700, "forced_expire": False, "sender": "root@local.edu",
     "recipients": [{"address": "reading-group-admins@local.edu"}]},
    {"queue_name": "deferred", "queue_id": "4dCk4H8pTrz1xM", "arrival_time": NOW - 120,
     "message_size": 2210, "forced_expire": False, "sender": "reading-group-bounces@local.edu",
     "recipients": [{"address": "u3@example.net",
                     "delay_reason": "connect to mx.example.net[192.0.2.25]:25: Connection timed out"}]},
]) + "\n"


def postfix(answers):
    """Command runner answering like Postfix on the demo host; unknown commands fail."""
    def run(argv):
        if argv[0] in answers.get("missing", ()):
            raise ToolMissing(argv[0])
        return answers.get(tuple(argv), (1, "", ""))
    return run


def healthy_postfix(data_dir, **changes):
    the_map = "hash:%s/postfix_lmtp" % data_dir
    answers = {
        ("postconf", "-xh", "transport_maps"): (0, the_map + "\n", ""),
        ("postconf", "-h", "recipient_delimiter"): (0, "+\n", ""),
        ("postconf", "-xh", "mydestination"): (0, "local.edu, localhost\n", ""),
        ("postconf", "-xh", "local_recipient_maps"):
            (0, "proxy:unix:passwd.byname hash:/etc/aliases %s\n" % the_map, ""),
        ("postqueue", "-j"): (0, "", ""),
    }
    for form in ("", "-join", "-leave", "-confirm"):
        answers[("postmap", "-q", "reading-group%s@local.edu" % form, the_map)] = \
            (0, "lmtp:[127.0.0.1]:8024\n", "")
    answers.update(changes)
    return answers


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "postfix_lmtp").write_text("reading-group@local.edu lmtp:[127.0.0.1]:8024\n")
    (d / "postfix_lmtp.db").write_bytes(b"\0" * 64)
    return str(d)


def test_routing_ok(data_dir):
    h = trace_postfix.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir,
                                            postfix(healthy_postfix(data_dir)))
    assert h["ok"], h
    assert h["hop"] == "postfix_routing"
    assert "postmap -q reading-group-confirm@local.edu → lmtp:[127.0.0.1]:8024" in h["detail"]
    assert h["evidence"] == ("reading-group@local.edu and its -join/-leave/-confirm forms route to "
                             "lmtp:[127.0.0.1]:8024")


def test_routing_transport_maps_missing_the_map(data_dir):
    answers = healthy_postfix(data_dir, **{})
    answers[("postconf", "-xh", "transport_maps")] = (0, "\n", "")
    h = trace_postfix.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir, postfix(answers))
    assert not h["ok"]
    assert h["evidence"] == "transport_maps does not include hash:%s/postfix_lmtp" % data_dir


def test_routing_list_not_in_map(data_dir):
    # What the demo host answers before the list is created: rc 1, no output.
    answers = healthy_postfix(data_dir)
    the_map = "hash:%s/postfix_lmtp" % data_dir
    answers[("postmap", "-q", LIST, the_map)] = (1, "", "")
    h = trace_postfix.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir, postfix(answers))
    assert not h["ok"]
    assert h["evidence"] == ("postmap -q reading-group@local.edu → (not found): the list is "
                             "missing from Mailman's generated map")


def test_routing_db_missing(data_dir):
    os.remove(os.path.join(data_dir, "postfix_lmtp.db"))
    h = trace_postfix.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir,
                                            postfix(healthy_postfix(data_dir)))
    assert not h["ok"]
    assert h["evidence"].startswith("%s/postfix_lmtp.db does not exist" % data_dir)


def test_routing_wrong_port(data_dir):
    h = trace_postfix.check_postfix_routing(LIST, "127.0.0.1", 8025, data_dir,
                                            postfix(healthy_postfix(data_dir)))
    assert not h["ok"]
    assert "expected lmtp:[127.0.0.1]:8025" in h["evidence"]


def test_routing_local_recipient_maps(data_dir):
    answers = healthy_postfix(data_dir)
    answers[("postconf", "-xh", "local_recipient_maps")] = (0, "proxy:unix:passwd.byname $alias_maps\n", "")
    h = trace_postfix.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir, postfix(answers))
    assert not h["ok"]
    assert "local_recipient_maps does not include" in h["evidence"]
    assert "User unknown in local recipient table" in h["evidence"]
    # A relayed domain is not checked against local_recipient_maps.
    answers[("postconf", "-xh", "mydestination")] = (0, "mail.local.edu, localhost\n", "")
    assert trace_postfix.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir, postfix(answers))["ok"]


def test_routing_recipient_delimiter(data_dir):
    answers = healthy_postfix(data_dir)
    answers[("postconf", "-h", "recipient_delimiter")] = (0, "\n", "")
    h = trace_postfix.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir, postfix(answers))
    assert not h["ok"]
    assert "recipient_delimiter" in h["evidence"]


def test_routing_postfix_not_installed(data_dir):
    h = trace_postfix.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir,
                                            postfix({"missing": ("postconf", "postmap", "postqueue")}))
    assert not h["ok"]
    assert h["evidence"] == "postconf not found: is postfix installed?"


def test_postqueue_stuck_on_the_way_to_lmtp():
    entries = trace_postfix.parse_postqueue(POSTQUEUE)
    h = trace_postfix.check_postfix_to_lmtp(LIST, entries, now=NOW)
    assert not h["ok"]
    assert h["evidence"] == ("2 message(s) for reading-group@local.edu stuck in Postfix's queue: "
                             "connect to 127.0.0.1[127.0.0.1]:8024: Connection refused")
    assert len(h["detail"]) == 2  # not reading-group-admins
    assert h["detail"][0].startswith("deferred 4dCk1v0x7Mz1xJ from <u1@local.edu> to "
                                     "<reading-group@local.edu>, 300s old")
    assert trace_postfix.check_postfix_to_lmtp(LIST, [], now=NOW)["ok"]


def test_postqueue_delivery():
    entries = trace_postfix.parse_postqueue(POSTQUEUE)
    # The list's own outgoing mail (sender list-bounces@) is found without recipients.
    h = trace_postfix.check_postfix_delivery(LIST, [], entries, now=NOW)
    assert not h["ok"]
    assert "u3@example.net" in h["evidence"]
    assert h["evidence"].endswith("connect to mx.example.net[192.0.2.25]:25: Connection timed out")
    other = trace_postfix.parse_postqueue(POSTQUEUE.splitlines()[0])
    assert trace_postfix.check_postfix_delivery(LIST, ["u1@local.edu", "u2@local.edu"], other, now=NOW)["ok"]


def test_postqueue_not_installed():
    hops = trace_postfix.queue_hops(LIST, [], postfix({"missing": ("postqueue",)}))
    assert [h["hop"] for h in hops] == ["postfix_to_lmtp", "postfix_delivery"]
    assert all(h["evidence"] == "postqueue not found: is postfix installed?" for h in hops)
