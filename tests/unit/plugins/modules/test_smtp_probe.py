# SPDX-License-Identifier: GPL-3.0-or-later
"""smtp_probe against a real SMTP server (aiosmtpd) that refuses one domain."""
from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from ansible_collections.mailops.mailman.plugins.modules import smtp_probe

from tests.unit.lmtp_server import free_port
from tests.unit.plugins.modules.utils import run_module


class RefuseDomain:
    """250 for every RCPT except in refused.test, which gets Postfix's 451 4.3.5."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.test"):
            return "451 4.3.5 Server configuration error"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp_port():
    port = free_port()
    controller = Controller(RefuseDomain(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


def test_accepted_recipients_pass(smtp_port):
    ok, res = run_module(smtp_probe, dict(port=smtp_port, recipients=["a@lists.test", "b@relay.invalid"]))
    assert ok, res
    assert res["greeting"].startswith("220")
    assert set(res["answers"]) == {"a@lists.test", "b@relay.invalid"}


def test_a_temporary_refusal_fails_naming_it(smtp_port):
    ok, res = run_module(smtp_probe, dict(port=smtp_port, recipients=["a@lists.test", "x@refused.test"]))
    assert not ok
    assert "x@refused.test" in res["msg"] and "451" in res["msg"]


def test_nothing_listening_fails_cleanly():
    ok, res = run_module(smtp_probe, dict(port=free_port(), recipients=["a@lists.test"], timeout=2))
    assert not ok and "no SMTP session" in res["msg"], res


@pytest.mark.parametrize("more,expect", [
    (dict(recipients=["a@lists.test\r\nRSET"]), "not an address"),
    (dict(recipients=["j\u00fcrgen@lists.test"]), "not an address"),
    (dict(recipients=["a@lists.test"], port=70000), "port"),
    (dict(recipients=["a@lists.test"], timeout=0), "timeout"),
])
def test_impossible_input_is_refused_before_connecting(more, expect):
    ok, res = run_module(smtp_probe, more)
    assert not ok and expect in res["msg"], res
