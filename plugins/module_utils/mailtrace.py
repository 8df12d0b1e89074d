# -*- coding: utf-8 -*-

# Copyright (c) mailops.mailman developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Hop-by-hop checks of the path a list message takes through Postfix and Mailman 3.

Each check_* function returns one hop dict (see hop()). Checks that need a
command take `run(argv) -> (rc, stdout, stderr)`, which raises ToolMissing
when argv[0] is not installed; checks that read files take paths. Nothing
here writes anything or delivers mail.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import smtplib
import socket
import time

from ansible_collections.mailops.mailman.plugins.module_utils.mailman_address import (
    address_forms,
    form_address,
    form_of,
    list_id,
    split_address,
)

# Forms a member's mail uses; each must reach Mailman for join/post/leave to work.
ROUTED_FORMS = ("posting", "join", "leave", "confirm")
STALE_SECONDS = 60
TAIL_BYTES = 256 * 1024
# Mailman's log format is "%(asctime)s (%(process)d) %(message)s" with
# datefmt "%b %d %H:%M:%S %Y"; gunicorn lines start with "[".
_RECORD_START = re.compile(r"^(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d \d{4} \(\d+\) |\[)")
_ERRORISH = re.compile(r"Uncaught runner exception|SHUNTING|Traceback|Error\b|error:|[Ee]xception"
                       r"|refused|Cannot connect")


class ToolMissing(Exception):
    """argv[0] of a command is not installed."""


def hop(name, ok, evidence, detail=None, look_at=None):
    return dict(hop=name, ok=bool(ok), evidence=evidence, detail=list(detail or []),
                look_at=look_at)


def _tokens(value):
    return [t for t in re.split(r"[\s,]+", value or "") if t]


def _map_path(token):
    kind, sep, path = token.partition(":")
    return (kind, path) if sep else ("", token)


def _map_files(token):
    kind, path = _map_path(token)
    suffix = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb"}.get(kind)
    return [path] + ([path + suffix] if suffix else [])


def _postconf(run, expand, name):
    rc, out, err = run(["postconf", "-xh" if expand else "-h", name])
    if rc != 0:
        raise RuntimeError("postconf -h %s failed (rc=%s): %s" % (name, rc, (err or out).strip()))
    return out.strip()


def check_postfix_routing(list_address, lmtp_host, lmtp_port, data_dir, run):
    name = "postfix_routing"
    wanted = "lmtp:[%s]:%s" % (lmtp_host, lmtp_port)
    map_path = os.path.join(data_dir, "postfix_lmtp")
    look = "postconf -n transport_maps local_recipient_maps; Mailman's [mta] settings and %s" % map_path
    try:
        return _postfix_routing(name, list_address, wanted, map_path, look, run)
    except ToolMissing as e:
        return hop(name, False, "%s not found: is postfix installed?" % e,
                   look_at="apt-get install postfix; which %s" % e)
    except RuntimeError as e:
        return hop(name, False, str(e), look_at="postfix check; journalctl -u postfix")


