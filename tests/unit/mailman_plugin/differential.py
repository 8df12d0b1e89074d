# SPDX-License-Identifier: GPL-3.0-or-later
"""Stock ``member-recipients`` against mailops' plugin, on the same rosters.

A standalone script (Mailman and the standard library only), so that the same
comparison runs against the PyPI core in the unit tests and against Debian's
packaged Mailman in a container::

    PYTHONPATH=<dir holding mailops_mailman_plugin> python3 differential.py WORKDIR [--timing N]

It writes a mailman.cfg with the plugin enabled and a SQLite database under
WORKDIR, loads Mailman in this process, builds rosters through Mailman's own
Python API (hand-made edge cases, then seeded random ones), runs both handlers
on copies of each post, then ``avoid-duplicates`` after each, and prints one
JSON report on stdout. It judges nothing: the test reads the report.
"""

import argparse
import copy
import email
import json
import mailbox
import random
import sys
import time
from pathlib import Path

CONFIG = """\
[mailman]
layout: differential
site_owner: postmaster@example.org

[paths.differential]
var_dir: {var_dir}

[database]
class: mailman.database.sqlite.SQLiteDatabase
url: sqlite:///{var_dir}/data/mailman.db

[mta]
incoming: mailman.mta.null.NullMTA

[plugin.mailops]
class: mailops_mailman_plugin.MailopsPlugin
component_package: mailops_mailman_plugin
enabled: yes
"""

STOCK = 'member-recipients'
PLUGIN = 'mailops-member-recipients'
DOMAIN = 'example.org'


def load_mailman(workdir):
    from mailman.core.initialize import initialize
    var_dir = Path(workdir, 'var')
    (var_dir / 'data').mkdir(parents=True, exist_ok=True)
    cfg = Path(workdir, 'mailman.cfg')
    cfg.write_text(CONFIG.format(var_dir=var_dir))
    initialize(str(cfg))


# Everything below runs after load_mailman(): Mailman's modules need its config.

def api():
    from mailman.config import config
    from mailman.interfaces.domain import IDomainManager
    from mailman.interfaces.usermanager import IUserManager
    from zope.component import getUtility
    return config, getUtility(IDomainManager), getUtility(IUserManager)


def registration():
    """What Mailman loaded from the plugin, read from its own registries."""
    from mailman.pipelines.builtin import PostingPipeline
    config, _rest, _client = api()
    pipeline = config.pipelines.get('mailops-posting-pipeline')
    return dict(
        plugins=sorted(config.plugins),
        handler=type(config.handlers.get(PLUGIN)).__module__,
        # Where Python found it: the unit tests' checkout, or the role's copy on a host.
        handler_file=sys.modules[type(config.handlers.get(PLUGIN)).__module__].__file__,
        stock_pipeline=[h.name for h in config.pipelines['default-posting-pipeline']],
        stock_default_handlers=list(PostingPipeline._default_handlers),
        plugin_pipeline=[h.name for h in pipeline] if pipeline else None,
    )


class Roster:
    """One list and the people on it, built with Mailman's API."""

    def __init__(self, name):
        from mailman.app.lifecycle import create_list
        self.config, self.domains, self.users = api()
        if self.domains.get(DOMAIN) is None:
            self.domains.add(DOMAIN)
        self.mlist = create_list('%s@%s' % (name, DOMAIN))
        self.mlist.send_welcome_message = False
        self.mlist.admin_notify_mchanges = False

    def address(self, email_, user=None, **prefs):
        from mailman.utilities.datetime import now
        address = self.users.get_address(email_) or self.users.create_address(email_)
        address.verified_on = now()
        if user is not None:
            user.link(address)
        set_prefs(address.preferences, prefs)
        return address

    def user(self, *emails, preferred=0, **prefs):
        user = self.users.create_user()
        for email_ in emails:
            self.address(email_, user)
        if preferred is not None and emails:
            user.preferred_address = self.users.get_address(emails[preferred])
        set_prefs(user.preferences, prefs)
        return user

    def subscribe(self, subscriber, role='member', **prefs):
        from mailman.interfaces.member import MemberRole
        member = self.mlist.subscribe(subscriber, MemberRole[role], send_welcome_message=False)
        set_prefs(member.preferences, prefs)
        return member


def set_prefs(preferences, prefs):
    from mailman.interfaces.member import DeliveryMode, DeliveryStatus
    for key, value in prefs.items():
        if key == 'mode':
            key, value = 'delivery_mode', DeliveryMode[value]
        elif key == 'status':
            key, value = 'delivery_status', DeliveryStatus[value]
        elif key == 'own':
            key = 'receive_own_postings'
        elif key == 'copy':
            key = 'receive_list_copy'
        setattr(preferences, key, value)


