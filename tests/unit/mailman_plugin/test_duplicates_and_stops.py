# SPDX-License-Identifier: GPL-3.0-or-later
"""A post is distributed once and loops stop; a stop or a database outage does not cut a message in half.

Judged on differential.py's report (conftest.py): the same posts through
Mailman's own pipeline processor, stock and mailops', counting the out-queue
entries each makes; and Mailman's stock pipeline runner against the plugin's,
each sent SIGTERM while it has a message in hand and while it sleeps, and
each given a database failure and a full disk in the middle of a post; a post that came back
to its own list, automatic replies, and a bomb of forged join messages;
Mailman's stock LMTP handler against the plugin's, taking a post while the
in queue cannot be written.
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


def test_stock_runner_shunts_a_post_when_the_database_is_away(report):
    # What the plugin's runners remove: the post waits in shunt for an operator.
    outage = report['database_outage']['stock']
    assert outage['shunt'] == 1 and outage['out'] == 0 and outage['attempts'] == 1, outage


def test_plugin_runner_puts_the_post_back_and_retries_after_a_pause(report):
    outage = report['database_outage']['mailops']
    assert outage['shunt'] == 0 and outage['pipeline'] == 0 and outage['out'] == 1, outage
    assert outage['attempts'] == 2 and outage['retry_after_s'] >= 1, outage
    # Put back under its own name, not queued anew.
    assert outage['same_queue_file'], outage


def test_a_full_database_is_a_full_disk_not_an_outage_to_give_up_on(report):
    # SQLite's "database or disk is full" is waited out as long as the disk is full.
    errors = report['disk_full_errors']
    assert errors['sqlite_full'][0] and 'full' in errors['sqlite_full'][0] and errors['sqlite_full'][1], errors
    assert errors['enospc'] is True, errors
    assert errors['connection_cut'] == [False, True], errors


def test_stock_runner_shunts_a_post_when_the_disk_is_full(report):
    outage = report['database_outage']['disk_full_stock']
    assert outage['shunt'] == 1 and outage['out'] == 0 and outage['attempts'] == 1, outage


def test_plugin_runner_waits_out_a_full_disk(report):
    outage = report['database_outage']['disk_full_mailops']
    assert outage['shunt'] == 0 and outage['pipeline'] == 0 and outage['out'] == 1, outage
    assert outage['attempts'] == 2 and outage['retry_after_s'] >= 1 and outage['same_queue_file'], outage


def test_stock_loop_rule_misses_the_lists_own_copy(report):
    # Mailman writes List-Post as <mailto:...>; its loop rule looks for the bare address.
    loops = report['loops']
    assert loops['list_post_written'].startswith('<mailto:'), loops
    assert loops['stock_loop_rule_matches_own_copy'] is False and loops['stock_came_back'] == 1, loops


def test_the_plugin_pipeline_drops_a_post_that_came_back_and_auto_replies(report):
    loops = report['loops']
    assert loops['mailops_came_back'] == 0 and loops['mailops_auto_replied'] == 0, loops
    # Other automatic mail (a monitoring report) is a post like any other.
    assert loops['mailops_auto_generated'] == 1, loops


def test_stock_command_runner_answers_every_forged_join(report):
    bomb = report['command_bomb']
    assert bomb['stock_victim'] == 15, bomb


def test_plugin_command_runner_answers_a_sender_at_most_the_daily_limit(report):
    bomb = report['command_bomb']
    assert bomb['mailops_victim'] == bomb['limit'] == 10, bomb
    # Another sender on the same list is still answered, and an owner is not counted.
    assert bomb['mailops_other_sender'] == 1, bomb
    assert bomb['mailops_owner'] == bomb['stock_owner'] == 12, bomb


def test_stock_lmtp_bounces_a_post_it_could_not_queue(report):
    # What the plugin's LMTP handler removes: Postfix returns the post to its sender.
    failure = report['lmtp_queue_failure']
    assert failure['stock_queue_broken'].startswith('550'), failure
    assert failure['stock_queue_fine'] == '250 Ok', failure


def test_plugin_lmtp_answers_451_when_it_could_not_queue_a_post(report):
    # Postfix keeps the post and delivers it once Mailman can queue it again.
    failure = report['lmtp_queue_failure']
    assert failure['mailops_queue_broken'].startswith('451 4.3.0'), failure
    assert failure['mailops_queue_fine'] == '250 Ok', failure
