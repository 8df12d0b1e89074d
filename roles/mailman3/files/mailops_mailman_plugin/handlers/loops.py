# SPDX-License-Identifier: GPL-3.0-or-later
"""``mailops-drop-loop``: a post that comes back to its own list, or an automatic reply, is not distributed.

Mailman's ``loop`` rule looks for ``List-Post: list@domain``, but Mailman
itself writes ``List-Post: <mailto:list@domain>`` (3.3.8 and 3.3.10), so the
rule never matches mail the list sent. A list with its own posting address
among its members (subscribed by an owner in Postorius, or by REST) then sends
every post round again to every member, forever; the footer it appends each
round makes every round a new body, so the duplicate check does not see it.

First in ``mailops-posting-pipeline`` (after moderation, before anything
rewrites the message), the handler discards:

- a post that carries this list's own ``List-Id`` or ``List-Post``: this list
  distributed it before, and it came back;
- an automatic reply (RFC 3834 ``Auto-Submitted: auto-replied``): a member's
  auto-responder that answers list mail to the list would otherwise answer
  its own answers through every member's responder. Other automatic mail
  (``auto-generated``: a monitoring system posting reports) is distributed.

Each discard is logged in mailman.vette, as Mailman logs its own.

Not covered: two lists subscribed to each other (each strips the other's
List-* headers and writes its own), and a responder that answers to the list
without ``Auto-Submitted``. Also discarded: list mail a member bounces or
redirects back to the list with its headers (mutt's bounce, Thunderbird's
Redirect), which is a re-post of the same message.
"""

import logging
import re

from mailman.interfaces.handler import IHandler
from mailman.interfaces.pipeline import DiscardMessage
from public import public
from zope.interface import implementer

vlog = logging.getLogger('mailman.vette')

BRACKETED = re.compile(r'<([^<>]*)>')
# In msgdata, which Mailman keeps with a message in its queues: a copy that
# came back by mail arrives over LMTP with new msgdata.
CHECKED = 'mailops_loop_checked'


def bracketed_values(msg, header):
    """The lower-cased contents of every <...> in every ``header`` of msg."""
    values = set()
    for value in msg.get_all(header, []):
        values.update(v.strip().lower() for v in BRACKETED.findall(str(value)))
    return values


def loop_reason(mlist, msg):
    """Why msg must not be distributed on mlist again, or None."""
    if mlist.list_id.lower() in bracketed_values(msg, 'list-id'):
        return 'it carries this list\'s List-Id'
    if 'mailto:' + mlist.posting_address.lower() in bracketed_values(msg, 'list-post'):
        return 'it carries this list\'s List-Post'
    auto = str(msg.get('auto-submitted', '')).split(';', maxsplit=1)[0].strip().lower()
    if auto == 'auto-replied':
        return 'it is an automatic reply (Auto-Submitted: auto-replied)'
    return None


@public
@implementer(IHandler)
class MailopsDropLoop:
    """Discard a post that came back to its own list, or an automatic reply."""

    name = 'mailops-drop-loop'
    description = 'Discard a post that came back to its own list, or an automatic reply.'

    def process(self, mlist, msg, msgdata):
        # Checked before: the message is going through the pipeline again
        # from Mailman's own queues (``mailman unshunt``), already carrying the
        # List-Id this list added the first time.
        if msgdata.get(CHECKED):
            return
        reason = loop_reason(mlist, msg)
        msgdata[CHECKED] = True
        if reason:
            vlog.info('%s discarded by mailops-drop-loop on %s: %s',
                      msg.get('message-id', 'n/a'), mlist.list_id, reason)
            raise DiscardMessage(reason)
