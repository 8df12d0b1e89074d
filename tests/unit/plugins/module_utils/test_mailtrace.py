# SPDX-License-Identifier: GPL-3.0-or-later
"""The trace checks on realistic inputs: postconf/postmap answers and `postqueue -j`
lines as Postfix 3.7 (Debian 12) prints them, Mailman queue and list directories
built on disk, mailman.log/smtp.log excerpts in Mailman's own format, and a real
aiosmtpd LMTP server for the lmtp hop."""
from __future__ import annotations

import json
import os
import pwd
import time

import pytest

from ansible_collections.mailops.mailman.plugins.module_utils import mailtrace
from tests.unit.lmtp_server import free_port, lmtp_server, mute_server

LIST = "reading-group@local.edu"
LID = "reading-group.local.edu"
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

# The tail of mailman.log after a post to a list whose data dir is root-owned.
MAILMAN_LOG_SHUNT = """\
Nov 21 05:49:41 2026 (5057) lmtp runner started.
Nov 21 06:02:11 2026 (5060) Uncaught runner exception: [Errno 13] Permission denied: \
'/var/lib/mailman3/lists/reading-group.local.edu/digest.mmdf'
Nov 21 06:02:11 2026 (5060) Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/mailman/core/runner.py", line 173, in _one_iteration
    self._process_one_file(msg, msgdata)
  File "/usr/lib/python3/dist-packages/mailman/core/runner.py", line 266, in _process_one_file
    keepqueued = self._dispose(mlist, msg, msgdata)
  File "/usr/lib/python3/dist-packages/mailman/runners/pipeline.py", line 37, in _dispose
    process(mlist, msg, msgdata, pipeline)
  File "/usr/lib/python3/dist-packages/mailman/handlers/to_digest.py", line 50, in process
    with Mailbox(mailbox_path, create=True) as mbox:
PermissionError: [Errno 13] Permission denied: '/var/lib/mailman3/lists/reading-group.local.edu/digest.mmdf'

Nov 21 06:02:11 2026 (5060) SHUNTING: 1763704931.0791016+5d1ea9b1a4e5b0c0d2f3a4b5c6d7e8f901234567
Nov 21 06:02:12 2026 (5055) Uncaught runner exception: unrelated failure for other-list.local.edu
[21/Nov/2026:06:02:13 +0000] "GET /3.1/lists HTTP/1.1" 200 90 "-" "ansible-httpget"
"""

MAILMAN_LOG_SMTP = """\
Nov 21 06:10:01 2026 (5059) out runner started.
Nov 21 06:10:30 2026 (5059) Cannot connect to SMTP server localhost on port 25
"""

SMTP_LOG = """\
Nov 21 06:00:02 2026 (5059) <1@local.edu> smtp to reading-group@local.edu for 2 recips, completed in 0.031 seconds
Nov 21 06:00:02 2026 (5059) <1@local.edu> post to reading-group@local.edu from u1@local.edu, 1532 bytes
"""


def postfix(answers):
    """Command runner answering like Postfix on the demo host; unknown commands fail."""
    def run(argv):
        if argv[0] in answers.get("missing", ()):
            raise mailtrace.ToolMissing(argv[0])
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
    h = mailtrace.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir,
                                        postfix(healthy_postfix(data_dir)))
    assert h["ok"], h
    assert h["hop"] == "postfix_routing"
    assert "postmap -q reading-group-confirm@local.edu → lmtp:[127.0.0.1]:8024" in h["detail"]


def test_routing_transport_maps_missing_the_map(data_dir):
    answers = healthy_postfix(data_dir, **{})
    answers[("postconf", "-xh", "transport_maps")] = (0, "\n", "")
    h = mailtrace.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir, postfix(answers))
    assert not h["ok"]
    assert h["evidence"] == "transport_maps does not include hash:%s/postfix_lmtp" % data_dir


def test_routing_list_not_in_map(data_dir):
    # What the demo host answers before the list is created: rc 1, no output.
    answers = healthy_postfix(data_dir)
    the_map = "hash:%s/postfix_lmtp" % data_dir
    answers[("postmap", "-q", LIST, the_map)] = (1, "", "")
    h = mailtrace.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir, postfix(answers))
    assert not h["ok"]
    assert h["evidence"] == ("postmap -q reading-group@local.edu → (not found): the list is "
                             "missing from Mailman's generated map")


def test_routing_db_missing(data_dir):
    os.remove(os.path.join(data_dir, "postfix_lmtp.db"))
    h = mailtrace.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir,
                                        postfix(healthy_postfix(data_dir)))
    assert not h["ok"]
    assert h["evidence"].startswith("%s/postfix_lmtp.db does not exist" % data_dir)


def test_routing_wrong_port(data_dir):
    h = mailtrace.check_postfix_routing(LIST, "127.0.0.1", 8025, data_dir,
                                        postfix(healthy_postfix(data_dir)))
    assert not h["ok"]
    assert "expected lmtp:[127.0.0.1]:8025" in h["evidence"]


