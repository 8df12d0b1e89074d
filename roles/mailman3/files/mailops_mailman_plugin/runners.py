# SPDX-License-Identifier: GPL-3.0-or-later
"""Mailman's queue runners, stopping only between messages.

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

Selected per runner in mailman.cfg (``[runner.out] class: ...``) by the
mailman3 role while the plugin is on. The lmtp and rest runners have their
own loops and are left stock.
"""

import logging
import signal

from mailman.runners.archive import ArchiveRunner
from mailman.runners.bounce import BounceRunner
from mailman.runners.command import CommandRunner
from mailman.runners.digest import DigestRunner
from mailman.runners.incoming import IncomingRunner
from mailman.runners.outgoing import OutgoingRunner
from mailman.runners.pipeline import PipelineRunner
from mailman.runners.retry import RetryRunner
from mailman.runners.virgin import VirginRunner
from public import public

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
class MailopsArchiveRunner(FinishInHand, ArchiveRunner):
    """The stock ``archive`` runner, stopping between messages."""


@public
class MailopsBounceRunner(FinishInHand, BounceRunner):
    """The stock ``bounces`` runner, stopping between messages."""


@public
class MailopsCommandRunner(FinishInHand, CommandRunner):
    """The stock ``command`` runner, stopping between messages."""


@public
class MailopsDigestRunner(FinishInHand, DigestRunner):
    """The stock ``digest`` runner, stopping between messages."""


@public
class MailopsIncomingRunner(FinishInHand, IncomingRunner):
    """The stock ``in`` runner, stopping between messages."""


@public
class MailopsOutgoingRunner(FinishInHand, OutgoingRunner):
    """The stock ``out`` runner, stopping between messages."""


@public
class MailopsPipelineRunner(FinishInHand, PipelineRunner):
    """The stock ``pipeline`` runner, stopping between messages."""


@public
class MailopsRetryRunner(FinishInHand, RetryRunner):
    """The stock ``retry`` runner, stopping between messages."""


@public
class MailopsVirginRunner(FinishInHand, VirginRunner):
    """The stock ``virgin`` runner, stopping between messages."""