def message(mlist, sender=None, cc=(), to=None, extra=''):
    from mailman.email.message import Message
    lines = []
    if sender is not None:
        lines.append('From: %s' % sender)
    lines.append('To: %s' % (to or mlist.posting_address))
    if cc:
        lines.append('Cc: %s' % ', '.join(cc))
    lines.append('Subject: differential')
    lines.append('Message-ID: <%d@differential>' % random.getrandbits(64))
    text = '\n'.join(lines) + '\n' + extra + '\nbody\n'
    return email.message_from_string(text, Message)


def run(handler_name, mlist, msg, msgdata):
    """The handler, then avoid-duplicates, on copies: (recipients, after-dedup) or the error."""
    config, _rest, _client = api()
    msg, msgdata = copy.deepcopy(msg), copy.deepcopy(msgdata)
    try:
        config.handlers[handler_name].process(mlist, msg, msgdata)
    except Exception as error:
        return dict(error='%s: %s' % (type(error).__name__, error))
    recipients = msgdata.get('recipients')
    first = sorted(recipients) if recipients is not None else None
    try:
        config.handlers['avoid-duplicates'].process(mlist, msg, msgdata)
    except Exception as error:
        return dict(recipients=first, dedup_error='%s: %s' % (type(error).__name__, error))
    after = msgdata.get('recipients')
    return dict(recipients=first,
                dedup=sorted(after) if after is not None else None,
                dup_header=sorted(msgdata.get('add-dup-header', ())),
                cc=msg.get_all('cc'))


def compare(cases, name, mlist, msg, msgdata=None, **expect):
    msgdata = {} if msgdata is None else msgdata
    config, _rest, _client = api()
    config.db.commit()
    cases.append(dict(name=name, expect=expect,
                      stock=run(STOCK, mlist, msg, msgdata),
                      plugin=run(PLUGIN, mlist, msg, msgdata)))


