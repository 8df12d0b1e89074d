# SPDX-License-Identifier: GPL-3.0-or-later
"""``mailops-drop-duplicate`` and ``mailops-remember-post``: a post is distributed once.

Mailman delivers at least once and keeps no record of the posts it has
distributed. A post comes back when:

- Postfix gave up waiting for the LMTP reply after end-of-DATA (Mailman had
  already queued the message) and delivers it again;
- a runner on the way in was killed after it passed the message on and before
  it removed its own queue file, which Mailman restores on start.

A post is identified by its Message-ID and its body as received (post_key):
a different post that reuses a Message-ID is distributed.

Each copy would go to the whole list. The two handlers bracket the posting
pipeline: the first drops a post whose Message-ID this list has distributed
within ``WINDOW``; the last, after ``to-outgoing`` queued it for delivery,
remembers the Message-ID. Remembering last means a runner killed in between
can at worst distribute a post twice, never lose it.

What is not covered: a post with no Message-ID (Mailman's LMTP makes one up,
differently for each copy; Postfix adds one to mail from its own network and
every mail client sets one), and delivery itself: the out runner killed in the
middle of a broadcast re-sends the message to the recipients of that message
(at-least-once, as in Postfix).

The record is a file per list and Message-ID under Mailman's var directory,
written by the ``list`` user that runs Mailman; records older than the window
are pruned at most once an hour per list. Both handlers fail open: a record
that cannot be read or written (disk full, permissions) is logged in
mailman.error and the post goes on, without the protection.
"""

import hashlib
import logging
import os
import time

from mailman.config import config
from mailman.interfaces.handler import IHandler
from mailman.interfaces.pipeline import DiscardMessage
from public import public
from zope.interface import implementer

# Postfix keeps retrying a deferred message for maximal_queue_lifetime (5
# days by default); a re-delivered copy arrives within that.
WINDOW = 7 * 24 * 3600
PRUNE_EVERY = 3600
PRUNE_MARK = '.pruned'

elog = logging.getLogger('mailman.error')


def post_key(msg):
    """The post's identity: its Message-ID and its body as received, or None.

    Taken by the first handler, before anything rewrites the message (an
    anonymous list's cleanse and DMARC wrapping replace the Message-ID), and
    carried to the last in msgdata. The body is part of it so that a different
    post reusing a Message-ID is not dropped; a copy delivered again is
    byte for byte the same.
    """
    message_id = msg.get('message-id')
    if not message_id:
        return None
    try:
        raw = msg.as_bytes()
        body = raw.split(b'\n\n', 1)[1] if b'\n\n' in raw else b''
    except Exception:  # a message the library cannot serialise: the ID alone
        body = b''
    return '%s\n%s' % (str(message_id).strip(), hashlib.sha256(body).hexdigest())


def record_dir(list_id):
    """The directory holding one list's records."""
    return os.path.join(config.VAR_DIR, 'mailops', 'seen-posts', list_id)


def record_path(list_id, key):
    """The record of one post (its post_key) on one list."""
    digest = hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest()
    return os.path.join(record_dir(list_id), digest)


def seen_at(list_id, key, now=None):
    """When this list distributed the post, if within the window, else None."""
    try:
        when = os.stat(record_path(list_id, key)).st_mtime
    except FileNotFoundError:
        return None
    now = time.time() if now is None else now
    return when if now - when < WINDOW else None


def remember(list_id, key, now=None):
    """Record that this list distributed the post."""
    now = time.time() if now is None else now
    path = record_path(list_id, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='ascii'):
        pass
    os.utime(path, (now, now))
    prune(list_id, now)


def prune(list_id, now):
    """Drop records older than the window; at most once per PRUNE_EVERY."""
    directory = record_dir(list_id)
    mark = os.path.join(directory, PRUNE_MARK)
    try:
        if now - os.stat(mark).st_mtime < PRUNE_EVERY:
            return
    except FileNotFoundError:
        pass
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name != PRUNE_MARK and now - entry.stat().st_mtime >= WINDOW:
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    pass
    with open(mark, 'w', encoding='ascii'):
        pass
    os.utime(mark, (now, now))


@public
@implementer(IHandler)
class MailopsDropDuplicate:
    """Drop a post this list has already distributed."""

    name = 'mailops-drop-duplicate'
    description = 'Drop a post whose Message-ID the list distributed within the last 7 days.'

    def process(self, mlist, msg, msgdata):
        key = msgdata['mailops_post_key'] = post_key(msg)
        if key is None:
            return
        try:
            when = seen_at(mlist.list_id, key)
        except OSError as error:
            # Fail open: an unreadable record must not stop (or shunt) the post.
            elog.error('mailops: cannot read the record of %s on %s: %s', key.split()[0], mlist.list_id, error)
            return
        if when is not None:
            raise DiscardMessage('duplicate of the post distributed at {}'.format(
                time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(when))))


@public
@implementer(IHandler)
class MailopsRememberPost:
    """Remember a post the list has just queued for delivery."""

    name = 'mailops-remember-post'
    description = 'Remember the Message-ID of a post queued for delivery.'

    def process(self, mlist, msg, msgdata):
        key = msgdata.get('mailops_post_key')
        if not key:
            return
        try:
            remember(mlist.list_id, key)
        except OSError as error:
            # The post is already queued for delivery: a failed record (disk
            # full, permissions) must not shunt it, only lose the protection.
            elog.error('mailops: cannot record %s on %s: %s', key.split()[0], mlist.list_id, error)
