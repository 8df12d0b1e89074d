# SPDX-License-Identifier: GPL-3.0-or-later
"""Mailman's runners, stopping only between messages and waiting out database outages and a full disk.

Stock runners handle SIGTERM, SIGINT and SIGUSR1 (``mailman stop``, the
master passing on systemd's stop, ``mailman restart``) by raising
``RunnerInterrupt`` wherever they are: in the middle of a pipeline or of an
SMTP transaction. ``RunnerInterrupt`` is an ``Exception``, so the runner's own
error handling takes the message it had in hand for a failure and moves it to
the shunt queue, even when Postfix had already accepted it; or the process is
gone before its queue file is removed, and Mailman restores the file and sends
the message again on start. Either way a graceful restart of Mailman, which
every configuration change is, can cost a post or send it twice.

These runners are the stock ones with one change: a stop signal that arrives
while a message is in hand sets the stop flag the stock loop already checks
after each message, so the message is finished and its queue file removed
before the runner exits. While the runner sleeps between scans the stock
handler runs unchanged (it must interrupt the sleep, which can be 15 minutes
for the retry runner). systemd's stop timeout still bounds the wait: a runner
that does not finish in time is killed, and Mailman's at-least-once recovery
takes over.

The queue runners also wait out a database outage or a full disk instead of
shunting the message in hand, and the LMTP runner answers an unexpected error with a
temporary failure instead of a bounce (outage.py); the command runner
answers a sender at most max_autoresponses_per_day times a day per list
(commands.py); the digest runner removes a dead process's lock on the digest
it sends (handlers/digest_lock.py).

Selected per runner in mailman.cfg (``[runner.out] class: ...``) by the
mailman3 role while the plugin is on. The rest runner is left stock.
"""

import logging
import signal

from mailman.runners.archive import ArchiveRunner
from mailman.runners.bounce import BounceRunner
from mailman.runners.command import CommandRunner
from mailman.runners.digest import DigestRunner
from mailman.runners.incoming import IncomingRunner
from mailman.runners.lmtp import LMTPRunner
from mailman.runners.outgoing import OutgoingRunner
from mailman.runners.pipeline import PipelineRunner
from mailman.runners.retry import RetryRunner
from mailman.runners.virgin import VirginRunner
from public import public

from mailops_mailman_plugin.commands import LimitCommands
from mailops_mailman_plugin.handlers.digest_lock import clear_and_log
from mailops_mailman_plugin.outage import WaitOutOutage, answer_temporary_failure, temporary_failure_in_data

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)

rlog = logging.getLogger('mailman.runner')


class FinishInHand:
    """Mixin: a stop signal outside the between-scans sleep lets the runner finish first."""

    _mailops_sleeping = False
    # Only for the log line: whether the signal came with a message in hand.
    _mailops_in_hand = False

    def _process_one_file(self, msg, msgdata):
        self._mailops_in_hand = True
        try:
            return super()._process_one_file(msg, msgdata)
        finally:
            self._mailops_in_hand = False

    def _snooze(self, filecnt):
        self._mailops_sleeping = True
        try:
            # A signal that came between the stock loop's stop check and the
            # line above only set the flag: do not sleep on it.
            if not self._stop:
                super()._snooze(filecnt)
        finally:
            self._mailops_sleeping = False

    def signal_handler(self, signum, frame):
        if signum in STOP_SIGNALS and not self._mailops_sleeping:
            self.stop()
            self.status = signum
            rlog.info('%s runner caught %s.  Stopping after %s.', self.name, signal.Signals(signum).name,
                      'the message in hand' if self._mailops_in_hand else 'this scan')
            return
        super().signal_handler(signum, frame)


# Named in mailman.cfg by the mailman3 role (vars/main.yml, __mailman3_plugin_runners).
@public
class MailopsArchiveRunner(FinishInHand, WaitOutOutage, ArchiveRunner):
    """The stock ``archive`` runner, stopping between messages, waiting out outages."""


@public
class MailopsBounceRunner(FinishInHand, WaitOutOutage, BounceRunner):
    """The stock ``bounces`` runner, stopping between messages, waiting out outages."""


@public
class MailopsCommandRunner(FinishInHand, WaitOutOutage, LimitCommands, CommandRunner):
    """The stock ``command`` runner, stopping between messages, waiting out outages,
    answering at most max_autoresponses_per_day commands per sender and list a day (commands.py)."""


@public
class MailopsDigestRunner(FinishInHand, WaitOutOutage, DigestRunner):
    """The stock ``digest`` runner, stopping between messages, waiting out outages,
    clearing a dead process's lock on the digest it sends (handlers/digest_lock.py)."""

    def _dispose(self, mlist, msg, msgdata):
        # A digest renamed for sending after a kill in to-digest: its torn end.
        clear_and_log(msgdata['digest_path'], always_cut=True)
        return super()._dispose(mlist, msg, msgdata)


@public
class MailopsIncomingRunner(FinishInHand, WaitOutOutage, IncomingRunner):
    """The stock ``in`` runner, stopping between messages, waiting out outages."""


@public
class MailopsOutgoingRunner(FinishInHand, WaitOutOutage, OutgoingRunner):
    """The stock ``out`` runner, stopping between messages, waiting out outages."""


@public
class MailopsPipelineRunner(FinishInHand, WaitOutOutage, PipelineRunner):
    """The stock ``pipeline`` runner, stopping between messages, waiting out outages."""


@public
class MailopsRetryRunner(FinishInHand, WaitOutOutage, RetryRunner):
    """The stock ``retry`` runner, stopping between messages, waiting out outages."""


@public
class MailopsVirginRunner(FinishInHand, WaitOutOutage, VirginRunner):
    """The stock ``virgin`` runner, stopping between messages, waiting out outages."""


@public
class MailopsLMTPRunner(LMTPRunner):
    """The stock ``lmtp`` runner, answering an unexpected error with 451, not 500."""

    def __init__(self, name, slice=None):  # pylint: disable=redefined-builtin
        super().__init__(name, slice)
        # aiosmtpd asks the handler's handle_exception for the reply, if it has one.
        handler = self.lmtp.handler
        handler.handle_exception = answer_temporary_failure
        handler.handle_DATA = temporary_failure_in_data(handler.handle_DATA)