def hand_made(cases):
    r = Roster('edge')
    m = r.mlist
    a = r.address
    # Explicit address subscriptions, preferences at member and address level.
    r.subscribe(a('plain@example.com'))
    r.subscribe(a('Mixed.Case@Example.COM'))
    for mode in ('plaintext_digests', 'mime_digests', 'summary_digests'):
        r.subscribe(a('digest-%s@example.com' % mode), mode=mode)
    r.subscribe(a('addr-digest@example.com', mode='mime_digests'))
    r.subscribe(a('member-regular-over-addr-digest@example.com', mode='mime_digests'), mode='regular')
    for status in ('by_user', 'by_bounces', 'by_moderator', 'unknown'):
        r.subscribe(a('member-%s@example.com' % status), status=status)
        r.subscribe(a('addr-%s@example.com' % status, status=status))
    r.subscribe(a('member-enabled-over-addr-by-user@example.com', status='by_user'), status='enabled')
    r.subscribe(a('own-off-member@example.com'), own=False)
    r.subscribe(a('own-off-addr@example.com', own=False))
    r.subscribe(a('own-off-digest@example.com'), own=False, mode='mime_digests')
    r.subscribe(a('nocopy@example.com', copy=False))
    # Users: preferences at user level reach explicit subscriptions of their
    # addresses (Member._lookup asks address.user) and subscriptions as user.
    u = r.user('user-digest@example.com', mode='plaintext_digests')
    r.subscribe(r.users.get_address('user-digest@example.com'))
    u = r.user('user-by-user@example.com', status='by_user')
    r.subscribe(r.users.get_address('user-by-user@example.com'))
    u = r.user('user-by-bounces@example.com', status='by_bounces')
    r.subscribe(u)
    u = r.user('user-own-off@example.com', own=False)
    r.subscribe(u)
    u = r.user('user-own-off-member-on@example.com', own=False)
    r.subscribe(u, own=True)
    u = r.user('addr-regular-over-user-digest@example.com', mode='mime_digests')
    a('addr-regular-over-user-digest@example.com', mode='regular')
    r.subscribe(u)
    u = r.user('addr-enabled-over-user-by-user@example.com', status='by_user')
    a('addr-enabled-over-user-by-user@example.com', status='enabled')
    r.subscribe(r.users.get_address('addr-enabled-over-user-by-user@example.com'))
    # As user: delivery to the preferred address, with its address preferences.
    u = r.user('Second.Pref@Example.com', 'first-other@example.com', preferred=0)
    r.subscribe(u)
    u = r.user('pref-addr-digest@example.com', preferred=0)
    a('pref-addr-digest@example.com', mode='summary_digests')
    r.subscribe(u)
    # One user, subscribed as user and with another of its addresses.
    u = r.user('both-pref@example.com', 'both-other@example.com', status='by_moderator')
    r.subscribe(u, status='enabled')
    r.subscribe(r.users.get_address('both-other@example.com'))
    # One address twice: explicitly (own postings on) and as the user's
    # preferred address (own postings off); get_member() picks the explicit.
    u = r.user('twice@example.com')
    r.subscribe(u, own=False)
    r.subscribe(r.users.get_address('twice@example.com'), own=True)
    u = r.user('twice-rev@example.com')
    r.subscribe(u, own=True)
    r.subscribe(r.users.get_address('twice-rev@example.com'), own=False)
    # Not members: other roles, another list.
    r.subscribe(a('owner@example.com'), role='owner')
    r.subscribe(a('moderator@example.com'), role='moderator')
    r.subscribe(a('nonmember@example.com'), role='nonmember')
    other = Roster('other')
    other.subscribe(other.address('other-list@example.com'))
    other.subscribe(other.address('plain@example.com'))

    expected = sorted([
        'plain@example.com', 'mixed.case@example.com',
        'member-regular-over-addr-digest@example.com',
        'member-enabled-over-addr-by-user@example.com',
        'own-off-member@example.com', 'own-off-addr@example.com', 'nocopy@example.com',
        'user-own-off@example.com', 'user-own-off-member-on@example.com',
        'addr-regular-over-user-digest@example.com',
        'addr-enabled-over-user-by-user@example.com',
        # both-other: no member or address setting, so its user's by_moderator.
        'second.pref@example.com', 'both-pref@example.com',
        'twice@example.com', 'twice-rev@example.com'])

    compare(cases, 'edge: no sender', m, message(m), expect_recipients=expected)
    compare(cases, 'edge: non-member sender, to_list set', m,
            message(m, 'stranger@example.net'), dict(to_list=True), expect_recipients=expected)
    for sender in ('own-off-member@example.com', 'own-off-addr@example.com',
                   'user-own-off@example.com', 'user-own-off-member-on@example.com',
                   'own-off-digest@example.com', 'Mixed.Case@Example.COM',
                   'twice@example.com', 'twice-rev@example.com',
                   'owner@example.com', 'nonmember@example.com'):
        compare(cases, 'edge: from %s' % sender, m, message(m, 'Some One <%s>' % sender))
    compare(cases, 'edge: Own-Off-Member in mixed case', m, message(m, 'OWN-OFF-MEMBER@example.com'),
            expect_absent=['own-off-member@example.com'])
    compare(cases, 'edge: recipients preset (empty)', m, message(m, 'plain@example.com'),
            dict(recipients=set()))
    compare(cases, 'edge: recipients preset', m, message(m, 'plain@example.com'),
            dict(recipients={'x@example.net'}))
    compare(cases, 'edge: Cc members, then avoid-duplicates', m,
            message(m, 'own-off-member@example.com',
                    cc=['nocopy@example.com', 'Plain <plain@example.com>',
                        'outsider@example.net', 'user-digest@example.com']))
    compare(cases, 'edge: To a member, Cc list', m,
            message(m, 'plain@example.com', to='nocopy@example.com', cc=[m.posting_address]))
    compare(cases, 'edge: Urgent header', m,
            message(m, 'plain@example.com', extra='Urgent: secret\n'))

    # The whole posting pipeline, stock and mailops', through Mailman's own
    # pipeline processor (queues and archives go to files under WORKDIR).
    from mailman.core.pipelines import process
    config, _rest, _client = api()
    config.db.commit()
    msg = message(m, 'own-off-member@example.com', cc=['nocopy@example.com', 'plain@example.com'])
    whole = {}
    for pipeline in ('default-posting-pipeline', 'mailops-posting-pipeline'):
        msgdata = {}
        try:
            process(m, copy.deepcopy(msg), msgdata, pipeline)
            whole[pipeline] = dict(recipients=sorted(msgdata.get('recipients', ())))
        except Exception as error:
            whole[pipeline] = dict(error='%s: %s' % (type(error).__name__, error))
    cases.append(dict(name='edge: whole posting pipeline', expect={},
                      stock=whole['default-posting-pipeline'],
                      plugin=whole['mailops-posting-pipeline']))

    empty = Roster('empty')
    compare(cases, 'empty list', empty.mlist, message(empty.mlist, 'plain@example.com'),
            expect_recipients=[])

    # Broken data: a user subscribed as user loses its preferred address.
    # Stock raises for the whole post; the plugin skips that member.
    broken = Roster('broken')
    broken.subscribe(broken.address('fine@example.com'))
    u = broken.user('lost-pref@example.com')
    broken.subscribe(u)
    del u.preferred_address
    compare(cases, 'broken: subscribed user without preferred address', broken.mlist,
            message(broken.mlist, 'fine@example.com'),
            broken=True, expect_recipients=['fine@example.com'])


MODES = (None, 'regular', 'regular', 'plaintext_digests', 'mime_digests', 'summary_digests')
STATUSES = (None, 'enabled', 'enabled', 'by_user', 'by_bounces', 'by_moderator', 'unknown')


