# SPDX-License-Identifier: GPL-3.0-or-later
"""mailman_posting_pipeline against a real Mailman core (PyPI, no plugin):
Mailman's own default-owner-pipeline stands in for a plugin's pipeline, since
the REST API accepts only pipelines Mailman has loaded. The module acts on
every list of the core, which the other tests share: each test's lists are in
a domain of its own, judged alone, and removed afterwards."""
from __future__ import annotations

import re

import pytest
from ansible_collections.mailops.mailman.plugins.modules import mailman_posting_pipeline

from tests.unit.plugins.modules.utils import run_module

OTHER = 'default-owner-pipeline'
STOCK = 'default-posting-pipeline'


@pytest.fixture
def lists(mailman_client, domain_name):
    domain = mailman_client.create_domain(domain_name)
    made = [domain.create_list(name) for name in ('alpha', 'beta', 'gamma')]
    for mlist in made[:2]:
        mlist.settings['posting_pipeline'] = OTHER
        mlist.settings.save()
    yield made
    mailman_client.delete_domain(domain_name)
    # Lists of other tests moved onto OTHER go back.
    for mlist in mailman_client.lists:
        if mlist.settings['posting_pipeline'] != STOCK:
            mlist.settings['posting_pipeline'] = STOCK
            mlist.settings.save()


def pipelines(client, domain):
    return {m.fqdn_listname: m.settings['posting_pipeline'] for m in client.lists if m.mail_host == domain}


def ours(names, domain):
    return [name for name in names if name.endswith('@' + domain)]


def test_moves_every_list_off_the_old_pipeline_and_only_those(mailman_core, mailman_client, domain_name, lists):
    ok, result = run_module(mailman_posting_pipeline, dict(mailman_core.rest_args, old=OTHER))
    assert ok, result
    assert result['changed']
    assert ours(result['lists'], domain_name) == sorted(m.fqdn_listname for m in lists[:2])
    assert set(pipelines(mailman_client, domain_name).values()) == {STOCK}
    ok, again = run_module(mailman_posting_pipeline, dict(mailman_core.rest_args, old=OTHER))
    assert ok and ours(again['lists'], domain_name) == []


def test_other_way_round_leaves_the_rest(mailman_core, mailman_client, domain_name, lists):
    ok, result = run_module(mailman_posting_pipeline, dict(mailman_core.rest_args, old=STOCK, new=OTHER))
    assert ok, result
    assert ours(result['lists'], domain_name) == [lists[2].fqdn_listname]
    assert set(pipelines(mailman_client, domain_name).values()) == {OTHER}


def test_check_mode_reports_and_changes_nothing(mailman_core, mailman_client, domain_name, lists):
    before = pipelines(mailman_client, domain_name)
    ok, result = run_module(mailman_posting_pipeline, dict(mailman_core.rest_args, old=OTHER), check_mode=True)
    assert ok and result['changed'] and len(ours(result['lists'], domain_name)) == 2
    assert pipelines(mailman_client, domain_name) == before


def test_a_pipeline_mailman_has_not_loaded_is_refused(mailman_core, mailman_client, domain_name, lists):
    before = pipelines(mailman_client, domain_name)
    ok, result = run_module(mailman_posting_pipeline,
                            dict(mailman_core.rest_args, old=OTHER, new='no-such-pipeline'))
    assert not ok
    assert re.search(r"refused posting_pipeline='no-such-pipeline' for \S+@\S+: 400 .*Unknown pipeline", result['msg'])
    assert 'Traceback' not in result['msg']
    assert pipelines(mailman_client, domain_name) == before


BAD = [
    (dict(old=OTHER, new=OTHER), r"old and new are both 'default-owner-pipeline'; nothing was changed"),
    (dict(old='x\r\ny'), r'^old: line break or NUL'),
    (dict(old=OTHER, new='a\x00'), r'^new: line break or NUL'),
]


@pytest.mark.parametrize('args,expect', BAD, ids=['same', 'CRLF in old', 'NUL in new'])
def test_bad_input_is_refused_before_any_request(mailman_core, mailman_client, domain_name, lists, args, expect):
    before = pipelines(mailman_client, domain_name)
    ok, result = run_module(mailman_posting_pipeline, dict(mailman_core.rest_args, **args))
    assert not ok
    assert re.search(expect, result['msg']), result['msg']
    assert pipelines(mailman_client, domain_name) == before
