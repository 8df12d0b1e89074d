# SPDX-License-Identifier: GPL-3.0-or-later
"""One real Mailman core for the session, and the check that it leaves nothing behind.

ansible-test units runs every test in a fork of its own (its ansible_forked
plugin), so a session fixture would be set up in each forked child and never
torn down: every test would start a core and leave it running. The core is
therefore started by the pytest process itself, once collection shows a test
that needs it, and stopped when the session finishes; the fixtures only hand
it out. Plain `pytest tests/unit` takes the same path.
"""
from __future__ import annotations

import itertools
import os

import pytest

from tests.unit.mailman_core import MailmanCore, processes_under

_CORE_KEY = pytest.StashKey[MailmanCore]()
_OWNER_KEY = pytest.StashKey[int]()


def pytest_collection_modifyitems(session, config, items):
    if any('mailman_core' in getattr(item, 'fixturenames', ()) for item in items):
        core = MailmanCore(config._tmp_path_factory.mktemp('mailman-core'))  # pylint: disable=protected-access
        config.stash[_CORE_KEY] = core
        config.stash[_OWNER_KEY] = os.getpid()
        core.start()


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    core = config.stash.get(_CORE_KEY, None)
    if core is not None and config.stash.get(_OWNER_KEY, None) == os.getpid():
        core.stop()
    # Every Mailman process any core of this session started (under xdist the
    # controller's base directory holds each worker's): none may outlive it.
    # A runner left running keeps its port and its SQLite database, and
    # outlives ansible-test.
    base = config._tmp_path_factory.getbasetemp()  # pylint: disable=protected-access
    leftover = processes_under(base)
    if leftover:
        reporter = config.pluginmanager.get_plugin('terminalreporter')
        message = 'Mailman processes still running after the session stopped its core:\n%s' % '\n'.join(
            '  %d %s' % item for item in sorted(leftover.items()))
        if reporter is not None:
            reporter.write_sep('=', 'mailman core left processes behind', red=True)
            reporter.write_line(message)
        else:
            print(message)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope='session')
def mailman_core(pytestconfig):
    """The session's real Mailman core (started at collection; see above)."""
    core = pytestconfig.stash.get(_CORE_KEY, None)
    if core is None:  # only when collection did not see this fixture coming
        pytest.fail('no Mailman core was started for this session')
    return core


@pytest.fixture(scope='session')
def mailman_client(mailman_core):
    """mailmanclient pointed at the core, to read back what a module did."""
    from mailmanclient import Client
    return Client(mailman_core.api_url, mailman_core.api_user, mailman_core.api_password)


_counter = itertools.count()


@pytest.fixture
def domain_name(mailman_core):
    """A domain name no other test uses, since all tests share one core.

    The pid is part of it: under ansible-test each test runs in a fork of
    its own, where the counter starts again from the same value.
    """
    return 'd%d-%d.example.org' % (os.getpid(), next(_counter))