def _postfix_routing(name, list_address, wanted, map_path, look, run):
    domain = split_address(list_address)[1]
    detail = []
    transport = _postconf(run, True, "transport_maps")
    detail.append("transport_maps = %s" % (transport or "(empty)"))
    maps = [t for t in _tokens(transport) if _map_path(t)[1] == map_path]
    if not maps:
        kind = "lmdb" if os.path.exists(map_path + ".lmdb") else "hash"
        return hop(name, False, "transport_maps does not include %s:%s" % (kind, map_path),
                   detail, look_at="postconf transport_maps; Mailman's postfix.cfg "
                   "(transport_maps = %s:%s); postfix reload" % (kind, map_path))
    the_map = maps[0]
    for path in _map_files(the_map):
        if not os.path.exists(path):
            return hop(name, False, "%s does not exist: Mailman has not generated its map "
                       "(or data_dir is wrong)" % path, detail,
                       look_at="mailman-wrapper aliases; ls -l %s" % os.path.dirname(map_path))
    forms = address_forms(list_address)
    for form in ROUTED_FORMS:
        address = forms[form]
        rc, out, err = run(["postmap", "-q", address, the_map])
        answer = out.strip()
        if rc != 0 and err.strip():
            return hop(name, False, "postmap -q %s %s failed: %s" % (address, the_map, err.strip()),
                       detail, look_at="ls -l %s*; mailman-wrapper aliases" % map_path)
        if not answer:
            return hop(name, False, "postmap -q %s → (not found): the list is missing from "
                       "Mailman's generated map" % address, detail,
                       look_at="mailman-wrapper lists; mailman-wrapper aliases; %s" % map_path)
        detail.append("postmap -q %s → %s" % (address, answer))
        if answer != wanted:
            return hop(name, False, "postmap -q %s → %s, expected %s: Mailman's [mta] lmtp_host/"
                       "lmtp_port differ from lmtp_host/lmtp_port given here" % (address, answer, wanted),
                       detail, look_at="[mta] in /etc/mailman3/mailman.cfg; mailman-wrapper aliases")
    delimiter = _postconf(run, False, "recipient_delimiter")
    detail.append("recipient_delimiter = %s" % (delimiter or "(empty)"))
    if "+" not in delimiter:
        return hop(name, False, "recipient_delimiter does not contain '+': Postfix cannot route "
                   "%s, so joins and leaves are never confirmed"
                   % form_address(list_address, "confirm", "TOKEN"),
                   detail, look_at="postconf recipient_delimiter (Mailman needs +)")
    destinations = _postconf(run, True, "mydestination")
    detail.append("mydestination = %s" % (destinations or "(empty)"))
    if domain in [t.lower() for t in _tokens(destinations)]:
        recipients = _postconf(run, True, "local_recipient_maps")
        detail.append("local_recipient_maps = %s" % (recipients or "(empty: no check)"))
        # An empty local_recipient_maps turns the check off, which is fine.
        if recipients and not any(_map_path(t)[1] == map_path for t in _tokens(recipients)):
            return hop(name, False, "%s is in mydestination but local_recipient_maps does not "
                       "include %s: Postfix rejects list mail as 'User unknown in local recipient "
                       "table'" % (domain, the_map), detail,
                       look_at="postconf local_recipient_maps (add %s); postfix reload" % the_map)
    else:
        detail.append("%s is not in mydestination (relay/virtual domain)" % domain)
    return hop(name, True, "%s and its -join/-leave/-confirm forms route to %s"
               % (list_address, wanted), detail, look_at=look)


def _text(raw):
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def check_lmtp(list_address, host, port, timeout=10, mail_from="mailman-trace@localhost",
               log_dir="/var/log/mailman3"):
    """Connect, LHLO, MAIL FROM, RCPT per list form, RSET, QUIT: nothing is delivered."""
    name = "lmtp"
    where = "%s:%s" % (host, port)
    look = "systemctl status mailman3; %s; [mta] lmtp_host/lmtp_port" % os.path.join(log_dir, "mailman.log")
    forms = address_forms(list_address)
    client = smtplib.LMTP(timeout=timeout)
    detail = []
    try:
        try:
            code, banner = client.connect(host, port)
        except ConnectionRefusedError:
            return hop(name, False, "nothing listening on %s (connection refused): mailman3 down "
                       "or lmtp_port wrong" % where, look_at=look)
        except (socket.timeout, smtplib.SMTPServerDisconnected) as e:
            return hop(name, False, "no greeting from %s within %ss: %s (wrong lmtp_host or a "
                       "firewall?)" % (where, timeout, e or "timed out"), look_at=look)
        except OSError as e:
            return hop(name, False, "cannot connect to %s: %s" % (where, e), look_at=look)
        detail.append("greeting: %s %s" % (code, _text(banner)))
        if code != 220:
            return hop(name, False, "unexpected greeting from %s: %s %s" % (where, code, _text(banner)),
                       detail, look_at="ss -ltnp | grep %s: is something else on that port?" % port)
        code, reply = client.ehlo()
        if code != 250:
            return hop(name, False, "LHLO rejected by %s: %s %s (not Mailman's LMTP runner?)"
                       % (where, code, _text(reply)), detail, look_at=look)
        code, reply = client.mail(mail_from)
        if code != 250:
            return hop(name, False, "MAIL FROM:<%s> rejected by %s: %s %s"
                       % (mail_from, where, code, _text(reply)), detail, look_at=look)
        for form in ("posting", "join", "leave"):
            address = forms[form]
            code, reply = client.rcpt(address)
            detail.append("RCPT TO:<%s> → %s %s" % (address, code, _text(reply)))
            if code not in (250, 251):
                why = ": Mailman has no such list" if code == 550 else ""
                return hop(name, False, "RCPT TO:<%s> answered %s %s%s"
                           % (address, code, _text(reply), why), detail,
                           look_at="mailman-wrapper lists (is the list created, in this domain?)")
        client.rset()
    except (smtplib.SMTPException, OSError) as e:
        return hop(name, False, "LMTP conversation with %s broke off: %s" % (where, e or "timed out"),
                   detail, look_at=look)
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
    return hop(name, True, "%s accepts RCPT for %s" % (where, list_address), detail, look_at=look)