def random_prefs(rng):
    prefs = {}
    if rng.random() < 0.4:
        prefs['mode'] = rng.choice(MODES[1:])
    if rng.random() < 0.4:
        prefs['status'] = rng.choice(STATUSES[1:])
    if rng.random() < 0.3:
        prefs['own'] = rng.random() < 0.5
    if rng.random() < 0.3:
        prefs['copy'] = rng.random() < 0.5
    return prefs


def random_roster(name, rng, people):
    """``people`` subscribers: loose addresses and users with 1-3 addresses,
    subscribed as address or as user, preferences random at every level."""
    r = Roster(name)
    emails = []
    for i in range(people):
        kind = rng.random()
        local = '%s-%d' % (name, i)
        if rng.random() < 0.2:
            local = local.upper()
        if kind < 0.4:
            address = r.address('%s@example.com' % local, **random_prefs(rng))
            r.subscribe(address, **random_prefs(rng))
            emails.append(address.email)
            continue
        own = ['%s.%d@example.com' % (local, n) for n in range(rng.randint(1, 3))]
        user = r.user(*own, preferred=rng.randrange(len(own)), **random_prefs(rng))
        for email_ in own:
            set_prefs(r.users.get_address(email_).preferences, random_prefs(rng))
        emails.extend(e.lower() for e in own)
        if kind < 0.75:
            r.subscribe(user, **random_prefs(rng))
        else:
            r.subscribe(r.users.get_address(rng.choice(own)), **random_prefs(rng))
        extra = r.users.get_address(own[0])
        if rng.random() < 0.1 and not r.mlist.is_subscribed(extra):
            # The same user once more, through one of its addresses.
            r.subscribe(extra, **random_prefs(rng))
    return r, emails


def randomised(cases, seed, lists=3, people=200, posts=12):
    rng = random.Random(seed)
    for n in range(lists):
        r, emails = random_roster('rnd%d' % n, rng, people)
        m = r.mlist
        for p in range(posts):
            sender = rng.choice(emails + ['stranger@example.net'])
            if rng.random() < 0.3:
                sender = sender.upper()
            cc = rng.sample(emails, rng.randint(0, 4))
            compare(cases, 'random seed %d list %d post %d' % (seed, n, p), m,
                    message(m, sender, cc=cc), dict(to_list=True) if p % 2 else {})


def bulk_random_roster(name, rng, people):
    """Like random_roster(), built with the model classes directly, as
    MailingList.subscribe() and IUserManager would build them but without
    their per-call look-ups (at ~10 ms a member, 5,000 would take a minute)."""
    from mailman.interfaces.member import MemberRole
    from mailman.model.address import Address
    from mailman.model.member import Member
    from mailman.model.preferences import Preferences
    from mailman.model.user import User
    from mailman.utilities.datetime import now
    config, _rest, _client = api()
    r = Roster(name)
    store = config.db.store

    def prefs():
        preferences = Preferences()
        set_prefs(preferences, random_prefs(rng))
        return preferences

    def address(email_):
        address = Address(email_, '')
        address.preferences = prefs()
        address.verified_on = now()
        store.add(address)
        return address

    with store.no_autoflush:
        for i in range(people):
            local = '%s-%d' % (name, i)
            if rng.random() < 0.4:
                subscriber = address('%s@example.com' % local)
            else:
                user = User(preferences=prefs())
                own = [address('%s.%d@example.com' % (local, n)) for n in range(rng.randint(1, 3))]
                for each in own:
                    each.user = user
                user._preferred_address = rng.choice(own)
                subscriber = user if rng.random() < 0.7 else rng.choice(own)
            member = Member(MemberRole.member, r.mlist.list_id, subscriber)
            member.preferences = prefs()
            store.add(member)
    return r


def timing(members, seed):
    config, _rest, _client = api()
    rng = random.Random(seed)
    started = time.monotonic()
    r = bulk_random_roster('timing', rng, members)
    config.db.commit()
    built = time.monotonic() - started
    result = dict(members=r.mlist.members.member_count, build_s=round(built, 2))
    msg = message(r.mlist, 'timing-1@example.com')
    sets = {}
    for name in (PLUGIN, STOCK):
        config.db.commit()  # expires the session: no warm identity map for either
        msgdata = {}
        started = time.monotonic()
        config.handlers[name].process(r.mlist, copy.deepcopy(msg), msgdata)
        result[name + '_s'] = round(time.monotonic() - started, 3)
        sets[name] = msgdata['recipients']
    result['recipients'] = len(sets[STOCK])
    result['identical'] = sets[STOCK] == sets[PLUGIN]
    return result


