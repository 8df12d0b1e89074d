# SPDX-License-Identifier: GPL-3.0-or-later
"""What a user can put in their own mailbox must not make root read anything else,
hang, run out of memory, or count half a delivery (issue 10).

Real files throughout: a FIFO, symbolic links to a root-only file, /dev/zero,
sparse files standing in for endless input, and a second process holding the
fcntl lock the way Postfix local(8) does while it appends.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import tracemalloc

import pytest
from ansible_collections.mailops.mailman.plugins.module_utils import mailbox
from ansible_collections.mailops.mailman.plugins.modules import mailbox_check

from tests.unit.plugins.modules.test_mailbox_check import (
    STAMP,
    mbox_entry,
    post_qp,
    write_maildir,
    write_mbox,
)
from tests.unit.plugins.modules.utils import run_module

SECRET = (b"From: root@local.edu\nSubject: secret shadow contents\n"
          b"Message-ID: <secret@local.edu>\n\nroot:$6$hash:19000:0:99999:7:::\n")


def run(tmp_path, subscribers, format="auto", **args):
    args.setdefault("mail_spool", str(tmp_path))
    args.setdefault("subject_contains", "secret")
    return run_module(mailbox_check, dict(
        subscribers=[dict(address="%d@local.edu" % i, mailbox=str(m), format=format)
                     for i, m in enumerate(subscribers)], **args))


@pytest.fixture
def root_only(tmp_path):
    """A file only root may read, outside the spool, that looks like mail."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    path = private / "shadow"
    path.write_bytes(SECRET)
    path.chmod(0o600)
    return path


@pytest.fixture
def spool(tmp_path):
    path = tmp_path / "spool"
    path.mkdir()
    return path


def test_symlinked_mbox_is_refused_not_read(tmp_path, spool, root_only):
    link = spool / "mallory"
    link.symlink_to(root_only)
    ok, res = run(tmp_path, [link], mail_spool=str(spool), state="absent")
    assert not ok
    assert res["msg"].startswith("%s is a symbolic link: refused" % link), res
    assert "secret shadow" not in str(res)


def test_symlink_in_maildir_new_is_refused_not_read(tmp_path, spool, root_only):
    maildir = write_maildir(spool / "Maildir", post_qp("mine@local.edu"))
    entry = os.path.join(maildir, "new", "1700000000.leak.host")
    os.symlink(root_only, entry)
    ok, res = run(tmp_path, [maildir], mail_spool=str(spool), state="absent")
    assert not ok
    assert res["msg"] == ("%s is a symbolic link: refused, never read through a link" % entry)
    assert "secret shadow" not in str(res)


def test_symlinked_maildir_subdirectory_is_refused(tmp_path, spool, root_only):
    maildir = write_maildir(spool / "Maildir")
    os.rmdir(os.path.join(maildir, "cur"))
    os.symlink(root_only.parent, os.path.join(maildir, "cur"))
    ok, res = run(tmp_path, [maildir], mail_spool=str(spool), format="maildir")
    assert not ok
    assert "cur is a symbolic link: refused" in res["msg"], res
    assert "secret shadow" not in str(res)


def test_dev_zero_is_refused_as_not_a_regular_file(tmp_path):
    started = time.monotonic()
    ok, res = run(tmp_path, ["/dev/zero"], allow_outside_spool=True, timeout=0)
    assert time.monotonic() - started < 2
    assert not ok
    assert res["msg"] == ("/dev/zero is a character device, not an mbox file or a "
                          "Maildir: refused"), res


@contextlib.contextmanager
def rescuer(fifo):
    """Should the guard fail, opening the FIFO blocks until a writer shows up:
    be that writer after 5 s, so a broken guard fails the test instead of hanging it."""
    def unblock():
        fd = os.open(fifo, os.O_WRONLY)
        os.close(fd)
    timer = threading.Timer(5, unblock)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def test_fifo_is_refused_without_hanging(tmp_path, spool):
    fifo = spool / "fifo"
    os.mkfifo(fifo)

    started = time.monotonic()
    with rescuer(fifo):
        ok, res = run(tmp_path, [fifo], mail_spool=str(spool), format="mbox",
                      state="absent")
    assert time.monotonic() - started < 2
    assert not ok
    assert res["msg"] == "%s is a FIFO, not an mbox file or a Maildir: refused" % fifo


def test_fifo_in_maildir_new_is_refused_without_hanging(tmp_path, spool):
    maildir = write_maildir(spool / "Maildir")
    fifo = os.path.join(maildir, "new", "1700000000.fifo.host")
    os.mkfifo(fifo)
    started = time.monotonic()
    with rescuer(fifo):
        ok, res = run(tmp_path, [maildir], mail_spool=str(spool), state="absent")
    assert time.monotonic() - started < 2
    assert not ok
    assert res["msg"] == "%s is a FIFO, not a regular file: refused" % fifo


