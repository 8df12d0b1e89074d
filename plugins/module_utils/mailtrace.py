# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hop-by-hop checks of the path a list message takes through Postfix and Mailman 3.

This file owns the order of the hops (HOPS) and runs the checks in it; the
checks live by what they look at: trace_postfix.py (routing and Postfix's
queue), trace_lmtp.py (Mailman's LMTP runner, through lmtp.py) and
trace_mailman.py (Mailman's queues, list directory and logs). Each returns
one hop dict (trace_hop.py). Nothing here writes anything or delivers mail.
"""

from __future__ import annotations

from ansible_collections.mailops.mailman.plugins.module_utils.trace_lmtp import check_lmtp
from ansible_collections.mailops.mailman.plugins.module_utils.trace_mailman import (
    check_mailman_inbound,
    check_mailman_outbound,
)
from ansible_collections.mailops.mailman.plugins.module_utils.trace_postfix import (
    check_postfix_routing,
    queue_hops,
)

# The hops in the order a list message takes them: the one home of this
# order. mailman_trace returns it (as `order`), so callers never repeat it.
HOPS = ("postfix_routing", "lmtp", "postfix_to_lmtp", "mailman_inbound", "mailman_outbound",
        "postfix_delivery")


def trace(list_address, recipients, lmtp_host, lmtp_port, var_dir, log_dir, data_dir, run,
          timeout=10, only=HOPS):
    """The hops named in `only`, in the order a list message takes them."""
    checks = {
        "postfix_routing": lambda: check_postfix_routing(list_address, lmtp_host, lmtp_port, data_dir, run),
        "lmtp": lambda: check_lmtp(list_address, lmtp_host, lmtp_port, timeout, log_dir=log_dir),
        "mailman_inbound": lambda: check_mailman_inbound(list_address, var_dir, log_dir),
        "mailman_outbound": lambda: check_mailman_outbound(list_address, var_dir, log_dir),
    }
    queued = {}
    if "postfix_to_lmtp" in only or "postfix_delivery" in only:
        queued = dict(zip(("postfix_to_lmtp", "postfix_delivery"),
                          queue_hops(list_address, recipients, run), strict=True))
    return [queued[name] if name in queued else checks[name]() for name in HOPS if name in only]


def first_broken(hops):
    for h in hops:
        if not h["ok"]:
            return h
    return None
