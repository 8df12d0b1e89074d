# SPDX-License-Identifier: GPL-3.0-or-later
"""A real GNU Mailman 3 core, from PyPI, running in a temporary directory.

The REST modules are tested against it instead of a mock: the point of the
tests is that Mailman accepts what the modules send. Everything lives under
one directory (SQLite database, queues, logs, pid file) and every port is a
free loopback port, so parallel test runs on one machine do not collide.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

START_TIMEOUT = 120
STOP_TIMEOUT = 30

ADMIN_USER = 'restadmin'
ADMIN_PASS = 'test-rest-secret'

CONFIG = """\
[mailman]
layout: pytest
site_owner: postmaster@example.org

[paths.pytest]
var_dir: {var_dir}

[database]
class: mailman.database.sqlite.SQLiteDatabase
url: sqlite:///{var_dir}/data/mailman.db

[webservice]
hostname: 127.0.0.1
port: {rest_port}
admin_user: {admin_user}
admin_pass: {admin_pass}
workers: 1

[mta]
# No Postfix here: NullMTA writes no alias maps; nothing listens on the SMTP
# port, which only matters for mail Mailman would send (none is needed).
incoming: mailman.mta.null.NullMTA
lmtp_host: 127.0.0.1
lmtp_port: {lmtp_port}
smtp_host: 127.0.0.1
smtp_port: {smtp_port}
{runners}
"""

# Only the REST runner matters to the modules. The others would start a dozen
# Python processes that slow the start-up and retry mail to a closed SMTP port.
IDLE_RUNNERS = ('archive', 'bounces', 'command', 'digest', 'in', 'lmtp', 'nntp',
                'out', 'pipeline', 'retry', 'task', 'virgin')


def check_sqlalchemy():
    """Refuse to start on a SQLAlchemy that Mailman 3.3.10 cannot use.

    Mailman's requirement is only sqlalchemy>=1.4; with 2.1 the core starts,
    but every roster or count query answers 500, which would read like bugs
    in the modules.
    """
    import sqlalchemy
    major, minor = (int(part) for part in sqlalchemy.__version__.split('.')[:2])
    if (major, minor) >= (2, 1):
        raise RuntimeError('SQLAlchemy %s is installed, but Mailman 3.3.10 needs SQLAlchemy < 2.1 '
                           '(its roster queries fail with ArgumentError); pin SQLAlchemy==2.0.* '
                           'in requirements.txt' % sqlalchemy.__version__)


def processes_under(directory):
    """{pid: command line} of every live process whose command line names directory.

    This process, whose command line may name it too, is left out. Zombies
    have an empty command line: they hold no port and no file.
    """
    marker = os.fsencode(os.path.join(str(directory), ''))
    found = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as f:
                cmdline = f.read()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker in cmdline:
            found[int(entry)] = cmdline.replace(b'\0', b' ').decode(errors='replace').strip()
    return found


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class MailmanCore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.var_dir = self.root / 'var'
        self.config_file = self.root / 'mailman.cfg'
        self.rest_port = free_port()
        self.api_url = 'http://127.0.0.1:%d/3.1' % self.rest_port
        self.api_user = ADMIN_USER
        self.api_password = ADMIN_PASS
        self.mailman = shutil.which('mailman', path=os.path.dirname(sys.executable)) or 'mailman'

    @property
    def rest_args(self):
        """Module arguments that point at this core."""
        return dict(api_url=self.api_url, api_user=self.api_user, api_password=self.api_password)

    def _run(self, command):
        args = [self.mailman, '-C', str(self.config_file)]
        if os.geteuid() == 0:
            args.append('--run-as-root')
        # HOME in the tmp dir: gunicorn puts its control socket in ~/.gunicorn.
        env = dict(os.environ, HOME=str(self.root))
        env.pop('MAILMAN_CONFIG_FILE', None)
        # Output to a file, not a pipe: the master inherits it and would keep
        # a pipe open, so waiting for the command would wait for the master.
        with open(self.root / ('mailman-%s.out' % command), 'w+') as out:
            proc = subprocess.run(args + [command], env=env, check=False, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=STOP_TIMEOUT)
            out.seek(0)
            return proc.returncode, out.read()

    def log_tail(self, lines=40):
        log = self.var_dir / 'logs' / 'mailman.log'
        if not log.exists():
            return '(no %s)' % log
        return '\n'.join(log.read_text(errors='replace').splitlines()[-lines:])

    def start(self):
        check_sqlalchemy()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        runners = ''.join('\n[runner.%s]\nstart: no\n' % name for name in IDLE_RUNNERS)
        self.config_file.write_text(CONFIG.format(
            var_dir=self.var_dir, rest_port=self.rest_port, lmtp_port=free_port(),
            smtp_port=free_port(), admin_user=ADMIN_USER, admin_pass=ADMIN_PASS,
            runners=runners))
        returncode, output = self._run('start')
        if returncode != 0:
            raise RuntimeError('mailman start failed (%d): %s\n%s'
                               % (returncode, output, self.log_tail()))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                r = requests.get(self.api_url + '/system/versions',
                                 auth=(ADMIN_USER, ADMIN_PASS), timeout=5)
                if r.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError('Mailman REST API did not answer on %s within %ds; mailman.log:\n%s'
                           % (self.api_url, START_TIMEOUT, self.log_tail()))

    def _master_pid(self):
        try:
            return int((self.var_dir / 'master.pid').read_text().strip())
        except (OSError, ValueError):
            return None

    def processes(self):
        """{pid: command line} of every live process that runs from this core's directory.

        The master and each runner (and the REST runner's gunicorn workers,
        forked with its command line) carry ``-C ROOT/mailman.cfg`` in their
        command line, whoever their parent is now.
        """
        return processes_under(self.root)

    def stop(self):
        """Stop the master and every runner; processes() is empty afterwards unless a kill failed."""
        pid = self._master_pid()
        try:
            self._run('stop')
        except subprocess.TimeoutExpired:
            pass
        # `mailman start` made the master a session leader; its runners share
        # its process group. Wait for the group, and for any process of this
        # core outside it (a runner whose master died first is reparented and
        # would keep the REST port), then kill what is left.
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not self._group_alive(pid) and not self.processes():
                return
            time.sleep(0.2)
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for stray in self.processes():
            try:
                os.kill(stray, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.1)

    @staticmethod
    def _group_alive(pid):
        if pid is None:
            return False
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return False
        return True