def test_routing_local_recipient_maps(data_dir):
    answers = healthy_postfix(data_dir)
    answers[("postconf", "-xh", "local_recipient_maps")] = (0, "proxy:unix:passwd.byname $alias_maps\n", "")
    h = mailtrace.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir, postfix(answers))
    assert not h["ok"]
    assert "local_recipient_maps does not include" in h["evidence"]
    assert "User unknown in local recipient table" in h["evidence"]
    # A relayed domain is not checked against local_recipient_maps.
    answers[("postconf", "-xh", "mydestination")] = (0, "mail.local.edu, localhost\n", "")
    assert mailtrace.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir, postfix(answers))["ok"]


def test_routing_recipient_delimiter(data_dir):
    answers = healthy_postfix(data_dir)
    answers[("postconf", "-h", "recipient_delimiter")] = (0, "\n", "")
    h = mailtrace.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir, postfix(answers))
    assert not h["ok"]
    assert "recipient_delimiter" in h["evidence"]


def test_routing_postfix_not_installed(data_dir):
    h = mailtrace.check_postfix_routing(LIST, "127.0.0.1", 8024, data_dir,
                                        postfix({"missing": ("postconf", "postmap", "postqueue")}))
    assert not h["ok"]
    assert h["evidence"] == "postconf not found: is postfix installed?"


def test_lmtp_accepts():
    with lmtp_server([LIST]) as (handler, port):
        h = mailtrace.check_lmtp(LIST, "127.0.0.1", port)
        assert h["ok"], h
        assert handler.messages == []  # RCPT only, nothing delivered
    assert any("RCPT TO:<reading-group-join@local.edu> → 250" in d for d in h["detail"])


def test_lmtp_unknown_list():
    with lmtp_server(["other@local.edu"]) as (_, port):
        h = mailtrace.check_lmtp(LIST, "127.0.0.1", port)
    assert not h["ok"]
    assert h["evidence"].startswith("RCPT TO:<reading-group@local.edu> answered 550")
    assert "no such list" in h["evidence"]


def test_lmtp_refused():
    port = free_port()
    h = mailtrace.check_lmtp(LIST, "127.0.0.1", port)
    assert not h["ok"]
    assert h["evidence"] == ("nothing listening on 127.0.0.1:%d (connection refused): mailman3 "
                             "down or lmtp_port wrong" % port)


def test_lmtp_mute():
    with mute_server() as port:
        h = mailtrace.check_lmtp(LIST, "127.0.0.1", port, timeout=0.5)
    assert not h["ok"]
    assert h["evidence"].startswith("no greeting from 127.0.0.1:%d within 0.5s" % port)


def test_postqueue_stuck_on_the_way_to_lmtp():
    entries = mailtrace.parse_postqueue(POSTQUEUE)
    h = mailtrace.check_postfix_to_lmtp(LIST, entries, now=NOW)
    assert not h["ok"]
    assert h["evidence"] == ("2 message(s) for reading-group@local.edu stuck in Postfix's queue: "
                             "connect to 127.0.0.1[127.0.0.1]:8024: Connection refused")
    assert len(h["detail"]) == 2  # not reading-group-admins
    assert h["detail"][0].startswith("deferred 4dCk1v0x7Mz1xJ from <u1@local.edu> to "
                                     "<reading-group@local.edu>, 300s old")
    assert mailtrace.check_postfix_to_lmtp(LIST, [], now=NOW)["ok"]


def test_postqueue_delivery():
    entries = mailtrace.parse_postqueue(POSTQUEUE)
    # The list's own outgoing mail (sender list-bounces@) is found without recipients.
    h = mailtrace.check_postfix_delivery(LIST, [], entries, now=NOW)
    assert not h["ok"]
    assert "u3@example.net" in h["evidence"]
    assert h["evidence"].endswith("connect to mx.example.net[192.0.2.25]:25: Connection timed out")
    other = mailtrace.parse_postqueue(POSTQUEUE.splitlines()[0])
    assert mailtrace.check_postfix_delivery(LIST, ["u1@local.edu", "u2@local.edu"], other, now=NOW)["ok"]


def test_postqueue_not_installed():
    hops = mailtrace.queue_hops(LIST, [], postfix({"missing": ("postqueue",)}))
    assert [h["hop"] for h in hops] == ["postfix_to_lmtp", "postfix_delivery"]
    assert all(h["evidence"] == "postqueue not found: is postfix installed?" for h in hops)


def make_var_dir(tmp_path, list_owner_uid=None):
    var = tmp_path / "var"
    for q in ("archive", "bad", "bounces", "command", "digest", "in", "nntp", "out",
              "pipeline", "retry", "shunt", "virgin"):
        (var / "queue" / q).mkdir(parents=True)
    list_dir = var / "lists" / LID
    list_dir.mkdir(parents=True)
    if list_owner_uid is not None:
        os.chown(list_dir, list_owner_uid, list_owner_uid)
    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "mailman.log").write_text("Nov 21 05:49:41 2026 (5057) lmtp runner started.\n")
    (logs / "smtp.log").write_text(SMTP_LOG)
    return str(var), str(logs)


