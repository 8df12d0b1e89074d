#!/usr/bin/env python3
# Copyright (c) mailops.mailman contributors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the table of a benchmark result and plot it next to it (.png).

usage: report.py RESULT.json [OTHER.json ...]

The plot shows, for each N, the raw Postfix fan-out and the list post side by
side (seconds until every mailbox has the message, log scale); further result
files (e.g. Mailman's and Debian's default tuning) are drawn beside them.
"""
import json
import os
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def table(r):
    load = ' '.join('%.1f' % x for x in r['load_start'])
    lines = ['%s (%s): load at start %s, cpus %s' % (r['label'], r['date'], load, r['cpus']),
             '%6s %8s %8s %6s' % ('N', 'raw_s', 'list_s', 'ratio')]
    lines += ['%6d %8.2f %8.2f %6.2f' % (x['n'], x['raw_s'], x['list_s'], x['ratio']) for x in r['rows']]
    lines.append('latency: list %.3fs median (max %.3fs), Postfix alone %.3fs'
                 % (r['latency_list']['median_s'], r['latency_list']['max_s'], r['latency_raw']['median_s']))
    lines.append('verify.yml loop %.1fs (playbook %.1fs); converge fresh %s s, idempotent %.1fs changed=%d'
                 % (r['verify_loop_s'], r['verify_playbook_s'], r['converge_fresh_s'],
                    r['converge_idempotent_s'], r['converge_idempotent_changed']))
    roster = r.get('roster')
    if roster:
        lines.append('roster step alone, %d members (%d recipients; Mailman %s, SQLAlchemy %s): '
                     'stock member-recipients %.3fs, mailops-member-recipients %.3fs, same set: %s'
                     % (roster['members'], roster['recipients'], roster['mailman'], roster['sqlalchemy'],
                        roster['member-recipients_s'], roster['mailops-member-recipients_s'],
                        roster['identical']))
    return '\n'.join(lines)


def main():
    results = [json.load(open(p)) for p in sys.argv[1:]]
    for r in results:
        print(table(r))
    ns = sorted({row['n'] for r in results for row in r['rows']})
    series = []
    for r in results:
        by_n = {row['n']: row for row in r['rows']}
        series.append(('raw Postfix (%s)' % r['label'], [by_n.get(n, {}).get('raw_s') for n in ns], r))
        series.append(('list post (%s)' % r['label'], [by_n.get(n, {}).get('list_s') for n in ns], r))
    fig, ax = plt.subplots(figsize=(8, 5))
    width = 0.8 / len(series)
    colours = ['#7f7f7f', '#1f77b4', '#c7c7c7', '#ff7f0e', '#dbdbdb', '#2ca02c']
    for k, (name, ys, _result) in enumerate(series):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(ns))]
        vals = [y or 0 for y in ys]
        bars = ax.bar(xs, vals, width, label=name, color=colours[k % len(colours)])
        for b, y in zip(bars, ys, strict=True):
            if y:
                ax.annotate('%.1f' % y, (b.get_x() + b.get_width() / 2, y), ha='center', va='bottom', fontsize=7)
    ax.set_xticks(range(len(ns)), ['N=%d' % n for n in ns])
    ax.set_yscale('log')
    ax.set_ylabel('seconds until every mailbox has the message')
    main = results[0]
    ratios = ', '.join('%d: %.2f' % (row['n'], row['ratio']) for row in main['rows'])
    ax.set_title('One message to N local mailboxes: Postfix alone vs a Mailman 3 list post\n'
                 'list/raw (%s): %s; load at start %.1f on %d cpus'
                 % (main['label'], ratios, main['load_start'][0], main['cpus']), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = os.path.splitext(sys.argv[1])[0] + '.png'
    fig.savefig(png, dpi=110)
    print('plot:', png)


if __name__ == '__main__':
    main()
