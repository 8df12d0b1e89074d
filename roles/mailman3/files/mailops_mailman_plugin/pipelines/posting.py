# SPDX-License-Identifier: GPL-3.0-or-later
"""``mailops-posting-pipeline``: the installed stock posting pipeline, with mailops' handlers.

Read at import from ``PostingPipeline._default_handlers``, so it follows the
installed version's stock pipeline, whatever a release adds or moves. Changed:

- ``member-recipients`` swapped for ``mailops-member-recipients`` (one query);
- ``mailops-drop-loop`` and ``mailops-drop-duplicate`` first and
  ``mailops-remember-post`` last: a post that came back to its list, an
  automatic reply, or a post the list already distributed is not
  distributed (again);
- ``mailops-clear-digest-lock`` just before ``to-digest``: a process that
  died holding the digest mailbox does not make every later post shunt.
"""

import logging

from mailman.pipelines.base import BasePipeline
from mailman.pipelines.builtin import PostingPipeline
from public import public

from mailops_mailman_plugin.handlers.digest_lock import MailopsClearDigestLock
from mailops_mailman_plugin.handlers.duplicates import MailopsDropDuplicate, MailopsRememberPost
from mailops_mailman_plugin.handlers.loops import MailopsDropLoop
from mailops_mailman_plugin.handlers.recipients import STOCK_HANDLER, MailopsMemberRecipients


def swapped(handlers, old=STOCK_HANDLER, new=MailopsMemberRecipients.name):
    """``handlers`` with ``old`` replaced by ``new``, and whether it was there."""
    return tuple(new if name == old else name for name in handlers), old in handlers


def before(handlers, anchor='to-digest', new=MailopsClearDigestLock.name):
    """``handlers`` with ``new`` inserted just before ``anchor`` (unchanged without it)."""
    return tuple(name for handler in handlers for name in ((new, handler) if handler == anchor else (handler,)))


def bracketed(handlers, first=(MailopsDropLoop.name, MailopsDropDuplicate.name), last=MailopsRememberPost.name):
    """``handlers`` with the loop and duplicate checks first and the record last."""
    return (*first, *handlers, last)


_SWAPPED_HANDLERS, _SWAPPED = swapped(PostingPipeline._default_handlers)
if 'to-digest' not in _SWAPPED_HANDLERS:
    logging.getLogger('mailman.plugins').warning(
        'mailops: to-digest not in %s; mailops-posting-pipeline has no mailops-clear-digest-lock',
        PostingPipeline.name)
if not _SWAPPED:
    # A future Mailman without member-recipients: refusing to load would stop
    # Mailman and every list; the stock handlers are slow but deliver.
    logging.getLogger('mailman.plugins').warning(
        'mailops: %s not in %s; mailops-posting-pipeline keeps the stock recipients handler',
        STOCK_HANDLER, PostingPipeline.name)


@public
class MailopsPostingPipeline(BasePipeline):
    """The stock posting pipeline, recipients in one query, loops and duplicates dropped, stale digest locks cleared."""

    name = 'mailops-posting-pipeline'
    description = ('The built-in posting pipeline, with mailops-member-recipients '
                   'in place of member-recipients, loops dropped, posts distributed once '
                   'and a dead process\'s digest lock cleared.')

    _default_handlers = bracketed(before(_SWAPPED_HANDLERS))