def duplicates():
    """Out-queue entries that posting the same messages through each pipeline makes."""
    import os

    from mailman.core.pipelines import process

    from mailops_mailman_plugin.handlers import duplicates as dup
    config, _rest, _client = api()
    lists = [Roster('dupes'), Roster('dupes-other')]
    for r in lists:
        r.subscribe(r.address('member@example.com'))
    config.db.commit()
    out = config.switchboards['out']

    def posted(pipeline, msg, r=lists[0]):
        before = len(out.files)
        process(r.mlist, copy.deepcopy(msg), {}, pipeline)
        return len(out.files) - before

    first, second, no_id = (message(lists[0].mlist, 'member@example.com') for _n in range(3))
    del no_id['Message-ID']
    # A different post that reuses first's Message-ID (a script, a resend).
    reused = copy.deepcopy(first)
    reused.set_payload('another body\n')
    result = dict(
        stock_same_twice=[posted('default-posting-pipeline', first) for _n in range(2)],
        mailops_same_thrice=[posted('mailops-posting-pipeline', first) for _n in range(3)],
        mailops_other=posted('mailops-posting-pipeline', second),
        mailops_same_other_list=posted('mailops-posting-pipeline', first, lists[1]),
        mailops_same_id_other_body=posted('mailops-posting-pipeline', reused),
        mailops_no_message_id=[posted('mailops-posting-pipeline', no_id) for _n in range(2)],
    )
    # A record that cannot be written (its directory is a file: fails even
    # for root): the post is still distributed, not shunted.
    broken = Roster('dupes-broken')
    broken.subscribe(broken.address('member@example.com'))
    config.db.commit()
    os.makedirs(os.path.dirname(dup.record_dir(broken.mlist.list_id)), exist_ok=True)
    with open(dup.record_dir(broken.mlist.list_id), 'w', encoding='ascii'):
        pass
    result['mailops_unwritable_record'] = [posted('mailops-posting-pipeline', first, broken) for _n in range(2)]
    # The record aged past the window: the post is distributed again.
    path = dup.record_path(lists[0].mlist.list_id, dup.post_key(first))
    old = time.time() - dup.WINDOW - 60
    os.utime(path, (old, old))
    result['mailops_after_window'] = posted('mailops-posting-pipeline', first)
    return result


def loops():
    """A post that came back to its own list, and automatic replies, through each pipeline.

    The post comes back as Mailman sent it (taken from the out queue), with a
    new Message-ID so that only the loop check, not the duplicate check, can
    stop it.
    """
    from mailman.core.pipelines import process
    config, _rest, _client = api()
    r = Roster('loopy')
    r.subscribe(r.address('member@example.com'))
    config.db.commit()
    out = config.switchboards['out']

    def posted(pipeline, msg):
        before = set(out.files)
        process(r.mlist, copy.deepcopy(msg), {}, pipeline)
        return [f for f in out.files if f not in before]

    queued = posted('default-posting-pipeline', message(r.mlist, 'member@example.com'))
    sent, _data = out.dequeue(queued[0])
    out.finish(queued[0])
    came_back = copy.deepcopy(sent)
    came_back.replace_header('Message-ID', '<%d@differential>' % random.getrandbits(64))
    replied, generated = (message(r.mlist, 'member@example.com') for _n in range(2))
    replied['Auto-Submitted'] = 'auto-replied'
    generated['Auto-Submitted'] = 'auto-generated'
    return dict(
        list_post_written=str(sent['List-Post']),
        stock_loop_rule_matches_own_copy=config.rules['loop'].check(r.mlist, came_back, {}),
        stock_came_back=len(posted('default-posting-pipeline', came_back)),
        mailops_came_back=len(posted('mailops-posting-pipeline', came_back)),
        mailops_auto_replied=len(posted('mailops-posting-pipeline', replied)),
        mailops_auto_generated=len(posted('mailops-posting-pipeline', generated)),
    )


def digest_lock():
    """A post to a list whose digest mailbox a dead process left locked, through each pipeline.

    The mailbox as a pipeline runner killed in the middle of ``to-digest``
    leaves it: its dot-lock file (the fcntl lock died with the process), one
    complete message and the start of the one it was appending.
    """
    import os

    from mailman.core.pipelines import process
    config, _rest, _client = api()
    out = config.switchboards['out']
    result = {}
    for label, pipeline in (('stock', 'default-posting-pipeline'), ('mailops', 'mailops-posting-pipeline')):
        r = Roster('digest-' + label)
        r.subscribe(r.address('member@example.com'))
        config.db.commit()
        os.makedirs(r.mlist.data_path, exist_ok=True)
        path = os.path.join(r.mlist.data_path, 'digest.mmdf')
        with open(path, 'wb') as f:
            f.write(b'\x01\x01\x01\x01\nFrom: a@example.com\nSubject: whole\n\nbody\n\n\x01\x01\x01\x01\n'
                    b'\x01\x01\x01\x01\nFrom: b@example.com\nSubject: to')
        with open(path + '.lock', 'wb'):
            pass
        before = len(out.files)
        try:
            process(r.mlist, message(r.mlist, 'member@example.com'), {}, pipeline)
            error = None
        except Exception as exc:  # pylint: disable=broad-exception-caught
            error = type(exc).__name__
        result[label] = dict(error=error, out=len(out.files) - before, lock_left=os.path.exists(path + '.lock'),
                             digest_subjects=[str(m['subject']) for m in mailbox.MMDF(path)])
    return result


