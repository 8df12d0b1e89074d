# SPDX-License-Identifier: GPL-3.0-or-later
"""The plugin's report, which every test in this directory judges.

differential.py loads the pinned PyPI Mailman (requirements.txt) with the
plugin enabled through mailman.cfg, exactly as a host would, in a child
process: Mailman's initialize() sets process-wide state (component registry,
logging, config) that must not leak into the other tests. With
MAILOPS_PLUGIN_REPORT=FILE the tests judge a report differential.py wrote
elsewhere (Molecule's verify: Debian's packaged Mailman in the container).

The report is made once per session and kept in a file. ansible-test units
runs every test in a fork of its own (see ../conftest.py), where a session
fixture starts afresh: without the file, each of the tests would run
differential.py again (about 75 s each). Under xdist the workers share the
file too, through a lock: the first makes it, the others wait and read it.
"""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PLUGIN_PARENT = HERE.parents[2] / 'roles' / 'mailman3' / 'files'
DRIVER = HERE / 'differential.py'
# molecule/default/tasks/recipients_plugin.yml passes the same number.
TIMING_MEMBERS = 5000
TIMEOUT = 300

_REPORT_KEY = pytest.StashKey[Path]()


def pytest_collection_modifyitems(session, config, items):
    # Fix the file's place now, in the process that forks the tests: a fork
    # that asked for a temporary directory first would get one of its own.
    if any('report' in getattr(item, 'fixturenames', ()) for item in items):
        base = config._tmp_path_factory.getbasetemp()  # pylint: disable=protected-access
        # A local xdist worker's base directory (popen-gwN) lies in the
        # controller's, which is new for each session. Anywhere else the
        # parent would outlive the session, and so would its report.
        worker = os.environ.get('PYTEST_XDIST_WORKER')
        shared = base.parent if worker and base.name == 'popen-' + worker else base
        config.stash[_REPORT_KEY] = shared / 'mailman-plugin-report.json'


def make_report(workdir):
    """Run differential.py against the PyPI core: (report or None, what went wrong)."""
    # No __pycache__ in roles/: the role copies that directory to hosts.
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_PARENT), HOME=str(workdir), PYTHONDONTWRITEBYTECODE='1')
    env.pop('MAILMAN_CONFIG_FILE', None)
    # A timeout raises: the caller records it like any other failure.
    proc = subprocess.run([sys.executable, str(DRIVER), str(workdir), '--timing', str(TIMING_MEMBERS)],
                          env=env, check=False, capture_output=True, text=True, timeout=TIMEOUT)
    if proc.returncode != 0:
        log = workdir / 'var' / 'logs' / 'mailman.log'
        return None, ('differential.py failed (%d):\n%s\nmailman.log:\n%s'
                      % (proc.returncode, proc.stderr[-4000:],
                         log.read_text()[-2000:] if log.exists() else '(none)'))
    return proc.stdout, ''


@pytest.fixture(scope='session')
def report(pytestconfig):
    # A report made elsewhere: Molecule's verify runs differential.py against
    # Debian's packaged Mailman in the container and judges it with these tests.
    given = os.environ.get('MAILOPS_PLUGIN_REPORT')
    if given:
        return json.loads(Path(given).read_text())
    path = pytestconfig.stash.get(_REPORT_KEY, None)
    if path is None:  # only when collection did not see this fixture coming
        pytest.fail('no place was set for the plugin report')
    failure = path.with_suffix('.failed')
    with open(path.with_suffix('.lock'), 'w', encoding='utf-8') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists() and not failure.exists():
            workdir = path.with_suffix('.d')
            try:
                workdir.mkdir()
                text, problem = make_report(workdir)
            # Anything at all: it is recorded for every test, as a failure is.
            except Exception as e:  # pylint: disable=broad-exception-caught
                text, problem = None, 'differential.py could not be run: %r' % e
            # Written before it is named: a reader never sees half a report.
            done = path.with_suffix('.tmp')
            done.write_text(text if text is not None else problem)
            done.rename(path if text is not None else failure)
    if failure.exists():  # every test fails with the one run's reason
        pytest.fail(failure.read_text())
    return json.loads(path.read_text())
