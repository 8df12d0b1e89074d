# SPDX-License-Identifier: GPL-3.0-or-later
"""The Mailman hops on realistic inputs: queue and list directories built on
disk, mailman.log/smtp.log excerpts in Mailman's own format."""
from __future__ import annotations

import os
import pwd
import time

import pytest
from ansible_collections.mailops.mailman.plugins.module_utils import trace_mailman

LIST = "reading-group@local.edu"
LID = "reading-group.local.edu"

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
    h = trace_mailman.check_mailman_inbound(LIST, var, logs)
    assert h["ok"], h
    assert any(d.startswith("warning: 1 message(s) in") for d in h["detail"])


@needs_root
def test_inbound_root_owned_list_dir(tmp_path):
    var, logs = make_var_dir(tmp_path, 0)
    pck(var, "shunt", 30)
    with open(os.path.join(logs, "mailman.log"), "a") as fp:
        fp.write(MAILMAN_LOG_SHUNT)
    h = trace_mailman.check_mailman_inbound(LIST, var, logs)
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
    h = trace_mailman.check_mailman_inbound(LIST, var, logs)
    assert not h["ok"]
    assert h["evidence"] == "1 message(s) in %s/queue/shunt (Mailman hit an error processing them)" % var
    assert any("unreadable message(s) in %s/queue/bad" % var in d for d in h["detail"])
    assert any("queue/pipeline older than 60s" in d for d in h["detail"])


def test_outbound(tmp_path):
    var, logs = make_var_dir(tmp_path)
    pck(var, "out", 10)
    h = trace_mailman.check_mailman_outbound(LIST, var, logs)
    assert h["ok"], h
    assert any("smtp to reading-group@local.edu for 2 recips" in d for d in h["detail"])

    pck(var, "retry", 900, 1)
    with open(os.path.join(logs, "mailman.log"), "a") as fp:
        fp.write(MAILMAN_LOG_SMTP)
    h = trace_mailman.check_mailman_outbound(LIST, var, logs)
    assert not h["ok"]
    assert h["evidence"] == ("1 in %s/queue/retry older than 60s: the out runner cannot hand mail "
                             "to Postfix: Nov 21 06:10:30 2026 (5059) Cannot connect to SMTP server "
                             "localhost on port 25" % var)
    assert any(d.startswith("smtp.log: ") for d in h["detail"])


def test_log_records_keep_tracebacks_together(tmp_path):
    log = tmp_path / "mailman.log"
    log.write_text(MAILMAN_LOG_SHUNT)
    records = trace_mailman.log_records(str(log))
    assert [len(r) for r in records] == [1, 1, 11, 1, 1, 1]
    # Only the tail is read, and a record cut in half at the start is dropped.
    assert trace_mailman.log_records(str(log), max_bytes=200)[-1][0].startswith("[21/Nov/2026")
    assert trace_mailman.log_records(str(tmp_path / "none.log")) == []
