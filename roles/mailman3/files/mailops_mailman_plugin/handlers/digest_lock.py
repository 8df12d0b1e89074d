# SPDX-License-Identifier: GPL-3.0-or-later
"""``mailops-clear-digest-lock``: a runner killed while it held a digest mailbox does not shunt every later post.

``to-digest`` appends every post to its list's digest mailbox
(``digest.mmdf``) under Python's mailbox lock: an fcntl lock, then a dot-lock
file (``digest.mmdf.lock``). A runner killed in between (SIGKILL, the OOM
killer, the host killed) loses its fcntl lock with its process, but the
dot-lock file stays, and the post it was appending may be cut off in the
middle. Stock Mailman then fails with ``dot lock unavailable`` on every later
post to that list and shunts each one (a killed pipeline runner shunted all
20 posts of a broadcast in the resilience scenario), until an operator
removes the file; the digest runner does the same with the digest it was
sending.

Just before ``to-digest`` in ``mailops-posting-pipeline``, and in the
plugin's digest runner before it opens a digest, ``clear_stale_lock``
removes the dot-lock when no living process holds the mailbox: Mailman's
processes take the fcntl lock before the dot-lock and hold it while they
hold the dot-lock, so a dot-lock whose mailbox's fcntl lock is free was left
by a dead process. A message the dead process was appending is cut off the
end of the mailbox (``cut_torn_tail``): its runner put it back in its queue
on restart and appends it again. Each clearing is logged in mailman.error.

Not covered: two processes appending to one mailbox at once (pipeline
runner slices): stock Mailman already shunts a post that finds the fcntl
lock taken.
"""

import fcntl
import logging
import os

from mailman.interfaces.handler import IHandler
from public import public
from zope.interface import implementer

# MMDF frames each message with this line before and after it.
SEPARATOR = b'\x01\x01\x01\x01\n'

elog = logging.getLogger('mailman.error')


def cut_torn_tail(mailbox_file):
    """Truncate an open MMDF file after its last complete message; the bytes cut off."""
    mailbox_file.seek(0)
    end = inside = 0
    for line in iter(mailbox_file.readline, b''):
        if line == SEPARATOR:
            inside = not inside
            if not inside:
                end = mailbox_file.tell()
    size = mailbox_file.seek(0, os.SEEK_END)
    if size > end:
        mailbox_file.truncate(end)
    return size - end


def clear_stale_lock(path):
    """Remove mailbox ``path``'s dot-lock if no living process holds the mailbox.

    Returns a line for the log when it removed one, else None.
    """
    dotlock = path + '.lock'
    if not os.path.exists(dotlock):
        return None
    try:
        mailbox_file = open(path, 'rb+')  # pylint: disable=consider-using-with
    except FileNotFoundError:
        # A dot-lock without its mailbox guards nothing.
        os.remove(dotlock)
        return 'removed %s, left without its mailbox' % dotlock
    with mailbox_file:
        try:
            fcntl.lockf(mailbox_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return None  # a living process holds the mailbox: its dot-lock is real
        try:
            cut = cut_torn_tail(mailbox_file)
            os.remove(dotlock)
        finally:
            fcntl.lockf(mailbox_file, fcntl.LOCK_UN)
    return 'removed %s, left by a process that died holding it%s' % (
        dotlock, '; cut the message it was appending (%d bytes) off the end' % cut if cut else '')


def clear_and_log(path):
    """clear_stale_lock, logged in mailman.error."""
    done = clear_stale_lock(path)
    if done:
        elog.error('mailops: %s', done)


@public
@implementer(IHandler)
class MailopsClearDigestLock:
    """Remove a dead process's lock on the list's digest mailbox before ``to-digest``."""

    name = 'mailops-clear-digest-lock'
    description = "Remove a dead process's lock on the list's digest mailbox."

    def process(self, mlist, msg, msgdata):
        # The same test as to-digest's: only a mailbox it will open matters.
        if mlist.digests_enabled and not msgdata.get('isdigest'):
            clear_and_log(os.path.join(mlist.data_path, 'digest.mmdf'))
