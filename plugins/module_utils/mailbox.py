# -*- coding: utf-8 -*-

# Copyright (c) mailops.mailman developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read-only, streaming search of mbox files and Maildirs.

The stdlib ``mailbox`` module is not used on purpose: ``mailbox.mbox(path)``
creates a missing file and locks/rewrites on some operations, and it indexes
the whole file before giving out a message. Here a mailbox is only ever
opened for reading, nothing is locked, and a message is parsed with
``email.policy.default`` only when its raw header block could match.
"""

from __future__ import annotations

import email.policy
import hashlib
import os
import re
from email.parser import BytesParser

_PARSER = BytesParser(policy=email.policy.default)
_BLANK = (b"\n", b"\r\n")
_TOKEN = re.compile(rb"[a-z0-9]+")
_MBOXRD_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)


class MailboxError(Exception):
    pass


def normalise_text(text):
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def normalise_msgid(value):
    return value.strip().strip("<>").strip() if value else ""


class Criteria(object):
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


def detect_format(path, fmt="auto"):
    """Return "mbox", "maildir", or None when nothing is there yet."""
    if not os.path.exists(path):
        return None if fmt == "auto" else fmt
    is_dir = os.path.isdir(path)
    if fmt == "auto":
        if not is_dir:
            return "mbox"
        if os.path.isdir(os.path.join(path, "cur")) or os.path.isdir(os.path.join(path, "new")):
            return "maildir"
        raise MailboxError("%s is a directory but not a Maildir (no cur/ or new/)" % path)
    if fmt == "mbox" and is_dir:
        raise MailboxError("%s is a directory, not an mbox file" % path)
    if fmt == "maildir" and not is_dir:
        raise MailboxError("%s is a file, not a Maildir directory" % path)
    return fmt


def _open(path):
    """Open read-only; None when the file does not exist (yet, or any more)."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None
    except PermissionError:
        raise MailboxError("cannot read %s: permission denied (run the task with become?)" % path)


def iter_mbox(path, criteria):
    """Yield raw bytes of each message in the mbox at path that might match.

    A message starts at a "From " line that begins the file or follows an
    empty line; quoted ">From " body lines cannot be taken for a start.
    """
    f = _open(path)
    if f is None:
        return
    with f:
        headers = None      # header lines of the current message
        body = None         # body lines, kept only for candidates
        in_headers = False
        prev_blank = True
        for line in f:
            if prev_blank and line.startswith(b"From "):
                if body is not None:
                    yield _mbox_message(headers, body)
                headers, body, in_headers = [], None, True
            elif in_headers:
                if line in _BLANK:
                    in_headers = False
                    if criteria.might_match(b"".join(headers)):
                        body = []
                else:
                    headers.append(line)
            elif body is not None:
                body.append(line)
            prev_blank = line in _BLANK
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


def iter_maildir(path, criteria):
    """Yield raw bytes of each message in new/ and cur/ that might match.

    tmp/ holds deliveries in progress and is never read.
    """
    seen = set()
    for sub in ("new", "cur"):
        directory = os.path.join(path, sub)
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            continue
        except PermissionError:
            raise MailboxError("cannot list %s: permission denied (run the task with become?)"
                               % directory)
        for name in names:
            # A reader may move a message from new/ to cur/ while we list;
            # the unique name before ":" keeps it from being counted twice.
            unique = name.split(":", 1)[0]
            if name.startswith(".") or unique in seen:
                continue
            f = _open(os.path.join(directory, name))
            if f is None:
                continue
            with f:
                headers = []
                for line in f:
                    if line in _BLANK:
                        break
                    headers.append(line)
                raw_headers = b"".join(headers)
                if not criteria.might_match(raw_headers):
                    seen.add(unique)
                    continue
                data = raw_headers + b"\n" + f.read()
            seen.add(unique)
            yield data


def find_matches(path, fmt, criteria):
    """Return (detected format, list of matching parsed messages)."""
    detected = detect_format(path, fmt)
    if detected is None:
        return None, []
    reader = iter_maildir if detected == "maildir" else iter_mbox
    found = []
    for raw in reader(path, criteria):
        msg = _PARSER.parsebytes(raw)
        if criteria.matches(msg):
            found.append(msg)
    return detected, found


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
            if "-confirm+" in (addr.username or ""):
                return addr.addr_spec, addr.username.split("+", 1)[1]
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
