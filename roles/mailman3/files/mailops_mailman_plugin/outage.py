# SPDX-License-Identifier: GPL-3.0-or-later
"""A database outage or a full disk is waited out, not turned into shunted or bounced mail.

When Mailman's database is unreachable for a moment (PostgreSQL restarted,
failed over or its connections cut; SQLite locked past its timeout), or the
filesystem holding Mailman's queues is full, stock Mailman:

- moves the message a queue runner had in hand to the shunt queue (its
  error handling treats every exception as a bug), where it stays until an
  operator runs ``mailman unshunt``; with the disk full the shunt itself
  fails and the message goes to ``bad/``;
- answers Postfix's LMTP RCPT with ``500 Error: (OperationalError) ...`` on
  3.3.8 (Debian 12; 3.3.10 answers 451 at that point), any other
  unexpected error in the LMTP conversation with a 500 on both, and a
  failure to queue the message after DATA with ``550``, so Postfix returns
  the post to its sender as undeliverable.

With the plugin's runners (runners.py):

- a message whose processing failed for one of those reasons
  (``is_transient``) is put back in its queue as it was given to the runner:
  its queue file, renamed back (no new file), keeps its place at the head
  of the queue (a rename that fails too, the directory needing a block, is
  tried again on each scan; a queue file that could not even be taken,
  its rename to ``.bak`` failing on the full disk, stays queued instead of
  going to ``bad/``). Queue entries whose writing failed (``.tmp``) are
  removed once they are a minute old. The runner pauses (1 s, doubling to
  ``LONGEST_PAUSE`` while the failures last; a stop signal ends the pause at
  once) and goes on with the rest of its scan. A message still failing with
  database errors ``GIVE_UP_AFTER`` after its first failure is shunted as
  stock Mailman would; a full disk (also the database's own "database or
  disk is full") is waited out for as long as it lasts (the shunt queue is
  on the same disk). Work the runner did for that message before the
  failure is done again: in the posting pipeline every database read comes
  before ``to-outgoing``, so a retried post is not sent twice; an out
  runner that failed after its SMTP hand-off re-sends (at least once, as
  after a kill); a notice or confirmation queued before the failure is sent
  again (the first one's link then no longer works); a post the pipeline
  added to the list's digest before a later handler failed on the full disk
  is added again (the digest then carries it twice).
- the LMTP server answers any unexpected error with ``451 4.3.0`` (after
  DATA, one per recipient): Postfix keeps the message and tries again on
  its queue run (and returns it only after ``maximal_queue_lifetime``, 5
  days by default, like any deferred mail). That includes a failure Mailman
  catches itself while it queues the message for one recipient (the
  database away, Mailman's queue directory full or unwritable), which stock
  Mailman answers with ``550``: after DATA every recipient already passed
  RCPT's check that it names a list, so a 550 there is always such a
  failure (or a list deleted in between: Postfix's next try gets the 550 at
  RCPT and returns the post then).
"""

import errno
import logging
import os
import time

from mailman.config import config
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, PendingRollbackError

LONGEST_PAUSE = 32
# A message still failing with database errors this long after its first
# failure (in this runner process) is shunted, as stock Mailman would have
# at once: the error was not an outage after all (OperationalError also
# covers a statement timeout), or the outage is an incident for an operator
# (``mailman unshunt`` re-queues it).
GIVE_UP_AFTER = 15 * 60
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
SQLITE_FULL = 13
PG_DISK_FULL = '53100'
# A .tmp queue file older than this was left by a failed write or a dead writer.
STALE_TMP = 60
SWEEP_EVERY = 10
# What the LMTP server answers instead of "500 Error: (...)".
TEMPORARY_FAILURE = '451 4.3.0 Mailman could not take the message now; try again later'

elog = logging.getLogger('mailman.error')