def digest_mailbox(workdir):
    """clear_stale_lock and cut_torn_tail on digest mailboxes as Python's MMDF writes them.

    Each torn case is a complete mailbox cut short in the middle of its last
    message; "evil" has a body line that looks like MMDF's separator. Live
    locks: one held by another process (fcntl and dot-lock), and one that
    the holder removes while the check waits (the unlock gap).
    """
    import os
    import subprocess
    import threading

    from mailops_mailman_plugin.handlers import digest_lock as dl
    path = os.path.join(workdir, 'digest-cases.mmdf')

    def write(subjects, evil_body=False):
        if os.path.exists(path):
            os.remove(path)
        box = mailbox.MMDF(path)
        for subject in subjects:
            body = '\x01\x01\x01\x01\nnot a separator\n' if evil_body and subject == 'evil' else 'body\n'
            box.add(email.message_from_string('Subject: %s\n\n%s' % (subject, body)))
        box.close()
        with open(path, 'rb') as f:
            return f.read()

    def cut_case(subjects, torn_bytes, evil_body=False, keep_of_start=5):
        """[bytes cut, what is left is the mailbox of the complete messages] for a mailbox
        whose last message lost its last torn_bytes bytes (0: a complete mailbox;
        'start': all but keep_of_start bytes of its opening separator line)."""
        whole = write(subjects[:-1] if torn_bytes else subjects, evil_body)
        data = write(subjects, evil_body)
        if torn_bytes == 'start':
            torn_bytes = len(data) - len(whole) - keep_of_start
        with open(path, 'wb') as f:
            f.write(data[:len(data) - torn_bytes])
        with open(path, 'rb+') as f:
            cut = dl.cut_torn_tail(f)
        with open(path, 'rb') as f:
            return [cut, f.read() == whole]

    result = dict(
        clean=cut_case(['one', 'two'], 0),
        clean_evil=cut_case(['one', 'evil', 'three'], 0, evil_body=True),
        empty=cut_case([], 0),
        torn_in_end_separator=cut_case(['one', 'two'], 2),
        torn_in_body=cut_case(['one', 'two'], 12),
        torn_evil_last=cut_case(['one', 'evil'], 3, evil_body=True),
        torn_only_message=cut_case(['one'], 9),
        torn_right_after_start=cut_case(['one', 'two'], 'start'),
        torn_in_start_separator=cut_case(['one', 'two'], 'start', keep_of_start=2),
    )
    write(['one'])
    holder = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, '-c', 'import mailbox, sys, time\n'
         'box = mailbox.MMDF(sys.argv[1]); box.lock(); print("locked", flush=True)\n'
         'time.sleep(float(sys.argv[2])); box.unlock()', path, '3'], stdout=subprocess.PIPE, text=True)
    holder.stdout.readline()
    result['live_holder'] = [dl.clear_stale_lock(path), os.path.exists(path + '.lock')]
    holder.wait(10)
    # The unlock gap: a dot-lock without the fcntl lock, removed by its holder
    # during the check's pause (a thread: no process start-up to wait for).
    with open(path + '.lock', 'wb'):
        pass
    remover = threading.Timer(dl.SETTLE / 4, os.remove, (path + '.lock',))
    remover.start()
    result['unlock_gap'] = [dl.clear_stale_lock(path), os.path.exists(path + '.lock')]
    remover.join(10)
    with open(path + '.lock', 'wb'):
        pass
    result['stale'] = [bool(dl.clear_stale_lock(path)), os.path.exists(path + '.lock')]
    return result


def disk_full_errors():
    """What outage.is_disk_full makes of real errors: SQLite's own full database, ENOSPC, a cut connection.

    SQLite's is real: a database capped at its current size (max_page_count)
    refusing an insert, as SQLAlchemy raises it.
    """
    import errno

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from mailops_mailman_plugin import outage
    engine = create_engine('sqlite://')
    try:
        with engine.begin() as connection:
            connection.execute(text('CREATE TABLE t (x TEXT)'))
            pages = connection.execute(text('PRAGMA page_count')).scalar()
            connection.execute(text('PRAGMA max_page_count = %d' % pages))
            connection.execute(text("INSERT INTO t SELECT hex(randomblob(100000))"))
        sqlite_full = None
    except OperationalError as error:
        sqlite_full = error
    cut = OperationalError('SELECT 1', {}, Exception('server closed the connection unexpectedly'))
    return dict(
        sqlite_full=[str(sqlite_full).splitlines()[0] if sqlite_full else None,
                     bool(sqlite_full) and outage.is_disk_full(sqlite_full)],
        enospc=outage.is_disk_full(OSError(errno.ENOSPC, 'No space left on device')),
        connection_cut=[outage.is_disk_full(cut), outage.is_outage(cut)],
    )


