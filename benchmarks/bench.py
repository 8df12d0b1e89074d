#!/usr/bin/python3
# Copyright (c) mailops.mailman contributors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fan-out and latency benchmark, run INSIDE the deployed host (as root).

benchmarks/run.sh copies this file to /root/bench.py and runs
`python3 /root/bench.py run --n 100,1000,5000`; it prints one JSON document on
stdout (progress goes to stderr). Standard library only: the host has Debian's
python3 and nothing else is installed for the benchmark.

What it measures, for each N (ascending, users and members grow as needed):
  raw   one message, SMTP to 127.0.0.1:25, RCPT TO the N local users (in
        transactions of at most smtpd_recipient_limit recipients on one
        connection), until every one of the N mailboxes has it
  list  one post to bench@local.edu, whose members are exactly those N users,
        until every one of the N mailboxes has it
and once: the single-post latency (bench-one@local.edu, one subscriber) and,
as the floor, the same for one message straight to a local user.

Every time runs from the start of the SMTP session (raw, list) or from the
server's 250 for DATA (latencies) to the newest mtime of the mailboxes, which
are deleted before each run; each mailbox is then read once to check it holds
the run's marker exactly once. Every wait is bounded.

Benchmark users are bu00001..buNNNNN (uid 20001+, group users, no home, no
shell), written straight to /etc/passwd and /etc/shadow: useradd rewrites the
5,000-line files once per user. `cleanup` removes exactly those lines, their
mailboxes and the list members.
"""

import argparse
import base64
import configparser
import email.utils
import json
import os
import smtplib
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

DOMAIN = 'local.edu'
LIST = 'bench@' + DOMAIN
ONE = 'bench-one@' + DOMAIN
PREFIX = 'bu'
UID0 = 20000
MAILCFG = '/etc/mailman3/mailman.cfg'
POSTFIX_QUEUES = ['incoming', 'active', 'deferred', 'maildrop']
MAILMAN_QUEUE = '/var/lib/mailman3/queue'


def log(*args):
    print('[bench %s]' % time.strftime('%H:%M:%S'), *args, file=sys.stderr, flush=True)


def user(i):
    return '%s%05d' % (PREFIX, i)


def mbox(i):
    return '/var/mail/' + user(i)


def is_bench_line(line):
    name = line.split(':', 1)[0]
    return name.startswith(PREFIX) and name[len(PREFIX):].isdigit() and len(name) == len(PREFIX) + 5


# ---- users -------------------------------------------------------------------

def _rewrite(path, keep, extra=()):
    st = os.stat(path)
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() if keep(ln)]
    lines.extend(extra)
    tmp = path + '.bench-tmp'
    with open(tmp, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    os.chown(tmp, st.st_uid, st.st_gid)
    os.chmod(tmp, st.st_mode & 0o7777)
    os.replace(tmp, path)


def ensure_users(n):
    with open('/etc/passwd') as f:
        have = {ln.split(':', 1)[0] for ln in f if is_bench_line(ln)}
    missing = [i for i in range(1, n + 1) if user(i) not in have]
    if not missing:
        return 0.0
    t0 = time.monotonic()
    days = int(time.time() // 86400)
    _rewrite('/etc/passwd', lambda ln: True,
             ['%s:x:%d:100:mailops bench:/nonexistent:/usr/sbin/nologin' % (user(i), UID0 + i) for i in missing])
    _rewrite('/etc/shadow', lambda ln: True,
             ['%s:*:%d:0:99999:7:::' % (user(i), days) for i in missing])
    # nscd is not installed on the image; Postfix's proxymap reads passwd afresh.
    return time.monotonic() - t0


def remove_users():
    for path in ('/etc/passwd', '/etc/shadow'):
        _rewrite(path, lambda ln: not is_bench_line(ln))


# ---- Mailman REST --------------------------------------------------------------

def read_mailman_cfg():
    """mailman.cfg as Mailman's lazr.config reads it (the rules of the collection's
    plugins/module_utils/mailman_cfg.py, which this host-side script cannot import):
    the last of a repeated key wins, '%' is literal."""
    cfg = configparser.RawConfigParser(strict=False)
    cfg.read(MAILCFG)
    return cfg


class Rest:
    def __init__(self):
        ws = read_mailman_cfg()['webservice']
        # schema.cfg's defaults where the file sets nothing
        self.base = 'http://%s:%s/3.1' % (ws.get('hostname', 'localhost'), ws.get('port', '8001'))
        token = '%s:%s' % (ws['admin_user'], ws['admin_pass'])
        self.auth = 'Basic ' + base64.b64encode(token.encode()).decode()

    def call(self, method, path, data=None):
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers={'Authorization': self.auth})
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def list_id(self, address):
        return address.replace('@', '.')

    def member_emails(self, address):
        got, page = set(), 1
        while True:
            r = self.call('GET', '/lists/%s/roster/member?count=1000&page=%d' % (self.list_id(address), page))
            entries = r.get('entries', [])
            got.update(e['email'].lower() for e in entries)
            if len(got) >= r.get('total_size', 0) or not entries:
                return got
            page += 1

    def subscribe(self, address, emails, threads=2):
        def one(e):
            for attempt in range(5):
                try:
                    return self.call('POST', '/members', {
                        'list_id': self.list_id(address), 'subscriber': e,
                        'pre_verified': True, 'pre_confirmed': True, 'pre_approved': True,
                        'send_welcome_message': False})
                except urllib.error.HTTPError as exc:
                    if exc.code == 409:   # already a member
                        return None
                    if attempt == 4:
                        raise
                    time.sleep(0.5)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, emails))

    def unsubscribe_all(self, address):
        emails = sorted(self.member_emails(address))
        for i in range(0, len(emails), 500):
            self.call('DELETE', '/lists/%s/roster/member' % self.list_id(address), {'emails': emails[i:i + 500]})


def ensure_members(rest, address, n):
    want = {'%s@%s' % (user(i), DOMAIN) for i in range(1, n + 1)}
    have = rest.member_emails(address)
    extra = have - want
    if extra:
        raise SystemExit('%s has members outside the first %d benchmark users: %s' % (address, n, sorted(extra)[:5]))
    missing = sorted(want - have)
    t0 = time.monotonic()
    if missing:
        log('subscribing %d members to %s' % (len(missing), address))
        rest.subscribe(address, missing)
    return time.monotonic() - t0, len(missing)


# ---- waiting -----------------------------------------------------------------------

def queues_empty():
    for q in POSTFIX_QUEUES:
        for _root, _dirs, files in os.walk('/var/spool/postfix/' + q):
            if files:
                return False
    for q in os.listdir(MAILMAN_QUEUE) if os.path.isdir(MAILMAN_QUEUE) else []:
        if q in ('bad', 'shunt'):
            continue
        if [f for f in os.listdir(os.path.join(MAILMAN_QUEUE, q)) if not f.endswith('.bak')]:
            return False
    return True


def wait_idle(timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if queues_empty():
            return True
        time.sleep(0.2)
    log('queues still not empty after %ds; measuring anyway' % timeout)
    return False


def clear_mailboxes(n):
    for i in range(1, n + 1):
        try:
            os.unlink(mbox(i))
        except FileNotFoundError:
            pass


def wait_mailboxes(indices, marker, timeout):
    """Wait until every mailbox is non-empty; return (newest mtime, missing)."""
    pending = list(indices)
    newest = 0.0
    end = time.monotonic() + timeout
    while pending and time.monotonic() < end:
        still = []
        for i in pending:
            try:
                st = os.stat(mbox(i))
            except FileNotFoundError:
                still.append(i)
                continue
            if st.st_size == 0:
                still.append(i)
            else:
                newest = max(newest, st.st_mtime)
        pending = still
        if pending:
            time.sleep(0.02)
    # Mailboxes were deleted before the run: re-stat them all, a late write
    # (another copy) would move the newest mtime, and check the marker.
    bad = []
    for i in indices:
        try:
            st = os.stat(mbox(i))
            newest = max(newest, st.st_mtime)
            with open(mbox(i), 'rb') as f:
                if f.read().count(('<%s>' % marker).encode()) != 1:
                    bad.append(i)
        except FileNotFoundError:
            bad.append(i)
    return newest, bad


# ---- sending -----------------------------------------------------------------------

def message(sender, to, subject, marker):
    # The marker is in the body only: wait_mailboxes counts it, exactly once.
    return ('From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n\r\n'
            'Benchmark message <%s>.\r\n' % (sender, to, subject, email.utils.formatdate(),
                                             email.utils.make_msgid(domain=DOMAIN), marker))


def smtp_chunks(sender, rcpts, msg, chunk):
    """One SMTP session, one transaction per `chunk` recipients. Returns the
    time.time() of the last 250 for DATA."""
    with smtplib.SMTP('127.0.0.1', 25, timeout=120) as s:
        for j in range(0, len(rcpts), chunk):
            refused = s.sendmail(sender, rcpts[j:j + chunk], msg)
            if refused:
                raise SystemExit('Postfix refused %d recipients, e.g. %s' % (len(refused), list(refused.items())[:3]))
        return time.time()


def postconf(*keys):
    out = subprocess.run(['postconf'] + list(keys), capture_output=True, text=True, check=True).stdout
    return dict(line.split(' = ', 1) if ' = ' in line else (line.rstrip(' ='), '') for line in out.splitlines())


def run_raw(n, run_id, timeout):
    clear_mailboxes(n)
    wait_idle()
    marker = 'raw-%s-%d' % (run_id, n)
    rcpts = ['%s@%s' % (user(i), DOMAIN) for i in range(1, n + 1)]
    limit = int(postconf('smtpd_recipient_limit')['smtpd_recipient_limit'])
    msg = message('%s@%s' % (user(1), DOMAIN), 'bench-raw@%s' % DOMAIN, 'mailops benchmark', marker)
    load = os.getloadavg()
    t0 = time.time()
    smtp_chunks('%s@%s' % (user(1), DOMAIN), rcpts, msg, limit)
    newest, bad = wait_mailboxes(range(1, n + 1), marker, timeout)
    if bad:
        raise SystemExit('raw N=%d: %d mailboxes lack exactly one copy, e.g. %s' % (n, len(bad), mbox(bad[0])))
    return round(newest - t0, 3), load, (n + limit - 1) // limit


def run_list(n, run_id, timeout):
    clear_mailboxes(n)
    wait_idle()
    marker = 'list-%s-%d' % (run_id, n)
    sender = '%s@%s' % (user(1), DOMAIN)
    msg = message(sender, LIST, 'mailops benchmark', marker)
    load = os.getloadavg()
    t0 = time.time()
    smtp_chunks(sender, [LIST], msg, 1)
    newest, bad = wait_mailboxes(range(1, n + 1), marker, timeout)
    if bad:
        raise SystemExit('list N=%d: %d mailboxes lack exactly one copy, e.g. %s (see /var/log/mailman3/smtp.log)'
                         % (n, len(bad), mbox(bad[0])))
    return round(newest - t0, 3), load


def run_latency(rcpt, run_id, samples, label):
    times = []
    sender = '%s@%s' % (user(1), DOMAIN)
    for k in range(samples):
        clear_mailboxes(1)
        wait_idle()
        marker = '%s-%s-%d' % (label, run_id, k)
        accepted = smtp_chunks(sender, [rcpt], message(sender, rcpt, 'mailops benchmark', marker), 1)
        newest, bad = wait_mailboxes([1], marker, 60)
        if bad:
            raise SystemExit('%s latency: no copy in %s within 60s' % (label, mbox(1)))
        times.append(round(newest - accepted, 3))
        # Runners sleep between scans: do not always arrive at the same phase.
        time.sleep(0.37 * (k + 1) % 1.0)
    return {'median_s': round(statistics.median(times), 3), 'max_s': max(times), 'samples_s': times}


def tuning():
    cfg = read_mailman_cfg()
    mta = cfg['mta']
    keys = ['local_destination_concurrency_limit', 'local_destination_recipient_limit',
            'default_process_limit', 'default_destination_rate_delay', 'smtpd_recipient_limit',
            'in_flow_delay', 'lmtp_destination_concurrency_limit', 'qmgr_message_active_limit']
    return {
        'postfix': postconf(*keys),
        'mailman': {
            'max_recipients': mta.get('max_recipients'),
            'max_sessions_per_connection': mta.get('max_sessions_per_connection'),
            'max_delivery_threads': mta.get('max_delivery_threads'),
            'runner_sleep_time': {s.split('.', 1)[1]: cfg[s].get('sleep_time', 'schema default')
                                  for s in cfg.sections() if s.startswith('runner.')},
            'runner_instances': {s.split('.', 1)[1]: cfg[s]['instances']
                                 for s in cfg.sections() if s.startswith('runner.') and 'instances' in cfg[s]},
        },
    }


def cmd_run(args):
    ns = sorted(int(x) for x in args.n.split(','))
    run_id = '%x' % int(time.time())
    rest = Rest()
    result = {'run_id': run_id, 'cpus': os.cpu_count(), 'load_start': os.getloadavg(),
              'tuning': tuning(), 'rows': []}
    log('creating %d local users' % ns[-1])
    result['users_created_s'] = round(ensure_users(ns[-1]), 3)
    result['members_added_s'] = {}
    log('latency: one subscriber (bench-one) and one local user (Postfix alone)')
    ensure_members(rest, ONE, 1)
    result['latency_list'] = run_latency(ONE, run_id, args.samples, 'lat-list')
    result['latency_raw'] = run_latency('%s@%s' % (user(1), DOMAIN), run_id, args.samples, 'lat-raw')
    log('latency: list median %.3fs, Postfix alone median %.3fs'
        % (result['latency_list']['median_s'], result['latency_raw']['median_s']))
    for n in ns:
        secs, added = ensure_members(rest, LIST, n)
        result['members_added_s'][str(n)] = {'added': added, 'seconds': round(secs, 1)}
        timeout = 60 + n * 0.1
        raw_s, raw_load, transactions = run_raw(n, run_id, timeout)
        log('N=%d raw %.2fs (%d SMTP transaction(s))' % (n, raw_s, transactions))
        list_s, list_load = run_list(n, run_id, timeout)
        log('N=%d list %.2fs ratio %.2f' % (n, list_s, list_s / raw_s))
        result['rows'].append({'n': n, 'raw_s': raw_s, 'list_s': list_s, 'ratio': round(list_s / raw_s, 2),
                               'raw_smtp_transactions': transactions,
                               'load_before_raw': raw_load, 'load_before_list': list_load})
    result['load_end'] = os.getloadavg()
    if not args.keep:
        cleanup(rest, ns[-1])
    json.dump(result, sys.stdout, indent=2)
    print()


def cleanup(rest, n):
    log('cleanup: members, mailboxes, users')
    for address in (LIST, ONE):
        try:
            rest.unsubscribe_all(address)
        except urllib.error.HTTPError as exc:
            log('could not unsubscribe the members of %s: %s' % (address, exc))
    wait_idle(60)
    clear_mailboxes(n)
    remove_users()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run', help='measure, print JSON')
    r.add_argument('--n', default='100,1000,5000')
    r.add_argument('--samples', type=int, default=5, help='latency samples (each bounded to 60s)')
    r.add_argument('--keep', action='store_true', help='keep users, members and mailboxes')
    c = sub.add_parser('cleanup', help='remove the benchmark users, mailboxes and members')
    c.add_argument('--n', type=int, default=5000)
    args = p.parse_args()
    if args.cmd == 'run':
        cmd_run(args)
    else:
        cleanup(Rest(), args.n)


if __name__ == '__main__':
    main()