def is_outage(error):
    """Whether an exception means the database could not be reached (not a bug)."""
    if isinstance(error, (OperationalError, InterfaceError, PendingRollbackError)):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def is_disk_full(error):
    """Whether an exception is a write that found the filesystem (or a quota) full.

    Also the database's own: SQLite's SQLITE_FULL ("database or disk is
    full"), PostgreSQL's disk_full (53100), which SQLAlchemy raises as
    OperationalError.
    """
    if isinstance(error, OSError):
        return error.errno in DISK_FULL
    original = getattr(error, 'orig', None)
    return (getattr(original, 'sqlite_errorcode', None) == SQLITE_FULL
            or getattr(original, 'pgcode', None) == PG_DISK_FULL
            or (isinstance(error, OperationalError) and 'database or disk is full' in str(error)))


def is_transient(error):
    """Whether an exception is an outage to wait out, not a bug."""
    return is_outage(error) or is_disk_full(error)


def _first_line(error):
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ''


def _abort():
    try:
        config.db.abort()
    except Exception as error:  # pylint: disable=broad-exception-caught
        elog.error('Rollback after a database failure failed too: %s', error)


def put_back(queue_directory, filebase):
    """Rename a runner's queue file (``.bak``) back to a queued one (``.pck``): it keeps its place.

    True when done. A rename can need a new directory block, so it too can
    fail while the disk is full.
    """
    backup = os.path.join(queue_directory, filebase + '.bak')
    try:
        os.rename(backup, os.path.join(queue_directory, filebase + '.pck'))
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def remove_stale_temporary(queue_directory, now):
    """Remove queue files a writer began and never finished (``.tmp``, older than ``STALE_TMP``).

    Mailman writes each queue entry as ``.tmp`` and renames it; a write that
    failed (a full disk) or a writer that died leaves the ``.tmp``, which no
    runner ever reads. A write takes milliseconds; a writer still at work on
    one that old would fail its rename (the plugin's LMTP answers 451, a
    runner shunts the message in hand).
    """
    with os.scandir(queue_directory) as entries:
        for entry in entries:
            if not entry.name.endswith('.tmp'):
                continue
            try:
                if now - entry.stat().st_mtime <= STALE_TMP:
                    continue
                os.remove(entry.path)
            except FileNotFoundError:
                continue  # finished (renamed) or removed meanwhile
            elog.error('Removed %s, a queue entry never finished', entry.path)


