# SPDX-License-Identifier: GPL-3.0-or-later
"""The plugin's report, which every test in this directory judges.

differential.py loads the pinned PyPI Mailman (requirements.txt) with the
plugin enabled through mailman.cfg, exactly as a host would, in a child
process: Mailman's initialize() sets process-wide state (component registry,
logging, config) that must not leak into the other tests. With
MAILOPS_PLUGIN_REPORT=FILE the tests judge a report differential.py wrote
elsewhere (Molecule's verify: Debian's packaged Mailman in the container).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PLUGIN_PARENT = HERE.parents[2] / 'roles' / 'mailman3' / 'files'
DRIVER = HERE / 'differential.py'
TIMING_MEMBERS = 5000
TIMEOUT = 300


@pytest.fixture(scope='session')
def report(tmp_path_factory):
    # A report made elsewhere: Molecule's verify runs differential.py against
    # Debian's packaged Mailman in the container and judges it with these tests.
    given = os.environ.get('MAILOPS_PLUGIN_REPORT')
    if given:
        return json.loads(Path(given).read_text())
    workdir = tmp_path_factory.mktemp('mailman-plugin')
    # No __pycache__ in roles/: the role copies that directory to hosts.
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_PARENT), HOME=str(workdir), PYTHONDONTWRITEBYTECODE='1')
    env.pop('MAILMAN_CONFIG_FILE', None)
    proc = subprocess.run([sys.executable, str(DRIVER), str(workdir), '--timing', str(TIMING_MEMBERS)],
                          env=env, check=False, capture_output=True, text=True, timeout=TIMEOUT)
    if proc.returncode != 0:
        log = workdir / 'var' / 'logs' / 'mailman.log'
        pytest.fail('differential.py failed (%d):\n%s\nmailman.log:\n%s'
                    % (proc.returncode, proc.stderr[-4000:],
                       log.read_text()[-2000:] if log.exists() else '(none)'))
    return json.loads(proc.stdout)
