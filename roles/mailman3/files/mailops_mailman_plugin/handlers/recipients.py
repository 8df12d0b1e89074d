# SPDX-License-Identifier: GPL-3.0-or-later
"""``mailops-member-recipients``: stock ``member-recipients`` in one SELECT.

The recipient set is the stock one, branch for branch (Mailman 3.3.8 and
3.3.10 have the same handler, roster and member code):

- ``recipients`` already in msgdata: left alone, even when empty.
- An ``Urgent:`` header: handed to the stock handler, which owns that branch
  (in 3.3 it calls ``mlist.Authenticate``, which no longer exists, so the post
  is shunted; delegating keeps whatever the installed version does).
- Otherwise every member (role member) of the list whose delivery mode is
  ``regular`` and whose delivery status is ``enabled``, each resolved like
  ``Member._lookup()``: the member's preferences, then those of the address it
  delivers to, then those of that address's user, then Mailman's system
  default. The address is the subscribed one, or for a subscription as a user
  that user's preferred address; the recipient is its (lower-case) ``email``.
- The sender (``msg.sender``) is removed when the membership that
  ``mlist.members.get_member(sender)`` would return (an explicit address
  subscription wins over one through a user's preferred address) resolves
  ``receive_own_postings`` to false.

``msgdata['to_list']`` plays no part in the stock handler and none here.

Where stock raises on broken rows, this handler does not shunt the post:

- A member with no address to deliver to (subscribed as a user whose
  preferred address was removed, or a dangling reference): stock raises
  AttributeError for the whole post as soon as it reaches that member; here
  the member is skipped and mailman.error names it, and everyone else gets
  the post.
- A missing preferences row (member or address): stock raises AttributeError
  when it has to look there; here it counts as "not set at this level".
- More than two memberships for the sender's address: stock fails an
  assertion; here an explicit one is used, as stock does for two.
"""

import logging

from mailman.config import config
from mailman.core.constants import system_preferences
from mailman.interfaces.handler import IHandler
from mailman.interfaces.member import DeliveryMode, DeliveryStatus, MemberRole
from mailman.model.address import Address
from mailman.model.member import Member
from mailman.model.preferences import Preferences
from mailman.model.user import User
from public import public
from sqlalchemy import func
from sqlalchemy.orm import aliased
from zope.interface import implementer

STOCK_HANDLER = 'member-recipients'
# How many address-less members one log line names before it only counts.
LOGGED_MEMBERS = 20

elog = logging.getLogger('mailman.error')


def roster(list_id):
    """One row per member of the list, preferences already resolved.

    Rows are (member id, subscribed explicitly as an address, delivery
    email or None, delivery_mode, delivery_status, receive_own_postings);
    the last three are None where no level sets them.
    """
    store = config.db.store
    member_prefs = aliased(Preferences)
    subscribed_user = aliased(User)
    address = aliased(Address)
    address_prefs = aliased(Preferences)
    address_user = aliased(User)
    user_prefs = aliased(Preferences)

    def resolved(name):
        # Member._lookup(): the first level that sets it. coalesce() takes the
        # first argument's type, so Mailman's Enum type decodes the result.
        return func.coalesce(getattr(member_prefs, name),
                             getattr(address_prefs, name),
                             getattr(user_prefs, name))

    query = (
        store.query(Member.id,
                    Member.address_id.isnot(None),
                    address.email,
                    resolved('delivery_mode'),
                    resolved('delivery_status'),
                    resolved('receive_own_postings'))
        .select_from(Member)
        .outerjoin(member_prefs, member_prefs.id == Member.preferences_id)
        .outerjoin(subscribed_user, subscribed_user.id == Member.user_id)
        # Member.address: the subscribed address, else the user's preferred.
        .outerjoin(address, address.id == func.coalesce(
            Member.address_id, subscribed_user._preferred_address_id))
        .outerjoin(address_prefs, address_prefs.id == address.preferences_id)
        # Member._lookup() asks the address's user, not the subscribed user.
        .outerjoin(address_user, address_user.id == address.user_id)
        .outerjoin(user_prefs, user_prefs.id == address_user.preferences_id)
        .filter(Member.list_id == list_id, Member.role == MemberRole.member))
    return query.all()


def recipients_of(mlist, sender):
    """The stock recipient set for a post from ``sender`` (lower case or '')."""
    default_mode = system_preferences.delivery_mode
    default_status = system_preferences.delivery_status
    recipients = set()
    sender_memberships = []
    unreachable = []
    for member_id, explicit, email, mode, status, own_postings in roster(mlist.list_id):
        if email is None:
            unreachable.append(member_id)
            continue
        if ((default_mode if mode is None else mode) == DeliveryMode.regular
                and (default_status if status is None else status) == DeliveryStatus.enabled):
            recipients.add(email)
        if email == sender:
            sender_memberships.append((explicit, own_postings))
    if unreachable:
        elog.error('%s: %d member(s) have no address to deliver to (subscribed as a user '
                   'without a preferred address?) and were skipped; stock member-recipients '
                   'would shunt the post. Member ids: %s%s',
                   mlist.list_id, len(unreachable),
                   ', '.join(str(i) for i in unreachable[:LOGGED_MEMBERS]),
                   ' ...' if len(unreachable) > LOGGED_MEMBERS else '')
    if sender_memberships:
        # get_member(): the explicit subscription of the address wins.
        sender_memberships.sort(key=lambda membership: not membership[0])
        own_postings = sender_memberships[0][1]
        if own_postings is None:
            own_postings = system_preferences.receive_own_postings
        if not own_postings:
            recipients.discard(sender)
    return recipients


@public
@implementer(IHandler)
class MailopsMemberRecipients:
    """Calculate the regular recipients of the message with one query."""

    name = 'mailops-member-recipients'
    description = ('Calculate the regular recipients of the message '
                   '(member-recipients in one SQL query).')

    def process(self, mlist, msg, msgdata):
        """See `IHandler`."""
        if 'recipients' in msgdata:
            return
        missing = object()
        if msg.get('urgent', missing) is not missing:
            config.handlers[STOCK_HANDLER].process(mlist, msg, msgdata)
            return
        msgdata['recipients'] = recipients_of(mlist, msg.sender)
