# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only, streaming search of mbox files and Maildirs.

The stdlib ``mailbox`` module is not used on purpose: ``mailbox.mbox(path)``
creates a missing file and locks/rewrites on some operations, and it indexes
the whole file before giving out a message. Here a mailbox is only ever
opened for reading, and a message is parsed with ``email.policy.default``
only when its raw header block could match.

The module runs as root and the mailboxes belong to other users, so what a
user puts in their own mailbox must not make root read anything else, hang,
or eat the memory: only regular files are opened, never through a symbolic
link (the path is resolved once, then walked again with O_NOFOLLOW so a swap
in between is caught); a line is read in pieces of at most MAX_LINE bytes,
and header blocks and kept messages have a size cap; every read loop
watches a deadline.

An mbox is read under a shared fcntl lock, the lock Postfix local(8) takes
exclusively while it appends (Debian: mailbox_delivery_lock = fcntl,
dotlock), so a half-written message is never seen. The dotlock half is
honoured but never taken: taking it means creating NAME.lock in the spool,
a write; a fresh NAME.lock only makes us wait. Maildir needs no lock:
deliveries are written in tmp/ and renamed into new/, so only new/ and cur/
are read.
"""

from __future__ import annotations

import email.policy
import errno
import fcntl
import hashlib
import os
import pwd
import re
import stat
import time
from email.parser import BytesParser

from ansible_collections.mailops.mailman.plugins.module_utils.mailman_address import confirm_token

_PARSER = BytesParser(policy=email.policy.default)
_BLANK = (b"\n", b"\r\n")
_TOKEN = re.compile(rb"[a-z0-9]+")
_MBOXRD_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)


# Postfix delivers lines of any length (line_length_limit only splits them in
# transit), so a long line is read in pieces rather than refused.
MAX_LINE = 1 << 20
# Postfix keeps at most header_size_limit (100 KiB) of a header block; ten
# times that is not something local(8) wrote.
MAX_HEADER = 1 << 20
# message_size_limit defaults to 10 MB (Debian: 10240000); a kept message
# beyond this is refused rather than held in memory.
MAX_MESSAGE = 64 << 20
# Postfix removes a dotlock older than stale_lock_time (500 s) itself.
STALE_DOTLOCK = 500
LOCK_POLL = 0.05
# Regular accounts, as Debian's adduser numbers them (FIRST_UID).
FIRST_UID = 1000
NOBODY_UID = 65534

# O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
_OPEN_FILE = (os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
              | getattr(os, "O_CLOEXEC", 0))
# O_PATH: a directory on the way may be searchable (x) but not readable (r).
_OPEN_DIR = (getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW
             | getattr(os, "O_CLOEXEC", 0))
_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


class MailboxError(Exception):
    pass


class MailboxTimeout(MailboxError):
    pass


def _kind(mode):
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _check_deadline(deadline, what):
    if deadline is not None and time.monotonic() >= deadline:
        raise MailboxTimeout(what)


def normalise_text(text):
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def normalise_msgid(value):
    return value.strip().strip("<>").strip() if value else ""


class Criteria:
    """What a matching message looks like; every given criterion must hold.

    Text criteria match case-insensitively against the decoded header value,
    with whitespace runs taken as one space: folding keeps the tab or spaces
    that started the continuation line.
    """

    def __init__(self, message_id=None, subject_contains=None, from_contains=None,
                 header=None, ignore_message_ids=None):
        self.message_id = normalise_msgid(message_id) or None
        self.subject_contains = _fold_case(subject_contains) or None
        self.from_contains = _fold_case(from_contains) or None
        self.header = header if header and header.get("name") else None
        self.ignored = set(normalise_msgid(m) for m in (ignore_message_ids or ()))
        if not (self.message_id or self.subject_contains or self.from_contains or self.header):
            raise MailboxError("give at least one of message_id, subject_contains, "
                               "from_contains, header")
        needles = [self.message_id, self.subject_contains, self.from_contains,
                   self.header and self.header.get("value")]
        self._tokens = set()
        for needle in needles:
            if needle:
                self._tokens.update(_TOKEN.findall(needle.lower().encode("utf-8")))

    def might_match(self, raw_headers):
        """Cheap test on the raw header block; must never reject a real match.

        Parsing quotes, unfolds and decodes, but leaves ASCII letter/digit runs
        intact, so every such run of a needle must appear in the raw bytes.
        Encoded words (RFC 2047) hide them, so those blocks always pass.
        """
        raw = raw_headers.lower()
        if b"=?" in raw:
            return True
        return all(token in raw for token in self._tokens)

    def matches(self, msg):
        msgid = normalise_msgid(header_text(msg, "message-id"))
        if msgid in self.ignored:
            return False
        if self.message_id and msgid != self.message_id:
            return False
        if self.subject_contains and \
                self.subject_contains not in _fold_case(header_text(msg, "subject")):
            return False
        if self.from_contains and \
                self.from_contains not in _fold_case(header_text(msg, "from")):
            return False
        if self.header:
            wanted = _fold_case(self.header.get("value"))
            values = _all_header_texts(msg, self.header["name"])
            if not any(wanted in _fold_case(v) for v in values):
                return False
        return True


def _fold_case(text):
    return " ".join(text.split()).lower() if text else ""


def header_text(msg, name):
    try:
        value = msg[name]
    except Exception:  # a malformed header must not stop the search
        return ""
    return "" if value is None else str(value)


def _all_header_texts(msg, name):
    try:
        return [str(v) for v in (msg.get_all(name) or ())]
    except Exception:
        return []


def login_homes():
    """Home directories of regular accounts (UID 1000 and up, not nobody)."""
    homes = set()
    for entry in pwd.getpwall():
        if entry.pw_uid >= FIRST_UID and entry.pw_uid != NOBODY_UID and entry.pw_dir:
            home = os.path.realpath(entry.pw_dir)
            if home != "/":
                homes.add(home)
    return sorted(homes)


def _inside(path, root):
    return path != root and os.path.commonpath([path, root]) == root


def check_location(path, mail_spool, homes=None):
    """Refuse a mailbox outside the spool and outside every regular user's home.

    Symbolic links on the way are resolved first (/var/spool/mail is a link
    to /var/mail on Debian); the mailbox itself must not be one.
    """
    parent, name = _split(path)
    real = os.path.join(parent, name)
    roots = [os.path.realpath(mail_spool)]
    roots.extend(login_homes() if homes is None else homes)
    if any(_inside(real, root) for root in roots):
        # The caller reads this resolved parent from now on, never the path
        # again: a directory swapped for a link later fails the walk.
        return parent
    raise MailboxError(
        "%s is outside the mail spool %s and outside every regular user's home "
        "directory, so it is not read: set mail_spool to where Postfix delivers "
        "(postconf mail_spool_directory home_mailbox), or allow_outside_spool: true"
        % (path, mail_spool))


def _split(path):
    """(real parent directory, final name) of a mailbox path."""
    path = os.path.abspath(path)
    name = os.path.basename(path)
    if not name or name in (".", ".."):
        raise MailboxError("%r does not name a mailbox file or Maildir" % path)
    return os.path.realpath(os.path.dirname(path)), name


def _open_parent(parent, path):
    """An fd of the directory parent, walked from / without following links.

    parent is already resolved, so a link met now was put there after we
    looked: refuse rather than read wherever it points. None when a
    directory on the way does not exist (no mail yet).
    """
    fd = os.open("/", _OPEN_DIR)
    try:
        for part in parent.strip("/").split("/"):
            if not part:
                continue
            try:
                nxt = os.open(part, _OPEN_DIR, dir_fd=fd)
            except FileNotFoundError:
                os.close(fd)
                return None
            except OSError as e:
                raise MailboxError("cannot open the directory %s of %s: %s (a directory "
                                   "replaced by a symbolic link while we looked?)"
                                   % (part, path, os.strerror(e.errno))) from e
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def _lstat(name, dir_fd, path):
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise MailboxError("cannot look at %s: permission denied (run the task with become?)"
                           % path) from None


def detect_format(path, fmt="auto", dir_fd=None, name=None):
    """Return "mbox", "maildir", or None when nothing is there yet.

    A symbolic link, FIFO, device or socket is refused here, before anything
    is opened: opening a device can have effects (a tape rewinds).
    """
    st = _lstat(path if name is None else name, dir_fd, path)
    if st is None:
        return None if fmt == "auto" else fmt
    if stat.S_ISLNK(st.st_mode):
        raise MailboxError("%s is a symbolic link: refused, a mailbox is never read through "
                           "a link (give the path it points to, if that is really the mailbox)"
                           % path)
    is_dir = stat.S_ISDIR(st.st_mode)
    if not is_dir and not stat.S_ISREG(st.st_mode):
        raise MailboxError("%s is %s, not an mbox file or a Maildir: refused"
                           % (path, _kind(st.st_mode)))
    if fmt == "auto":
        if not is_dir:
            return "mbox"
        if _maildir_sub(path, dir_fd, name, "cur") or _maildir_sub(path, dir_fd, name, "new"):
            return "maildir"
        raise MailboxError("%s is a directory but not a Maildir (no cur/ or new/)" % path)
    if fmt == "mbox" and is_dir:
        raise MailboxError("%s is a directory, not an mbox file" % path)
    if fmt == "maildir" and not is_dir:
        raise MailboxError("%s is a file, not a Maildir directory" % path)
    return fmt


def _maildir_sub(path, dir_fd, name, sub):
    full = os.path.join(path, sub)
    if name is None:
        st = _lstat(full, None, full)
    else:
        st = _lstat(os.path.join(name, sub), dir_fd, full)
    return st is not None and stat.S_ISDIR(st.st_mode)


def open_regular(name, dir_fd, path):
    """Open a regular file read-only, never through a link; None when it is gone."""
    try:
        fd = os.open(name, _OPEN_FILE, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise MailboxError("cannot read %s: permission denied (run the task with become?)" % path) from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise MailboxError("%s is a symbolic link: refused, never read through a link" % path) from e
        raise MailboxError("cannot open %s: %s" % (path, os.strerror(e.errno))) from e
    try:
        # Checked again on the open file: it may have been swapped since lstat.
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise MailboxError("%s is %s, not a regular file: refused" % (path, _kind(mode)))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _open_dir(name, dir_fd, path):
    """Open a directory for listing, never through a link; None when it is gone."""
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                       | getattr(os, "O_CLOEXEC", 0), dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise MailboxError("cannot list %s: permission denied (run the task with become?)" % path) from None
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            # Linux answers ENOTDIR for a link opened with O_DIRECTORY|O_NOFOLLOW.
            st = _lstat(name, dir_fd, path)
            kind = _kind(st.st_mode) if st is not None else "gone"
            if st is not None and stat.S_ISLNK(st.st_mode):
                raise MailboxError("%s is a symbolic link: refused, never read through a link"
                                   % path) from e
            raise MailboxError("%s is %s, not a directory: refused" % (path, kind)) from e
        raise MailboxError("cannot list %s: %s" % (path, os.strerror(e.errno))) from e


def _pieces(f, path, deadline):
    """Yield (piece, starts_line): lines, a long line in pieces of at most MAX_LINE."""
    starts_line = True
    while True:
        _check_deadline(deadline, "still reading %s at byte %d" % (path, f.tell()))
        piece = f.readline(MAX_LINE)
        if not piece:
            return
        yield piece, starts_line
        starts_line = piece.endswith(b"\n")


def _too_big(path, what, offset):
    return MailboxError(
        "%s: %s at byte %d; Postfix would not have delivered that (header_size_limit, "
        "message_size_limit), so it is not held in memory: look at the file" % (path, what, offset))


def _fresh_dotlock(dir_fd, name):
    try:
        st = os.lstat(name + ".lock", dir_fd=dir_fd)
    except OSError:
        return False
    return time.time() - st.st_mtime < STALE_DOTLOCK


def lock_shared(f, dir_fd, name, path, deadline):
    """Wait for Postfix local(8) to finish appending, then hold a shared fcntl lock.

    Non-blocking attempts in a loop, so the wait ends at the deadline. The
    lock stays until f is closed; local(8) meanwhile retries its own lock
    (deliver_lock_attempts) and defers, never bounces.
    """
    while True:
        if _fresh_dotlock(dir_fd, name):
            holder = "%s.lock exists (a dotlock: a delivery or a mail client)" % path
        else:
            try:
                fcntl.lockf(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                return
            except OSError as e:
                if e.errno not in (errno.EACCES, errno.EAGAIN):
                    raise MailboxError("cannot take a shared fcntl lock on %s: %s (a file "
                                       "system without locks?)" % (path, os.strerror(e.errno))) from e
            holder = "another process holds an fcntl lock on it (Postfix local(8) appending?)"
        _check_deadline(deadline, "%s stayed locked: %s; see the Postfix log "
                                  "(journalctl -u postfix) for a delivery stuck on it"
                        % (path, holder))
        time.sleep(LOCK_POLL)


def iter_mbox(f, path, criteria, deadline=None):
    """Yield raw bytes of each message in the open mbox f that might match.

    A message starts at a "From " line that begins the file or follows an
    empty line; quoted ">From " body lines cannot be taken for a start, and
    neither can the tail of a long line read in pieces.
    """
    headers = None      # header lines of the current message
    header_size = 0
    body = None         # body lines, kept only for candidates
    body_size = 0
    in_headers = False
    prev_blank = True
    for line, starts_line in _pieces(f, path, deadline):
        blank = starts_line and line in _BLANK
        if prev_blank and starts_line and line.startswith(b"From "):
            if body is not None:
                yield _mbox_message(headers, body)
            headers, body, in_headers = [], None, True
            header_size = body_size = 0
        elif in_headers:
            if blank:
                in_headers = False
                if criteria.might_match(b"".join(headers)):
                    body = []
            else:
                header_size += len(line)
                if header_size > MAX_HEADER:
                    raise _too_big(path, "a header block over %d bytes" % MAX_HEADER, f.tell())
                headers.append(line)
        elif body is not None:
            body_size += len(line)
            if body_size > MAX_MESSAGE:
                raise _too_big(path, "a message over %d bytes" % MAX_MESSAGE, f.tell())
            body.append(line)
        prev_blank = blank
    if in_headers and criteria.might_match(b"".join(headers)):
        body = []  # headers only, file ends before the body
    if body is not None:
        yield _mbox_message(headers, body)


def _mbox_message(headers, body):
    # The empty line before the next "From " belongs to the mbox, not the message.
    if body and body[-1] in _BLANK:
        body = body[:-1]
    # Undo mboxrd/mboxo quoting (">From " -> "From "); a body that really began
    # a line with ">From " is rare enough to accept the ambiguity.
    text = _MBOXRD_QUOTED.sub(rb"\1", b"".join(body))
    return b"".join(headers) + b"\n" + text


def iter_maildir(dir_fd, path, criteria, deadline=None):
    """Yield raw bytes of each message in new/ and cur/ that might match.

    dir_fd is the open Maildir. tmp/ holds deliveries in progress and is
    never read: a message appears in new/ only by rename, complete.
    """
    seen = set()
    for sub in ("new", "cur"):
        directory = os.path.join(path, sub)
        sub_fd = _open_dir(sub, dir_fd, directory)
        if sub_fd is None:
            continue
        try:
            names = sorted(os.listdir(sub_fd))
            for name in names:
                # A reader may move a message from new/ to cur/ while we list;
                # the unique name before ":" keeps it from being counted twice.
                unique = name.split(":", 1)[0]
                if name.startswith(".") or unique in seen:
                    continue
                entry = os.path.join(directory, name)
                _check_deadline(deadline, "still reading %s at %s" % (path, entry))
                f = open_regular(name, sub_fd, entry)
                if f is None:
                    continue
                with f:
                    raw = _read_maildir_message(f, entry, criteria, deadline)
                seen.add(unique)
                if raw is not None:
                    yield raw
        finally:
            os.close(sub_fd)


def _read_maildir_message(f, path, criteria, deadline):
    headers = []
    size = 0
    for line, starts_line in _pieces(f, path, deadline):
        if starts_line and line in _BLANK:
            break
        size += len(line)
        if size > MAX_HEADER:
            raise _too_big(path, "a header block over %d bytes" % MAX_HEADER, f.tell())
        headers.append(line)
    raw_headers = b"".join(headers)
    if not criteria.might_match(raw_headers):
        return None
    body = f.read(MAX_MESSAGE - size + 1)
    if size + len(body) > MAX_MESSAGE:
        raise _too_big(path, "a message over %d bytes" % MAX_MESSAGE, f.tell())
    return raw_headers + b"\n" + body


def find_matches(path, fmt, criteria, deadline=None, parent=None):
    """Return (detected format, list of matching parsed messages).

    deadline is a time.monotonic() value; reading or waiting for the lock
    past it raises MailboxTimeout. parent, when given, is the real parent
    directory check_location approved: it is walked as it is, not resolved again.
    """
    resolved, name = _split(path)
    parent = parent or resolved
    parent_fd = _open_parent(parent, path)
    if parent_fd is None:
        return None if fmt == "auto" else fmt, []
    try:
        detected = detect_format(path, fmt, parent_fd, name)
        if detected is None:
            return None, []
        if detected == "maildir":
            dir_fd = _open_dir(name, parent_fd, path)
            if dir_fd is None:
                return detected, []
            try:
                return detected, _parse_matches(
                    iter_maildir(dir_fd, path, criteria, deadline), criteria)
            finally:
                os.close(dir_fd)
        f = open_regular(name, parent_fd, path)
        if f is None:
            return detected, []
        with f:
            lock_shared(f, parent_fd, name, path, deadline)
            return detected, _parse_matches(iter_mbox(f, path, criteria, deadline), criteria)
    finally:
        os.close(parent_fd)


def _parse_matches(raws, criteria):
    found = []
    for raw in raws:
        msg = _PARSER.parsebytes(raw)
        if criteria.matches(msg):
            found.append(msg)
    return found


def first_plain_text(msg):
    """Decoded text of the first text/plain part that is not an attachment."""
    for part in msg.walk():
        if part.get_content_type() != "text/plain" or part.is_attachment():
            continue
        try:
            return part.get_content()
        except (LookupError, ValueError, AssertionError):
            # Unknown charset or broken encoding: still give a hashable text.
            payload = part.get_payload(decode=True) or b""
            return payload.decode("utf-8", "replace")
    return None


def confirm_address(msg):
    """The Reply-To/From address whose local part holds Mailman's -confirm+TOKEN."""
    for name in ("reply-to", "from"):
        try:
            header = msg[name]
            addresses = header.addresses if header is not None else ()
        except Exception:
            continue
        for addr in addresses:
            token = confirm_token(addr.username)
            if token is not None:
                return addr.addr_spec, token
    return None, None


def describe(msg):
    text = first_plain_text(msg)
    body_sha = None
    if text is not None:
        body_sha = hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()
    address, token = confirm_address(msg)
    summary = dict((name.lower(), header_text(msg, name) or None)
                   for name in ("Message-ID", "From", "To", "Subject", "Date"))
    summary["message_id"] = summary.pop("message-id")
    summary.update(confirm_address=address, confirm_token=token, body_sha256=body_sha)
    return summary


def body_intact(msg, expected_body=None, expected_sha256=None):
    """None without expectations; else whether the first text/plain part meets them.

    Starts-with rather than equality for expected_body, because Mailman
    appends the list footer.
    """
    if expected_body is None and not expected_sha256:
        return None
    text = first_plain_text(msg)
    if text is None:
        return False
    text = normalise_text(text)
    if expected_body is not None and not text.startswith(normalise_text(expected_body)):
        return False
    if expected_sha256 and \
            hashlib.sha256(text.encode("utf-8")).hexdigest() != expected_sha256.strip().lower():
        return False
    return True