def lmtp_queue_failure():
    """A post over LMTP while Mailman cannot write its in queue, to the stock and the plugin's LMTP handler.

    The queue directory is made unusable for real (a file in its place:
    each enqueue fails with an OSError, as with a full disk); then restored,
    and the same post taken normally (the control).
    """
    import asyncio
    import os
    import shutil

    from aiosmtpd.smtp import Envelope
    from mailman.runners.lmtp import LMTPRunner

    from mailops_mailman_plugin.runners import MailopsLMTPRunner
    config, _rest, _client = api()
    r = Roster('lmtp-queue')
    config.db.commit()
    queue_dir = config.switchboards['in'].queue_directory
    result = {}
    for label, base in (('stock', LMTPRunner), ('mailops', MailopsLMTPRunner)):
        handler = base('lmtp').lmtp.handler

        def answer(handler=handler):
            envelope = Envelope()
            envelope.mail_from = 'member@example.com'
            envelope.rcpt_tos = [r.mlist.posting_address]
            envelope.content = message(r.mlist, 'member@example.com').as_bytes()
            return asyncio.run(handler.handle_DATA(None, None, envelope))

        os.rename(queue_dir, queue_dir + '.away')
        with open(queue_dir, 'w', encoding='ascii'):
            pass
        try:
            result[label + '_queue_broken'] = answer()
        finally:
            os.remove(queue_dir)
            os.rename(queue_dir + '.away', queue_dir)
        result[label + '_queue_fine'] = answer()
    shutil.rmtree(queue_dir)
    os.makedirs(queue_dir)
    return result


def command_bomb():
    """15 join messages from one sender to one list, through the stock and the plugin's command runner.

    Counts what each runner queued for sending (confirmations and results),
    for the sender and, as a control, for one join from another sender after
    the bomb. Mailman's max_autoresponses_per_day is 10 (schema.cfg).
    """
    from mailman.interfaces.mailinglist import SubscriptionPolicy
    from mailman.runners.command import CommandRunner

    from mailops_mailman_plugin.runners import MailopsCommandRunner
    config, _rest, _client = api()
    virgin, command = config.switchboards['virgin'], config.switchboards['command']
    result = {'limit': int(config.mta.max_autoresponses_per_day)}
    for label, base in (('stock', CommandRunner), ('mailops', MailopsCommandRunner)):
        r = Roster('bomb-' + label)
        r.mlist.subscription_policy = SubscriptionPolicy.confirm
        config.db.commit()

        def answers(sender, count, r=r, base=base):
            before = len(virgin.files)
            for _n in range(count):
                command.enqueue(message(r.mlist, sender, to=r.mlist.join_address),
                                dict(listid=r.mlist.list_id, subaddress='join'))
            base('command')._one_iteration()
            return len(virgin.files) - before

        r.subscribe(r.address('owner@example.com'), role='owner')
        config.db.commit()
        result[label + '_victim'] = answers('victim@example.com', 15)
        result[label + '_other_sender'] = answers('someone-else@example.com', 1)
        result[label + '_owner'] = answers('owner@example.com', 12)
    return result


def pipeline_queues(name, pipeline):
    """A list with one member on the given posting pipeline, and a count of its queues' files."""
    config, _rest, _client = api()
    r = Roster(name)
    r.subscribe(r.address('member@example.com'))
    r.mlist.posting_pipeline = pipeline
    config.db.commit()
    queues = {queue: config.switchboards[queue] for queue in ('pipeline', 'out', 'shunt')}

    def counts():
        return {queue: len(q.files) for queue, q in queues.items()}
    return r, queues, counts


def post_and_run(r, queues, runner, stop_after=None):
    """Queue a member's post for the pipeline runner and run it until it stops."""
    queues['pipeline'].enqueue(message(r.mlist, 'member@example.com'),
                               dict(listid=r.mlist.list_id, to_list=True))
    run_bounded(runner, stop_after)


def run_bounded(runner, stop_after=None):
    """Run a runner until it stops; one that never stops fails the run, not hangs it.

    stop_after: seconds after which the runner gets a SIGTERM, counted from
    when its own signal handlers are in place.
    """
    import os
    import signal
    import threading
    runner.set_signals()
    if stop_after is not None:
        threading.Timer(stop_after, os.kill, (os.getpid(), signal.SIGTERM)).start()
    signal.alarm(60)
    runner.run()
    signal.alarm(0)