def parse_postqueue(text):
    """Entries of `postqueue -j` (one JSON object per line)."""
    entries = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            entries.append(json.loads(line))
    return entries


def read_postqueue(run):
    rc, out, err = run(["postqueue", "-j"])
    if rc != 0:
        raise RuntimeError("postqueue -j failed (rc=%s): %s" % (rc, (err or out).strip()))
    return parse_postqueue(out)


def _stuck(entries, wanted):
    """[(entry, recipient)] for queue recipients that `wanted(entry, address)` selects."""
    found = []
    for entry in entries:
        for rcpt in entry.get("recipients") or []:
            if wanted(entry, (rcpt.get("address") or "").lower()):
                found.append((entry, rcpt))
    return found


def _describe(entry, rcpt, now):
    age = ""
    if entry.get("arrival_time"):
        age = ", %ds old" % max(0, now - int(entry["arrival_time"]))
    return "%s %s from <%s> to <%s>%s: %s" % (
        entry.get("queue_name", "?"), entry.get("queue_id", "?"), entry.get("sender", ""),
        rcpt.get("address", ""), age, rcpt.get("delay_reason") or "(no delay reason yet)")


def _reason(found):
    """The delay_reason to quote: the first one Postfix gave."""
    for _, rcpt in found:
        if rcpt.get("delay_reason"):
            return rcpt["delay_reason"]
    return "no delay reason yet (still in the %s queue)" % found[0][0].get("queue_name", "?")


def check_postfix_to_lmtp(list_address, entries, now=None):
    name = "postfix_to_lmtp"
    now = time.time() if now is None else now
    found = _stuck(entries, lambda entry, address: form_of(address, list_address) is not None)
    if found:
        return hop(name, False, "%d message(s) for %s stuck in Postfix's queue: %s"
                   % (len({e.get("queue_id") for e, _ in found}), list_address, _reason(found)),
                   [_describe(e, r, now) for e, r in found],
                   look_at="postqueue -p; journalctl -u postfix | grep lmtp; then "
                   "postqueue -f once the lmtp hop is ok")
    return hop(name, True, "nothing for %s in Postfix's queue (%d queued in all)"
               % (list_address, len(entries)), look_at="postqueue -p")


def check_postfix_delivery(list_address, recipients, entries, now=None):
    """Queue entries for `recipients`, and any mail the list sent (envelope
    sender list-bounces@, VERPed or not) that Postfix still holds."""
    name = "postfix_delivery"
    now = time.time() if now is None else now
    wanted = {r.lower() for r in recipients or []}

    def mine(entry, address):
        # The list sends with envelope sender LIST-bounces@, VERPed or not.
        return address in wanted or form_of(entry.get("sender"), list_address) == "bounces"

    found = _stuck(entries, mine)
    if found:
        who = sorted({r.get("address", "") for _, r in found})
        return hop(name, False, "%d message(s) to %s stuck in Postfix's queue: %s"
                   % (len({e.get("queue_id") for e, _ in found}), ", ".join(who), _reason(found)),
                   [_describe(e, r, now) for e, r in found],
                   look_at="postqueue -p; journalctl -u postfix (the relay or local delivery "
                   "named in the reason)")
    scope = ", ".join(recipients) if recipients else "mail from %s" % form_address(list_address, "bounces")
    return hop(name, True, "nothing for %s in Postfix's queue" % scope, look_at="postqueue -p")


def queue_files(queue_dir, exts=(".pck", ".bak")):
    """[(name, age_seconds)] of Mailman queue entries, oldest first; [] if the dir is missing.
    .bak is an entry a runner is working on right now."""
    now = time.time()
    try:
        names = os.listdir(queue_dir)
    except FileNotFoundError:
        return []
    found = []
    for fname in names:
        if os.path.splitext(fname)[1] in exts:
            try:
                age = now - os.stat(os.path.join(queue_dir, fname)).st_mtime
            except FileNotFoundError:  # a runner just finished it
                continue
            found.append((fname, max(0.0, age)))
    return sorted(found, key=lambda f: -f[1])


