# SPDX-License-Identifier: GPL-3.0-or-later
"""A post is distributed once, and a stop signal does not cut a message in half.

Judged on differential.py's report (conftest.py): the same posts through
Mailman's own pipeline processor, stock and mailops', counting the out-queue
entries each makes; and Mailman's stock pipeline runner against the plugin's,
each sent SIGTERM while it has a message in hand and while it sleeps.
"""
from __future__ import annotations


def test_stock_pipeline_distributes_a_repeated_post_again(report):
    # What the plugin's handlers exist for; also shows the count can see a duplicate.
    assert report['duplicates']['stock_same_twice'] == [1, 1]


def test_the_plugin_pipeline_distributes_a_post_once(report):
    dupes = report['duplicates']
    assert dupes['mailops_same_thrice'] == [1, 0, 0]
    assert dupes['mailops_other'] == 1
    assert dupes['mailops_same_other_list'] == 1
    # Identity is Message-ID and body: a different post reusing the ID goes out.
    assert dupes['mailops_same_id_other_body'] == 1


def test_a_post_without_message_id_is_never_dropped(report):
    assert report['duplicates']['mailops_no_message_id'] == [1, 1]


def test_a_record_that_cannot_be_written_does_not_stop_the_post(report):
    # Fails open: distributed each time (no protection), never an exception.
    assert report['duplicates']['mailops_unwritable_record'] == [1, 1]


def test_the_record_expires(report):
    assert report['duplicates']['mailops_after_window'] == 1


def test_stock_runner_shunts_the_message_in_hand_on_sigterm(report):
    # The failure the plugin's runners remove, seen on this Mailman.
    stops = report['runner_stops']['stock_mid_message']
    assert stops['shunt'] == 1 and stops['out'] == 0, stops


def test_plugin_runner_finishes_the_message_in_hand_on_sigterm(report):
    stops = report['runner_stops']['mailops_mid_message']
    assert stops == {'pipeline': 0, 'out': 1, 'shunt': 0, 'bak': 0}, stops


def test_plugin_runner_still_stops_at_once_while_asleep(report):
    # Asleep for 30 s between scans, signalled after 0.5 s.
    assert report['runner_stops']['mailops_asleep_s'] < 5
    assert report['runner_stops']['stock_asleep_s'] < 5
