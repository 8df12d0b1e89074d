# SPDX-License-Identifier: GPL-3.0-or-later
"""``mailops-clear-digest-lock``: a runner killed while it held a digest mailbox does not shunt every later post.

``to-digest`` appends every post to its list's digest mailbox
(``digest.mmdf``) under Python's mailbox lock: an fcntl lock, then a dot-lock
file (``digest.mmdf.lock``). A runner killed in between (SIGKILL, the OOM
killer, the host killed) loses its fcntl lock with its process, but the
dot-lock file stays, and the post it was appending may be cut off in the
middle. Stock Mailman then fails with ``dot lock unavailable`` on every later
post to that list and shunts each one (a pipeline runner killed that way
shunted all 20 posts of a broadcast in the resilience scenario), until an
operator removes the file.

Just before ``to-digest`` in ``mailops-posting-pipeline``, ``clear_stale_lock``
removes a dot-lock that no living process holds, and cuts the message the
dead process was appending off the end of the mailbox (``cut_torn_tail``);
its runner put that post back in its queue on restart and appends it again.
The plugin's digest runner cuts a torn message off the digest it is about
to send (a digest renamed for sending after such a kill), and clears its
lock the same way. Each clearing is logged in mailman.error (mailman.log on
Debian). Both fail open: an error while clearing is logged and the post or
digest goes on, as stock Mailman would take it.

A dot-lock is taken to be stale when its mailbox's fcntl lock is free and
stays free, with the same dot-lock file, over ``SETTLE`` seconds: Mailman's
processes hold the fcntl lock for as long as they hold the dot-lock, except
for the instant between releasing one and removing the other.

Not covered: a post appended in full just before the kill is appended again
(the digest then carries it twice, as at-least-once delivery does).
"""

import contextlib
import fcntl
import logging
import os
import time

from mailman.interfaces.handler import IHandler
from public import public
from zope.interface import implementer

# MMDF frames each message: this line before it, a newline and this line after it.
SEPARATOR = b'\x01\x01\x01\x01\n'
END = b'\n' + SEPARATOR
SETTLE = 0.1

elog = logging.getLogger('mailman.error')


def cut_torn_tail(mailbox_file):
    """Truncate an open MMDF file after its last complete message; the number of bytes cut.

    A complete mailbox is empty or ends with END (and not with END and a
    SEPARATOR: a message begun, nothing of it written yet). Otherwise the
    message being appended begins after the last END followed by SEPARATOR
    (at the start of the file without one), or, when the file ends in the
    middle of a SEPARATOR, after the last END.
    """
    mailbox_file.seek(0)
    data = mailbox_file.read()
    if not data or (data.endswith(END) and not data.endswith(END + SEPARATOR)):
        return 0
    begun = data.rfind(END + SEPARATOR)
    keep = begun + len(END) if begun >= 0 else 0
    last_end = data.rfind(END)
    rest = data[last_end + len(END):]
    if last_end >= 0 and rest and SEPARATOR.startswith(rest) and rest != SEPARATOR:
        keep = max(keep, last_end + len(END))
    mailbox_file.truncate(keep)
    return len(data) - keep


def _free(mailbox_file):
    """Whether this process could take the mailbox's fcntl lock (then released)."""
    try:
        fcntl.lockf(mailbox_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    fcntl.lockf(mailbox_file, fcntl.LOCK_UN)
    return True


def _identity(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def clear_stale_lock(path, always_cut=False):
    """Remove mailbox ``path``'s dot-lock if no living process holds it, cutting a torn message.

    With ``always_cut``, a torn message is cut also when there is no lock.
    Returns a line for the log when it changed something, else None.
    """
    dotlock = path + '.lock'
    seen = _identity(dotlock)
    if seen is None and not always_cut:
        return None
    try:
        # A lock whose mailbox was renamed away for sending: the empty
        # mailbox to-digest would create, so that the lock can be judged.
        flags = os.O_RDWR | (os.O_CREAT if seen is not None else 0)
        mailbox_file = os.fdopen(os.open(path, flags, 0o666), 'rb+')
    except FileNotFoundError:
        return None
    with mailbox_file:
        if seen is not None:
            if not _free(mailbox_file):
                return None  # a living process holds the mailbox
            time.sleep(SETTLE)
        try:
            fcntl.lockf(mailbox_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return None
        try:
            if seen is not None and _identity(dotlock) != seen:
                return None  # released, or taken anew, meanwhile: not stale
            cut = cut_torn_tail(mailbox_file)
            if seen is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(dotlock)
        finally:
            fcntl.lockf(mailbox_file, fcntl.LOCK_UN)
    if seen is None and not cut:
        return None
    return '%s%s' % (
        'removed %s, left by a process that died holding it' % dotlock if seen is not None else path,
        '; cut the message being appended (%d bytes) off its end' % cut if cut else '')


def clear_and_log(path, always_cut=False):
    """clear_stale_lock, logged in mailman.error; an error is logged, not raised."""
    try:
        done = clear_stale_lock(path, always_cut)
    except OSError as error:
        elog.error('mailops: cannot check the lock of %s: %s', path, error)
        return
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
