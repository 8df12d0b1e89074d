# SPDX-License-Identifier: GPL-3.0-or-later
"""A dead process's lock on a list's digest mailbox does not shunt every later post.

Judged on differential.py's report (conftest.py): one post through Mailman's
own pipeline processor, stock and mailops', to a list whose digest mailbox a
pipeline runner killed in the middle of ``to-digest`` left behind: its
dot-lock, one complete message and the start of the one it was appending;
and the lock check and the cut on their own, on mailboxes as Python's MMDF
writes them, complete and torn, with locks held by living processes.
"""
from __future__ import annotations


def test_stock_pipeline_fails_on_a_dead_process_digest_lock(report):
    # What the handler exists for: in a runner this post is shunted, and so is every later one.
    stock = report['digest_lock']['stock']
    assert stock['error'] == 'ExternalClashError' and stock['out'] == 0 and stock['lock_left'], stock


def test_plugin_pipeline_clears_the_lock_and_distributes_the_post(report):
    mailops = report['digest_lock']['mailops']
    assert mailops['error'] is None and mailops['out'] == 1 and not mailops['lock_left'], mailops


def test_the_torn_message_is_cut_off_and_the_post_appended_whole(report):
    # The torn message's own post is appended again when its runner re-runs it.
    subjects = report['digest_lock']['mailops']['digest_subjects']
    assert subjects[0] == 'whole' and len(subjects) == 2 and subjects[1].endswith('differential'), subjects


def test_a_complete_digest_mailbox_is_never_cut(report):
    # "evil": a body line that looks like MMDF's separator (the first version of the cut lost "three").
    cases = report['digest_mailbox']
    for name in ('clean', 'clean_evil', 'empty'):
        assert cases[name] == [0, True], (name, cases[name])


def test_a_torn_message_is_cut_and_only_it(report):
    cases = report['digest_mailbox']
    torn = {name: result for name, result in cases.items() if name.startswith('torn_')}
    assert len(torn) == 6
    for name, (cut, left_whole) in torn.items():
        assert cut > 0 and left_whole, (name, cut, left_whole)


def test_a_living_lock_is_left_alone(report):
    cases = report['digest_mailbox']
    # Held by another process: not touched.
    assert cases['live_holder'] == [None, True], cases['live_holder']
    # Released by its holder while the check waited: not taken for stale (its holder removed it).
    assert cases['unlock_gap'] == [None, False], cases['unlock_gap']
    # Held by nobody: removed.
    assert cases['stale'] == [True, False], cases['stale']
