# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every hop check of the trace returns (mailtrace.py runs them in order).

A hop is a dict: hop (its name), ok, evidence (one line: what was seen),
detail (supporting lines) and look_at (what to look at next). Checks that
need a command take `run(argv) -> (rc, stdout, stderr)`, which raises
ToolMissing when argv[0] is not installed.
"""

from __future__ import annotations


class ToolMissing(Exception):
    """argv[0] of a command is not installed."""


def hop(name, ok, evidence, detail=None, look_at=None):
    return dict(hop=name, ok=bool(ok), evidence=evidence, detail=list(detail or []),
                look_at=look_at)
