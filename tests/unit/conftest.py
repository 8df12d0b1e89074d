# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import itertools

import pytest

from tests.unit.mailman_core import MailmanCore


@pytest.fixture(scope='session')
def mailman_core(tmp_path_factory):
    """One real Mailman core for the whole session (starting one takes seconds)."""
    core = MailmanCore(tmp_path_factory.mktemp('mailman-core'))
    core.start()
    yield core
    core.stop()


@pytest.fixture(scope='session')
def mailman_client(mailman_core):
    """mailmanclient pointed at the core, to read back what a module did."""
    from mailmanclient import Client
    return Client(mailman_core.api_url, mailman_core.api_user, mailman_core.api_password)


_counter = itertools.count()


@pytest.fixture
def domain_name(mailman_core):
    """A domain name no other test uses, since all tests share one core."""
    return 'd%d.example.org' % next(_counter)
