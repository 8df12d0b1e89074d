# SPDX-License-Identifier: GPL-3.0-or-later
"""``mailops-posting-pipeline``: the installed stock posting pipeline, one handler swapped.

Read at import from ``PostingPipeline._default_handlers``, so it follows the
installed version's stock pipeline, whatever a release adds or moves.
"""

import logging

from mailman.pipelines.base import BasePipeline
from mailman.pipelines.builtin import PostingPipeline
from public import public

from mailops_mailman_plugin.handlers.recipients import STOCK_HANDLER, MailopsMemberRecipients


def swapped(handlers, old=STOCK_HANDLER, new=MailopsMemberRecipients.name):
    """``handlers`` with ``old`` replaced by ``new``, and whether it was there."""
    return tuple(new if name == old else name for name in handlers), old in handlers


_HANDLERS, _SWAPPED = swapped(PostingPipeline._default_handlers)
if not _SWAPPED:
    # A future Mailman without member-recipients: refusing to load would stop
    # Mailman and every list; the stock handlers are slow but deliver.
    logging.getLogger('mailman.plugins').warning(
        'mailops: %s not in %s; mailops-posting-pipeline is the stock pipeline unchanged',
        STOCK_HANDLER, PostingPipeline.name)


@public
class MailopsPostingPipeline(BasePipeline):
    """The stock posting pipeline with recipients computed in one query."""

    name = 'mailops-posting-pipeline'
    description = ('The built-in posting pipeline, with mailops-member-recipients '
                   'in place of member-recipients.')

    _default_handlers = _HANDLERS