def log_records(path, max_bytes=TAIL_BYTES):
    """Records (multi-line: a traceback stays with its line) of the log's tail."""
    try:
        with open(path, "rb") as fp:
            fp.seek(0, os.SEEK_END)
            size = fp.tell()
            fp.seek(max(0, size - max_bytes))
            data = fp.read()
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # first line is cut
    records = []
    for line in lines:
        if _RECORD_START.match(line) or not records:
            records.append([line])
        else:
            records[-1].append(line)
    return records


def _condense(record):
    """First line, and for a traceback its exception line (the last non-blank one)."""
    lines = [line for line in record if line.strip()]
    if len(lines) > 1:
        return "%s ... %s" % (lines[0].strip(), lines[-1].strip())
    return lines[0].strip() if lines else ""


def log_errors(path, mentions, limit=4, pattern=_ERRORISH):
    """The last `limit` error-like records of a log that mention any of `mentions`."""
    picked = []
    for record in log_records(path):
        text = "\n".join(record)
        if pattern.search(text) and (not mentions or any(m in text for m in mentions)):
            picked.append(_condense(record))
    return picked[-limit:]


def log_tail(path, limit=5):
    return [_condense(r) for r in log_records(path)[-limit:]]


def _owner(path):
    uid = os.stat(path).st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "uid %d" % uid


def _ages(files):
    return ", ".join("%s (%ds)" % (n, a) for n, a in files[:3]) + (" ..." if len(files) > 3 else "")


def check_mailman_inbound(list_address, var_dir, log_dir, user="list"):
    name = "mailman_inbound"
    lid = list_id(list_address)
    queue = os.path.join(var_dir, "queue")
    mailman_log = os.path.join(log_dir, "mailman.log")
    detail = []
    problems = []  # (evidence, look_at), first one wins

    shunt = queue_files(os.path.join(queue, "shunt"), (".pck",))
    bad = queue_files(os.path.join(queue, "bad"), (".psv", ".pck", ".bak"))
    detail.append("shunt: %d, bad: %d" % (len(shunt), len(bad)))
    errors = log_errors(mailman_log, [list_address, lid, "PermissionError"])
    if shunt:
        problems.append(("%d message(s) in %s/shunt (Mailman hit an error processing them)%s"
                         % (len(shunt), queue, ": " + errors[-1] if errors else ""),
                         "%s; fix the cause, then mailman-wrapper unshunt" % mailman_log))
        detail.extend("mailman.log: " + e for e in errors)
    if bad:
        problems.append(("%d unreadable message(s) in %s/bad" % (len(bad), queue),
                         "%s ('Skipping and preserving unparseable message')" % mailman_log))

    list_dir = os.path.join(var_dir, "lists", lid)
    if not os.path.isdir(list_dir):
        detail.append("warning: %s does not exist (Mailman creates it with the list; "
                      "is the list created?)" % list_dir)
    else:
        owner = _owner(list_dir)
        detail.append("%s owned by %s" % (list_dir, owner))
        if owner != user:
            problems.insert(0, (
                "%s is owned by %s, not %s: every post shunts with PermissionError (the pipeline "
                "writes digest.mmdf there) while joins keep working" % (list_dir, owner, user),
                "chown -R %s:%s %s; then mailman-wrapper unshunt" % (user, user, list_dir)))
        else:
            strangers = []
            for fname in sorted(os.listdir(list_dir)):
                path = os.path.join(list_dir, fname)
                if _owner(path) != user:
                    strangers.append("%s (%s)" % (fname, _owner(path)))
            if strangers:
                problems.insert(0, (
                    "%s holds files not owned by %s: %s; posts shunt with PermissionError when "
                    "Mailman writes them" % (list_dir, user, ", ".join(strangers)),
                    "chown -R %s:%s %s" % (user, user, list_dir)))

    for qname in ("in", "pipeline"):
        files = queue_files(os.path.join(queue, qname))
        stale = [f for f in files if f[1] > STALE_SECONDS]
        if stale:
            problems.append((
                "%d message(s) in %s/%s older than %ds: the %s runner is not working them off"
                % (len(stale), queue, qname, STALE_SECONDS, qname),
                "systemctl status mailman3; %s" % mailman_log))
            detail.append("%s: %s" % (qname, _ages(files)))
        elif files:
            detail.append("warning: %d message(s) in %s/%s, newest runner work (%s)"
                          % (len(files), queue, qname, _ages(files)))
    if problems:
        evidence, look_at = problems[0]
        detail.extend("also: " + p[0] for p in problems[1:])
        return hop(name, False, evidence, detail, look_at=look_at)
    return hop(name, True, "nothing shunted or piling up for %s" % list_address, detail,
               look_at=mailman_log)