class WaitOutOutage:
    """Mixin for a queue runner: put the message back and pause during an outage."""

    _mailops_failures = 0
    _mailops_pause_due = 0
    _mailops_swept = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The queue file in hand, from dequeue to finish.
        self._mailops_filebase = None
        # What to do with it at finish: None (as stock), 'put back', 'leave' (dequeue failed).
        self._mailops_at_finish = None
        # Queue file -> when its database failures began (in this process).
        self._mailops_failing_since = {}
        # Queue files not put back yet (the disk full): tried again each period.
        self._mailops_stranded = set()
        if self.switchboard is not None:
            self.switchboard.dequeue = self._dequeue_noting(self.switchboard.dequeue)
            self.switchboard.finish = self._finish_or_put_back(self.switchboard.finish)

    def _dequeue_noting(self, dequeue):
        # dequeue renames the queue file to .bak first: with the disk full that
        # rename can fail, and the stock loop would move the file to bad/.
        def dequeue_noting(filebase):
            self._mailops_filebase = filebase
            try:
                return dequeue(filebase)
            except Exception as error:
                if not is_disk_full(error):
                    raise
                self._wait_out(error, None, 'left in')
                self._mailops_at_finish = 'leave'
                raise
        return dequeue_noting

    def _finish_or_put_back(self, finish):
        # The stock loop finishes every message it dequeued: removes its queue
        # file, or moves it to bad/ (preserve); here it may put it back instead.
        def finish_or_put_back(filebase, preserve=False):
            at_finish, self._mailops_at_finish = self._mailops_at_finish, None
            if at_finish == 'leave':
                return
            if at_finish == 'put back' and not preserve:
                if not put_back(self.switchboard.queue_directory, filebase):
                    elog.error('Could not put %s back in the %s queue yet; trying again each scan',
                               filebase, self.switchboard.name)
                    self._mailops_stranded.add(filebase)
                return
            self._mailops_failing_since.pop(filebase, None)
            finish(filebase, preserve)
        return finish_or_put_back

    def _wait_out(self, error, msg, done):
        """Count a failure, set the pause, log it."""
        _abort()
        self._mailops_failures += 1
        self._mailops_pause_due = min(2 ** (self._mailops_failures - 1), LONGEST_PAUSE)
        elog.error('%s runner: %s (%s: %s); message %s %s the %s queue, next try in %d s',
                   self.name, 'disk full' if is_disk_full(error) else 'database unreachable',
                   type(error).__name__, _first_line(error),
                   msg.get('message-id', 'n/a') if msg is not None else self._mailops_filebase,
                   done, self.switchboard.name, self._mailops_pause_due)

    def _process_one_file(self, msg, msgdata):
        try:
            result = super()._process_one_file(msg, msgdata)
        except Exception as error:
            if not is_transient(error):
                raise
            if not is_disk_full(error):
                # A full disk is waited out as long as it lasts: the shunt
                # queue is on the same disk.
                now = time.time()
                since = self._mailops_failing_since.setdefault(self._mailops_filebase, now)
                if now - since > GIVE_UP_AFTER:
                    raise
            self._wait_out(error, msg, 'put back in')
            self._mailops_at_finish = 'put back'
            return None
        self._mailops_failures = 0
        return result

    def _do_periodic(self):
        # After the stock loop put the failed message's queue file back.
        super()._do_periodic()
        if self.switchboard is not None:
            queue_directory = self.switchboard.queue_directory
            self._mailops_stranded = {filebase for filebase in self._mailops_stranded
                                      if not put_back(queue_directory, filebase)}
            now = time.time()
            if now - self._mailops_swept > SWEEP_EVERY:
                self._mailops_swept = now
                try:
                    remove_stale_temporary(queue_directory, now)
                except OSError as error:
                    elog.error('Could not look for unfinished queue entries in %s: %s', queue_directory, error)
        deadline = time.monotonic() + self._mailops_pause_due
        self._mailops_pause_due = 0
        while not self._stop and time.monotonic() < deadline:
            time.sleep(0.1)


async def answer_temporary_failure(error):
    """aiosmtpd's handle_exception hook for Mailman's LMTP handler."""
    elog.error('LMTP: %s: %s; answered "%s"', type(error).__name__, _first_line(error), TEMPORARY_FAILURE,
               exc_info=error)
    _abort()
    return TEMPORARY_FAILURE


def temporary_failure_in_data(stock):
    """Mailman's LMTP handle_DATA, answering 451 per recipient when it raises or answers 550.

    LMTP needs one reply per recipient after DATA; aiosmtpd's exception hook
    gives one line.
    """
    async def handle_data(server, session, envelope):
        try:
            answer = await stock(server, session, envelope)
        except Exception as error:  # pylint: disable=broad-exception-caught
            answer = await answer_temporary_failure(error)
            return '\r\n'.join(answer for _rcpt in envelope.rcpt_tos)
        lines = answer.split('\r\n')
        if len(lines) != len(envelope.rcpt_tos):
            return answer  # one line for the whole message (501: a defective message)
        failed = [rcpt for rcpt, line in zip(envelope.rcpt_tos, lines, strict=True) if line.startswith('550')]
        if failed:
            elog.error('LMTP: Mailman could not queue the message for %s (its error: smtp.log, "Queue detection"); '
                       'answered "%s"', ', '.join(failed), TEMPORARY_FAILURE)
        return '\r\n'.join(TEMPORARY_FAILURE if line.startswith('550') else line for line in lines)
    return handle_data
