# SPDX-License-Identifier: GPL-3.0-or-later
"""mailops-member-recipients gives the recipients stock member-recipients gives.

differential.py loads the pinned PyPI Mailman (requirements.txt) with the
plugin enabled through mailman.cfg, exactly as a host would, in a child
process: Mailman's initialize() sets process-wide state (component registry,
logging, config) that must not leak into the other tests. It reports both
handlers' results on hand-made edge cases and seeded random rosters; these
tests judge the report. With MAILOPS_PLUGIN_REPORT=FILE they judge a report
differential.py wrote elsewhere (Molecule's verify: Debian's packaged Mailman
in the container).
"""
from __future__ import annotations

import os
from pathlib import Path

from .conftest import PLUGIN_PARENT, TIMING_MEMBERS


def cases(report, broken):
    return [case for case in report['cases'] if case['expect'].get('broken', False) == broken]


def test_mailman_loads_the_plugin_from_mailman_cfg(report):
    registration = report['registration']
    assert registration['plugins'] == ['mailops']
    assert registration['handler'] == 'mailops_mailman_plugin.handlers.recipients'
    # The copy meant, not one that happens to be importable: the checkout here,
    # the role's installed copy on a host (MAILOPS_PLUGIN_ROOT).
    root = Path(os.environ.get('MAILOPS_PLUGIN_ROOT') or PLUGIN_PARENT)
    assert Path(registration['handler_file']) == root / 'mailops_mailman_plugin' / 'handlers' / 'recipients.py'
    stock = registration['stock_pipeline']
    assert stock == registration['stock_default_handlers']
    assert stock.count('member-recipients') == 1
    assert stock.count('to-digest') == 1
    swapped = {'member-recipients': ['mailops-member-recipients'],
               'to-digest': ['mailops-clear-digest-lock', 'to-digest']}
    assert registration['plugin_pipeline'] == ['mailops-drop-loop', 'mailops-drop-duplicate'] + [
        handler for name in stock for handler in swapped.get(name, [name])
    ] + ['mailops-remember-post']


def test_same_recipients_as_stock_also_after_avoid_duplicates(report):
    compared = cases(report, broken=False)
    assert len(compared) > 50
    differing = [describe(case) for case in compared if case['stock'] != case['plugin']]
    assert not differing, '%d of %d cases differ:\n%s' % (len(differing), len(compared),
                                                          '\n'.join(differing))


def describe(case):
    stock, plugin = case['stock'], case['plugin']
    lines = [case['name'] + ':']
    for key in sorted(set(stock) | set(plugin)):
        a, b = stock.get(key), plugin.get(key)
        if a == b:
            continue
        if isinstance(a, list) and isinstance(b, list):
            lines.append('  %s: only stock %s, only plugin %s'
                         % (key, sorted(set(a) - set(b)), sorted(set(b) - set(a))))
        else:
            lines.append('  %s: stock %r, plugin %r' % (key, a, b))
    return '\n'.join(lines)


def test_the_comparison_is_not_vacuous(report):
    """Hand-made expectations hold, and the random posts exercise every branch."""
    for case in report['cases']:
        expect, result = case['expect'], case['plugin']
        if 'expect_recipients' in expect:
            assert result.get('recipients') == expect['expect_recipients'], case['name']
        for email in expect.get('expect_absent', ()):
            assert email not in result['recipients'], case['name']
    randoms = [case['stock'] for case in report['cases'] if case['name'].startswith('random')]
    assert all(len(r['recipients']) > 20 for r in randoms)
    # The sender dropped for receive_own_postings, Cc'd members with
    # receive_list_copy off dropped, duplicates flagged.
    assert any(len(r['dedup']) < len(r['recipients']) for r in randoms)
    assert any(r['dup_header'] for r in randoms)
    sizes = {}
    for case in report['cases']:
        if case['name'].startswith('random'):
            sizes.setdefault(case['name'].rsplit(' post', 1)[0], set()).add(
                len(case['stock']['recipients']))
    assert any(len(s) > 1 for s in sizes.values())
    whole = next(case for case in report['cases'] if case['name'] == 'edge: whole posting pipeline')
    assert whole['plugin'].get('recipients'), whole
    assert 'Authenticate' in next(case['stock']['error'] for case in report['cases']
                                  if case['name'] == 'edge: Urgent header')


def test_broken_rows_skip_the_member_where_stock_shunts_the_post(report):
    broken = cases(report, broken=True)
    assert broken
    for case in broken:
        assert case['stock']['error'].startswith('AttributeError'), case
        assert case['plugin']['recipients'] == case['expect']['expect_recipients'], case


def test_timing_5000_members(report, capsys):
    timing = report['timing']
    assert timing['members'] == TIMING_MEMBERS
    assert timing['identical']
    with capsys.disabled():
        print('\n[mailops plugin] Mailman %s, SQLAlchemy %s, Python %s: %d members, %d recipients: '
              'member-recipients %.3f s, mailops-member-recipients %.3f s'
              % (report['mailman'], report['sqlalchemy'], report['python'], timing['members'],
                 timing['recipients'], timing['member-recipients_s'],
                 timing['mailops-member-recipients_s']))
