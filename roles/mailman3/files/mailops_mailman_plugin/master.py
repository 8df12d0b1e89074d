# SPDX-License-Identifier: GPL-3.0-or-later
"""Mailman 3.3.8's master restarts a runner that died, as 3.3.10's does.

Two defects of 3.3.8's master watcher (Debian 12), both fixed in 3.3.10:

- it waits for its first signal with ``signal.pause()`` before it starts
  reaping runners, and installs no SIGCHLD handler, so a runner's death does
  not wake it (the runner stays a zombie);
- once awake, it restarts a runner only after SIGUSR1, never after a crash.

So on 3.3.8 a runner killed by the OOM killer or SIGKILL, or exiting on an
error, is gone until Mailman is restarted, and nothing is logged: its queue
fills while Mailman looks up. Found by the resilience scenario's runner-kill
fault, on Debian 12.

The plugin's pre_hook runs in every process that initialises Mailman. In the
master it runs before the watcher loop is built, and here installs the no-op
SIGCHLD handler 3.3.10 installs and, where the installed loop does not restart
crashed runners, 3.3.10's rule: a runner that ended other than on SIGTERM (a
stop) is restarted, up to the runner's ``max_restarts``, unless the master
itself was told to stop (SIGTERM, SIGINT). On 3.3.10 and later the stock loop
is kept.
"""

import inspect
import logging
import os
import signal
import sys

MASTER = 'master'
# The line of 3.3.10's loop that restarts a runner after a crash.
STOCK_RESTARTS = 'restart = self._restartable'


def is_master(argv0=None):
    """Whether this process is Mailman's master watcher (``bin/master``)."""
    return os.path.basename(argv0 if argv0 is not None else sys.argv[0]) == MASTER


def wake_on_child_exit():
    """Install a no-op SIGCHLD handler unless the process already has one."""
    if signal.getsignal(signal.SIGCHLD) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGCHLD, _ignore)


def _ignore(signum, frame):
    """The handler's only job is to interrupt ``signal.pause()``."""


def restart_crashed_runners():
    """Give the master 3.3.10's restart rule if its own loop lacks it."""
    from mailman.bin import master
    if STOCK_RESTARTS in inspect.getsource(master.Loop.loop):
        return False
    master.Loop = type('Loop', (RestartingLoop, master.Loop), {})
    return True


class RestartingLoop:
    """Mixin for mailman.bin.master.Loop: 3.3.10's ``loop()`` and stop rule.

    3.3.10's SIGTERM and SIGINT handlers also turn restarts off, so that the
    runners a stop ends are not started again; 3.3.8's do not (they had no
    restarts to turn off), so the stop is noted here before the stock handler
    runs.
    """

    _mailops_stopping = False

    def install_signal_handlers(self):
        super().install_signal_handlers()
        for signum in (signal.SIGTERM, signal.SIGINT):
            stock = signal.getsignal(signum)

            def stopping(sig, frame, stock=stock):
                self._mailops_stopping = True
                stock(sig, frame)
            signal.signal(signum, stopping)

    def loop(self):
        from mailman.config import config
        log = logging.getLogger('mailman.runner')
        log.info('Master started')
        self._pause()
        while True:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid not in self._kids:
                continue
            if os.WIFSIGNALED(status):
                why, how = os.WTERMSIG(status), 'signal'
            elif os.WIFEXITED(status):
                why, how = os.WEXITSTATUS(status), 'exit status'
            else:
                why, how = None, 'unknown'
            rname, slice_number, count, restarts = self._kids.pop(pid)
            # SIGTERM, as a signal or as the exit status runners use for a
            # requested stop: do not restart.
            restart = self._restartable and not self._mailops_stopping and why != signal.SIGTERM
            if why != signal.SIGUSR1:
                restarts += 1
            max_restarts = int(getattr(config, 'runner.' + rname).max_restarts)
            if restarts > max_restarts:
                restart = False
                log.info('Runner %s reached maximum restart limit of %d, not restarting.',
                         rname, max_restarts)
            if restart:
                log.info('%s runner (pid %d) ended with %s %s; restarting it.', rname, pid, how, why)
                spec = f'{rname}:{slice_number:d}:{count:d}'
                new_pid = self._start_runner(spec)
                self._kids.add(new_pid, (rname, slice_number, count, restarts))
                # A stop that came after the decision above signalled the
                # runners it knew, not this one: stop it too, or the master
                # waits for it until systemd's timeout kills everything.
                if self._mailops_stopping:
                    os.kill(new_pid, signal.SIGTERM)
        log.info('Master stopped')
