# SPDX-License-Identifier: GPL-3.0-or-later
"""Mail commands: at most ``max_autoresponses_per_day`` answered per sender, list and day.

Every message to ``LIST-join``, ``-leave``, ``-request`` or ``-confirm`` gets
an answer (a confirmation, or "The results of your email commands") to the
address it claims to come from, and stock Mailman 3.3 counts none of them:
100 forged ``join`` messages "from" a victim make the list send the victim
100 messages (the first join's confirmation, then 99 "has a pending
subscription" results). Mailman counts only hold notices against
``[mta] max_autoresponses_per_day`` (10 by default).

The plugin's command runner counts command messages per sender, list and
day (UTC) and, past ``max_autoresponses_per_day``, discards further command
messages from that sender to that list unanswered and unprocessed, logged in
mailman.vette. 0 turns the limit off, as for hold notices. The list's owners
and moderators are not counted (a moderator confirming held posts by mail).
A real member sends a handful of commands a day; a bomb gets at most the
limit through, and also uses up that day's commands of the address it forges.

The count is a file per list, day and sender (its sha256) under Mailman's
var directory, so that counting adds nothing to Mailman's database (forged
senders would each add an address); days before yesterday are removed. A
count that cannot be read or written is logged and the message processed
(fails open, as the duplicate records do).
"""

import datetime
import hashlib
import logging
import os
import shutil
import time

from mailman.config import config

vlog = logging.getLogger('mailman.vette')
elog = logging.getLogger('mailman.error')


def count_dir(list_id, day):
    """The directory holding one list's counts for one day."""
    return os.path.join(config.VAR_DIR, 'mailops', 'command-counts', list_id, day)


def counted(list_id, sender, day):
    """Count one command message; how many there were before it that day."""
    directory = count_dir(list_id, day)
    if not os.path.isdir(directory):
        # The day's first command: the days before yesterday can go.
        os.makedirs(directory, exist_ok=True)
        prune(list_id, day)
    path = os.path.join(directory, hashlib.sha256(sender.lower().encode('utf-8', 'surrogateescape')).hexdigest())
    with open(path, 'a+', encoding='ascii') as f:
        f.seek(0)
        before = len(f.read())
        f.write('.')
    return before


def prune(list_id, today):
    """Remove the counts of days before yesterday."""
    parent = os.path.dirname(count_dir(list_id, today))
    yesterday = (datetime.date.fromisoformat(today) - datetime.timedelta(days=1)).isoformat()
    for day in os.listdir(parent):
        if day < yesterday:
            shutil.rmtree(os.path.join(parent, day), ignore_errors=True)


def is_staff(mlist, sender):
    """Whether sender is one of the list's owners or moderators."""
    return any(roster.get_member(sender) is not None for roster in (mlist.owners, mlist.moderators))


class LimitCommands:
    """Mixin for Mailman's command runner."""

    def _dispose(self, mlist, msg, msgdata):
        limit = int(config.mta.max_autoresponses_per_day)
        sender = msg.sender
        if limit and sender and not is_staff(mlist, sender):
            today = time.strftime('%Y-%m-%d', time.gmtime())
            try:
                before = counted(mlist.list_id, sender, today)
            except OSError as error:
                elog.error('mailops: command count for %s on %s not kept (%s); message processed',
                           sender, mlist.list_id, error)
                before = 0
            if before >= limit:
                vlog.info('%s command message from %s to %s discarded: %d today, max_autoresponses_per_day is %d',
                          msg.get('message-id', 'n/a'), sender, mlist.list_id, before + 1, limit)
                return False
        return super()._dispose(mlist, msg, msgdata)
