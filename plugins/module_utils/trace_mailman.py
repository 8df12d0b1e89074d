# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The trace's Mailman hops: what Mailman did with list mail once it had it.

mailman_inbound: the shunt and bad queues, the list's data directory and its
owner, the in and pipeline queues; mailman_outbound: the out and retry
queues, with the lines of mailman.log and smtp.log that say why. Reads
files only.
"""

from __future__ import annotations

import os
import pwd
import re
import time

from ansible_collections.mailops.mailman.plugins.module_utils.mailman_address import list_id
from ansible_collections.mailops.mailman.plugins.module_utils.trace_hop import hop

# A queue entry older than this is stuck; younger ones are runner work in progress.
STALE_SECONDS = 60
TAIL_BYTES = 256 * 1024
# Mailman's log format is "%(asctime)s (%(process)d) %(message)s" with
# datefmt "%b %d %H:%M:%S %Y"; gunicorn lines start with "[".
_RECORD_START = re.compile(r"^(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d \d{4} \(\d+\) |\[)")
_ERRORISH = re.compile(r"Uncaught runner exception|SHUNTING|Traceback|Error\b|error:|[Ee]xception"
                       r"|refused|Cannot connect")


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
