# SPDX-License-Identifier: GPL-3.0-or-later
"""mailtrace: the order of the hops and the running of the checks in it (the
checks themselves: test_trace_postfix, test_trace_lmtp, test_trace_mailman)."""
from __future__ import annotations

from ansible_collections.mailops.mailman.plugins.module_utils import mailtrace


def test_trace_checks_only_the_hops_asked_for(tmp_path):
    # Mailman hops only (as on a core behind MX front ends): no Postfix tool
    # is run, no LMTP connection is made.
    ran = []

    def run(argv):
        ran.append(argv)
        raise AssertionError("no command may run for the Mailman hops")

    hops = mailtrace.trace("l@example.org", [], "127.0.0.1", 1, str(tmp_path), str(tmp_path),
                           str(tmp_path), run, only=("mailman_outbound", "mailman_inbound"))
    assert [h["hop"] for h in hops] == ["mailman_inbound", "mailman_outbound"]
    assert ran == []