def runner_stops():
    """A stop signal in the middle of a message, to the stock and the plugin's pipeline runner.

    Each runner gets one queued post and a SIGTERM to itself from inside the
    message's processing (a graceful stop arriving mid-message), then one with
    an empty queue and a SIGTERM while it sleeps between scans.
    """
    import os
    import signal

    from mailman.runners.pipeline import PipelineRunner

    from mailops_mailman_plugin.runners import MailopsPipelineRunner
    r, queues, counts = pipeline_queues('stops', 'default-posting-pipeline')

    result = {}
    for label, base in (('stock', PipelineRunner), ('mailops', MailopsPipelineRunner)):
        class Probe(base):
            def _dispose(self, mlist, msg, msgdata):
                os.kill(os.getpid(), signal.SIGTERM)
                return super()._dispose(mlist, msg, msgdata)

        before = counts()
        post_and_run(r, queues, Probe('pipeline'))
        after = counts()
        backups = [f for f in os.listdir(queues['pipeline'].queue_directory) if f.endswith('.bak')]
        result[label + '_mid_message'] = dict(
            {name: after[name] - before[name] for name in after}, bak=len(backups))

        idle = base('pipeline')
        idle.sleep_float = 30
        started = time.monotonic()
        run_bounded(idle, stop_after=0.5)
        result[label + '_asleep_s'] = round(time.monotonic() - started, 2)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return result


def database_outage():
    """A database failure, and a full disk, in the middle of a post, in the stock and the plugin's pipeline runner.

    The runner's first attempt at the post (on mailops-posting-pipeline)
    adds the list's List-Id, as the pipeline does, then fails: with the
    OperationalError SQLAlchemy raises when PostgreSQL cuts the connection
    (injected: the database itself is cut in the resilience scenario, with
    real PostgreSQL), or with the OSError a write to a full disk gets (a
    real write to /dev/full: ENOSPC). Later attempts run normally. The
    retry must see the post as it was, not take its own List-Id for a loop,
    and find it under its own queue file's name (put back, not queued anew:
    a full disk has no room for a new file). A SIGTERM 4 s later ends the
    runner.
    """
    import os
    import signal

    from mailman.runners.pipeline import PipelineRunner
    from sqlalchemy.exc import OperationalError

    from mailops_mailman_plugin.runners import MailopsPipelineRunner
    r, queues, counts = pipeline_queues('outage', 'mailops-posting-pipeline')

    def database_away():
        raise OperationalError('SELECT 1', {}, Exception('server closed the connection unexpectedly'))

    def disk_full():
        with open('/dev/full', 'wb', buffering=0) as full:
            full.write(b'x')

    result = {}
    for failure, fail in (('', database_away), ('disk_full_', disk_full)):
        for label, base in (('stock', PipelineRunner), ('mailops', MailopsPipelineRunner)):
            class Probe(base):
                attempts = []
                filebases = []

                def _dispose(self, mlist, msg, msgdata, fail=fail):
                    self.attempts.append(time.monotonic())
                    self.filebases.extend(f[:-4] for f in os.listdir(queues['pipeline'].queue_directory)
                                          if f.endswith('.bak'))
                    if len(self.attempts) == 1:
                        # As rfc-2369 does before its archiver query fails.
                        msg['List-Id'] = '<%s>' % mlist.list_id
                        fail()
                    return super()._dispose(mlist, msg, msgdata)

            before = counts()
            runner = Probe('pipeline')
            runner.sleep_float = 0.1
            post_and_run(r, queues, runner, stop_after=4)
            after = counts()
            attempts = Probe.attempts
            result[failure + label] = dict(
                {name: after[name] - before[name] for name in after}, attempts=len(attempts),
                retry_after_s=round(attempts[1] - attempts[0], 1) if len(attempts) > 1 else None,
                same_queue_file=len(Probe.filebases) > 1 and len(set(Probe.filebases)) == 1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('workdir')
    parser.add_argument('--seed', type=int, default=11)
    parser.add_argument('--timing', type=int, default=0, metavar='MEMBERS')
    args = parser.parse_args(argv)
    load_mailman(args.workdir)
    import mailman.version
    import sqlalchemy
    report = dict(mailman=mailman.version.VERSION, sqlalchemy=sqlalchemy.__version__,
                  python=sys.version.split()[0], registration=registration(), cases=[])
    hand_made(report['cases'])
    randomised(report['cases'], args.seed)
    report['duplicates'] = duplicates()
    report['runner_stops'] = runner_stops()
    report['database_outage'] = database_outage()
    report['loops'] = loops()
    report['command_bomb'] = command_bomb()
    report['digest_lock'] = digest_lock()
    report['lmtp_queue_failure'] = lmtp_queue_failure()
    report['disk_full_errors'] = disk_full_errors()
    report['digest_mailbox'] = digest_mailbox(args.workdir)
    if args.timing:
        report['timing'] = timing(args.timing, args.seed)
    json.dump(report, sys.stdout, indent=1, default=sorted)
    print()


if __name__ == '__main__':
    main()