def pck(var, queue, age, n=0):
    """A queue entry as Mailman's switchboard names it: <time>+<sha1>.pck."""
    when = time.time() - age
    path = os.path.join(var, "queue", queue, "%.7f+%040x.pck" % (when, n))
    with open(path, "wb") as fp:
        fp.write(b"\x80\x04\x95")  # start of a pickle; content is never read
    os.utime(path, (when, when))
    return path


def list_uid():
    try:
        return pwd.getpwnam("list").pw_uid
    except KeyError:
        pytest.skip("no 'list' user on this machine")


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


@needs_root
def test_inbound_ok(tmp_path):
    var, logs = make_var_dir(tmp_path, list_uid())
    pck(var, "pipeline", 2)  # being worked on right now: a warning only
    h = mailtrace.check_mailman_inbound(LIST, var, logs)
    assert h["ok"], h
    assert any(d.startswith("warning: 1 message(s) in") for d in h["detail"])


@needs_root
def test_inbound_root_owned_list_dir(tmp_path):
    var, logs = make_var_dir(tmp_path, 0)
    pck(var, "shunt", 30)
    with open(os.path.join(logs, "mailman.log"), "a") as fp:
        fp.write(MAILMAN_LOG_SHUNT)
    h = mailtrace.check_mailman_inbound(LIST, var, logs)
    assert not h["ok"]
    assert h["evidence"] == ("%s/lists/%s is owned by root, not list: every post shunts with "
                             "PermissionError (the pipeline writes digest.mmdf there) while joins "
                             "keep working" % (var, LID))
    assert h["look_at"].startswith("chown -R list:list ")
    # The shunt is reported too, quoting the traceback's last line, not the other list's error.
    quoted = [d for d in h["detail"] if d.startswith("mailman.log: ")]
    assert len(quoted) == 2
    assert "Uncaught runner exception: [Errno 13]" in quoted[0]
    assert quoted[1].endswith("PermissionError: [Errno 13] Permission denied: "
                              "'/var/lib/mailman3/lists/reading-group.local.edu/digest.mmdf'")
    assert any(d.startswith("also: 1 message(s) in %s/queue/shunt" % var) for d in h["detail"])


@needs_root
def test_inbound_shunt_and_stale_pipeline(tmp_path):
    var, logs = make_var_dir(tmp_path, list_uid())
    pck(var, "shunt", 30)
    pck(var, "pipeline", 600)
    open(os.path.join(var, "queue", "bad", "1763704931.0791016+ab.psv"), "wb").close()
    h = mailtrace.check_mailman_inbound(LIST, var, logs)
    assert not h["ok"]
    assert h["evidence"] == "1 message(s) in %s/queue/shunt (Mailman hit an error processing them)" % var
    assert any("unreadable message(s) in %s/queue/bad" % var in d for d in h["detail"])
    assert any("queue/pipeline older than 60s" in d for d in h["detail"])


def test_outbound(tmp_path):
    var, logs = make_var_dir(tmp_path)
    pck(var, "out", 10)
    h = mailtrace.check_mailman_outbound(LIST, var, logs)
    assert h["ok"], h
    assert any("smtp to reading-group@local.edu for 2 recips" in d for d in h["detail"])

    pck(var, "retry", 900, 1)
    with open(os.path.join(logs, "mailman.log"), "a") as fp:
        fp.write(MAILMAN_LOG_SMTP)
    h = mailtrace.check_mailman_outbound(LIST, var, logs)
    assert not h["ok"]
    assert h["evidence"] == ("1 in %s/queue/retry older than 60s: the out runner cannot hand mail "
                             "to Postfix: Nov 21 06:10:30 2026 (5059) Cannot connect to SMTP server "
                             "localhost on port 25" % var)
    assert any(d.startswith("smtp.log: ") for d in h["detail"])


def test_log_records_keep_tracebacks_together(tmp_path):
    log = tmp_path / "mailman.log"
    log.write_text(MAILMAN_LOG_SHUNT)
    records = mailtrace.log_records(str(log))
    assert [len(r) for r in records] == [1, 1, 11, 1, 1, 1]
    # Only the tail is read, and a record cut in half at the start is dropped.
    assert mailtrace.log_records(str(log), max_bytes=200)[-1][0].startswith("[21/Nov/2026")
    assert mailtrace.log_records(str(tmp_path / "none.log")) == []


def test_trace_checks_only_the_hops_asked_for(tmp_path):
    # Mailman hops only (as on a core behind MX front ends): no Postfix tool
    # is run, no LMTP connection is made.
    ran = []

    def run(argv):
        ran.append(argv)
        raise AssertionError("no command may run for the Mailman hops")

    hops = mailtrace.trace("l@example.org", [], "127.0.0.1", 1, str(tmp_path), str(tmp_path),
                           str(tmp_path), run, only=("mailman_outbound", "mailman_inbound"))
    assert [h["hop"] for h in hops] == ["mailman_inbound", "mailman_outbound"]
    assert ran == []