def sparse_mbox(path, size, candidate):
    """An mbox whose one message has a body of `size` NUL bytes and no newline.

    Sparse, so it costs no disk: the stand-in for /dev/zero as a regular file.
    """
    subject = b"secret candidate" if candidate else b"something else"
    head = STAMP + b"From: a@local.edu\nSubject: " + subject + b"\n\n"
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + size)
    return path


def test_one_endless_line_is_not_held_in_memory(tmp_path, spool):
    path = sparse_mbox(spool / "alice", 256 << 20, candidate=False)
    tracemalloc.start()
    try:
        ok, res = run(tmp_path, [path], mail_spool=str(spool), timeout=0)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not ok and res["missing"] == ["0@local.edu"], res
    assert peak < 16 << 20, "peak %d MiB for one 256 MiB line" % (peak >> 20)


def test_huge_matching_message_is_refused(tmp_path, spool):
    path = sparse_mbox(spool / "alice", 100 << 20, candidate=True)
    ok, res = run(tmp_path, [path], mail_spool=str(spool), timeout=0)
    assert not ok
    assert res["msg"].startswith("%s: a message over 67108864 bytes at byte " % path), res
    assert "message_size_limit" in res["msg"]


def test_huge_header_block_is_refused(tmp_path, spool):
    path = spool / "alice"
    with open(path, "wb") as f:
        f.write(STAMP + b"Subject: secret\n" + b"X-Junk: " + b"j" * (2 << 20) + b"\n\nbody\n")
    ok, res = run(tmp_path, [path], mail_spool=str(spool), timeout=0)
    assert not ok
    assert res["msg"].startswith("%s: a header block over 1048576 bytes" % path), res


def test_endless_mailbox_stops_at_the_deadline(tmp_path, spool, monkeypatch):
    # 64 GiB of NULs (sparse): minutes to read, so only the deadline ends it.
    path = sparse_mbox(spool / "alice", 64 << 30, candidate=False)
    monkeypatch.setattr(mailbox_check, "MIN_LOOK", 0.5)
    started = time.monotonic()
    ok, res = run(tmp_path, [path], mail_spool=str(spool), timeout=1)
    elapsed = time.monotonic() - started
    assert not ok
    assert 1 <= elapsed < 3, elapsed
    assert res["msg"].startswith("gave up after 1.") and "(timeout 1s): still reading %s at byte " \
        % path in res["msg"], res


def test_timeout_0_still_gets_one_full_look(tmp_path, spool):
    path = write_mbox(spool / "alice", post_qp("a@local.edu"),
                      SECRET.replace(b"<secret@", b"<s2@"))
    ok, res = run(tmp_path, [path], mail_spool=str(spool), timeout=0)
    assert ok, res
    assert res["results"][0]["copies"] == 1


# -- the lock Postfix local(8) takes ---------------------------------------

HALF_WRITER = r"""
import fcntl, sys, time
path, first, rest, hold = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode(), float(sys.argv[4])
with open(path, "ab") as f:
    # What local(8) does with mailbox_delivery_lock = fcntl: an exclusive
    # fcntl (POSIX) lock on the whole file for the length of the append.
    fcntl.lockf(f, fcntl.LOCK_EX)
    f.write(first)
    f.flush()
    print("locked", flush=True)
    time.sleep(hold)
    f.write(rest)
    f.flush()
    fcntl.lockf(f, fcntl.LOCK_UN)
"""