def check_mailman_outbound(list_address, var_dir, log_dir):
    name = "mailman_outbound"
    queue = os.path.join(var_dir, "queue")
    smtp_log = os.path.join(log_dir, "smtp.log")
    mailman_log = os.path.join(log_dir, "mailman.log")
    detail = []
    stale = {}
    for qname in ("out", "retry"):
        files = queue_files(os.path.join(queue, qname))
        if files:
            detail.append("%s: %s" % (qname, _ages(files)))
        stale[qname] = [f for f in files if f[1] > STALE_SECONDS]
    if not any(stale.values()):
        sent = [line for line in log_tail(smtp_log, 50) if " smtp to %s " % list_address in line]
        if sent:
            detail.append("smtp.log: " + sent[-1])
        return hop(name, True, "out and retry queues hold nothing older than %ds" % STALE_SECONDS,
                   detail, look_at=smtp_log)
    smtp_errors = log_errors(mailman_log, [], pattern=re.compile(
        r"Cannot connect to SMTP server|smtp error|recipients refused|response exception|"
        r"SMTP\w*(Error|Exception)"))
    detail.extend("smtp.log: " + line for line in log_tail(smtp_log))
    detail.extend("mailman.log: " + line for line in smtp_errors)
    parts = ["%d in %s/%s" % (len(f), queue, q) for q, f in stale.items() if f]
    evidence = "%s older than %ds: the out runner cannot hand mail to Postfix" % (
        " and ".join(parts), STALE_SECONDS)
    if smtp_errors:
        evidence += ": " + smtp_errors[-1]
    return hop(name, False, evidence, detail,
               look_at="[mta] smtp_host/smtp_port in mailman.cfg; is Postfix listening "
               "(ss -ltn)? %s" % smtp_log)


def queue_hops(list_address, recipients, run, now=None):
    """postfix_to_lmtp and postfix_delivery from one `postqueue -j`."""
    try:
        entries = read_postqueue(run)
    except ToolMissing as e:
        evidence, look = "%s not found: is postfix installed?" % e, "apt-get install postfix"
        return [hop("postfix_to_lmtp", False, evidence, look_at=look),
                hop("postfix_delivery", False, evidence, look_at=look)]
    except (RuntimeError, ValueError) as e:
        evidence, look = "cannot read Postfix's queue: %s" % e, "postqueue -p; systemctl status postfix"
        return [hop("postfix_to_lmtp", False, evidence, look_at=look),
                hop("postfix_delivery", False, evidence, look_at=look)]
    return [check_postfix_to_lmtp(list_address, entries, now),
            check_postfix_delivery(list_address, recipients, entries, now)]


# The hops in the order a list message takes them.
HOPS = ("postfix_routing", "lmtp", "postfix_to_lmtp", "mailman_inbound", "mailman_outbound",
        "postfix_delivery")


def trace(list_address, recipients, lmtp_host, lmtp_port, var_dir, log_dir, data_dir, run,
          timeout=10, only=HOPS):
    """The hops named in `only`, in the order a list message takes them."""
    checks = {
        "postfix_routing": lambda: check_postfix_routing(list_address, lmtp_host, lmtp_port, data_dir, run),
        "lmtp": lambda: check_lmtp(list_address, lmtp_host, lmtp_port, timeout, log_dir=log_dir),
        "mailman_inbound": lambda: check_mailman_inbound(list_address, var_dir, log_dir),
        "mailman_outbound": lambda: check_mailman_outbound(list_address, var_dir, log_dir),
    }
    queued = {}
    if "postfix_to_lmtp" in only or "postfix_delivery" in only:
        queued = dict(zip(("postfix_to_lmtp", "postfix_delivery"),
                          queue_hops(list_address, recipients, run)))
    return [queued[name] if name in queued else checks[name]() for name in HOPS if name in only]


def first_broken(hops):
    for h in hops:
        if not h["ok"]:
            return h
    return None