@pytest.fixture
def half_written(spool):
    """An mbox with one old message and, mid-append under the lock, the probe."""
    path = write_mbox(spool / "alice", post_qp("old@local.edu"))
    entry = mbox_entry(post_qp("probe@local.edu")).decode()
    cut = entry.index("\n\n") + 10  # headers complete, body cut short

    def start(hold):
        proc = subprocess.Popen([sys.executable, "-c", HALF_WRITER, path, entry[:cut],
                                 entry[cut:], str(hold)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline() == "locked\n"
        with open(path, "rb") as f:
            assert b"probe@local.edu" in f.read()  # the half message is really there
        return proc
    yield path, start


def test_half_written_message_is_not_counted(tmp_path, half_written, monkeypatch):
    path, start = half_written
    monkeypatch.setattr(mailbox_check, "MIN_LOOK", 0)
    proc = start(hold=3)
    try:
        ok, res = run(tmp_path, [path], mail_spool=os.path.dirname(path),
                      subject_contains=None, message_id="probe@local.edu", timeout=0.5)
    finally:
        proc.wait()
    assert not ok
    assert "stayed locked: another process holds an fcntl lock on it" in res["msg"], res
    assert res["results"] == []


def test_check_waits_for_the_lock_and_then_sees_the_whole_message(tmp_path, half_written):
    path, start = half_written
    started = time.monotonic()
    proc = start(hold=1.5)
    try:
        ok, res = run(tmp_path, [path], mail_spool=os.path.dirname(path),
                      subject_contains=None, message_id="probe@local.edu",
                      expected_body="Grüße aus der Lesegruppe", timeout=0)
    finally:
        proc.wait()
    assert ok, res
    assert time.monotonic() - started >= 1.4
    assert res["results"][0]["copies"] == 1 and res["results"][0]["body_intact"] is True


def test_fresh_dotlock_waits_and_stale_dotlock_is_ignored(tmp_path, spool, monkeypatch):
    path = write_mbox(spool / "alice", post_qp("p@local.edu"))
    lock = spool / "alice.lock"
    lock.write_bytes(b"")
    monkeypatch.setattr(mailbox_check, "MIN_LOOK", 0)
    ok, res = run(tmp_path, [path], subject_contains=None, message_id="p@local.edu",
                  timeout=0.3)
    assert not ok
    assert "%s.lock exists (a dotlock" % path in res["msg"], res
    old = time.time() - 600
    os.utime(lock, (old, old))
    ok, res = run(tmp_path, [path], subject_contains=None, message_id="p@local.edu",
                  timeout=0.3)
    assert ok, res
    assert lock.exists()  # never taken, never removed: we do not write to the spool


# -- where a mailbox may be ---------------------------------------------------

def test_mailbox_outside_the_spool_needs_allow_outside_spool(tmp_path, spool):
    outside = write_mbox(tmp_path / "elsewhere", SECRET)
    ok, res = run(tmp_path, [outside], mail_spool=str(spool))
    assert not ok
    assert res["msg"].startswith("%s is outside the mail spool %s and outside every regular "
                                 "user's home directory" % (outside, spool)), res
    assert "allow_outside_spool: true" in res["msg"]
    ok, res = run(tmp_path, [outside], mail_spool=str(spool), allow_outside_spool=True)
    assert ok and res["results"][0]["copies"] == 1, res


def test_dotdot_does_not_leave_the_spool(tmp_path, spool):
    write_mbox(tmp_path / "elsewhere", SECRET)
    sneaky = os.path.join(str(spool), "..", "elsewhere")
    ok, res = run(tmp_path, [sneaky], mail_spool=str(spool))
    assert not ok and "is outside the mail spool" in res["msg"], res


def test_spool_reached_through_a_symlinked_directory(tmp_path, spool):
    # Debian: /var/spool/mail -> ../mail
    (tmp_path / "spool-link").symlink_to(spool)
    write_mbox(spool / "alice", SECRET)
    ok, res = run(tmp_path, [tmp_path / "spool-link" / "alice"], mail_spool=str(spool))
    assert ok and res["results"][0]["copies"] == 1, res


def test_regular_users_homes_are_allowed(tmp_path):
    home = str(tmp_path / "home" / "bob")
    mailbox.check_location(home + "/Maildir", "/var/mail", homes=[home])
    with pytest.raises(mailbox.MailboxError, match="outside the mail spool"):
        mailbox.check_location(str(tmp_path / "home" / "eve" / "Maildir"), "/var/mail",
                               homes=[home])
    with pytest.raises(mailbox.MailboxError):
        mailbox.check_location("/var/mail", "/var/mail", homes=[])


def test_login_homes_are_regular_accounts_only():
    homes = mailbox.login_homes()
    assert "/root" not in homes and "/" not in homes and "/dev" not in homes


@pytest.mark.parametrize("args, msg", [
    (dict(timeout=-1), "timeout must be a number of seconds of 0 or more, got -1.0"),
    (dict(timeout="nan"), "timeout must be a number of seconds of 0 or more, got nan"),
    (dict(settle="inf"), "settle must be a number of seconds of 0 or more, got inf"),
    (dict(interval=0), "interval must be a number of seconds above 0, got 0.0"),
])
def test_impossible_times_are_refused(tmp_path, args, msg):
    ok, res = run(tmp_path, [tmp_path / "x"], **args)
    assert not ok and res["msg"] == msg, res


def test_directory_swapped_for_a_link_while_polling_is_not_followed(tmp_path, spool, root_only):
    # Approved at the start: spool/user/inbox. While the check polls, the user
    # replaces spool/user with a link to the root-only directory.
    user = spool / "user"
    user.mkdir()
    private = root_only.parent
    write_mbox(private / "inbox", SECRET)

    def swap():
        time.sleep(0.5)
        os.rename(user, spool / "user.old")
        os.symlink(private, user)

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        ok, res = run(tmp_path, [user / "inbox"], mail_spool=str(spool), timeout=3, interval=0.1)
    finally:
        swapper.join()
    assert not ok and "symbolic link" in res["msg"], res
    assert "secret" not in str(res.get("results", "")), res
