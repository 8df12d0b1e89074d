# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The trace's Postfix hops: routing of the list's addresses to Mailman's LMTP
(postfix_routing) and what Postfix's queue holds on the way to Mailman
(postfix_to_lmtp) and from the list to its subscribers (postfix_delivery).

Read-only: postconf, postmap -q and postqueue -j, through `run`.
"""

from __future__ import annotations

import json
import os
import re
import time

from ansible_collections.mailops.mailman.plugins.module_utils.mailman_address import (
    address_forms,
    form_address,
    form_of,
    split_address,
)
from ansible_collections.mailops.mailman.plugins.module_utils.trace_hop import ToolMissing, hop

# Forms a member's mail uses; each must reach Mailman for join/post/leave to work.
ROUTED_FORMS = ("posting", "join", "leave", "confirm")


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
    others = "/".join("-" + form for form in ROUTED_FORMS if form != "posting")
    return hop(name, True, "%s and its %s forms route to %s" % (list_address, others, wanted),
               detail, look_at=look)


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
    for _entry, rcpt in found:
        if rcpt.get("delay_reason"):
            return rcpt["delay_reason"]
    return "no delay reason yet (still in the %s queue)" % found[0][0].get("queue_name", "?")


def check_postfix_to_lmtp(list_address, entries, now=None):
    name = "postfix_to_lmtp"
    now = time.time() if now is None else now
    found = _stuck(entries, lambda entry, address: form_of(address, list_address) is not None)
    if found:
        return hop(name, False, "%d message(s) for %s stuck in Postfix's queue: %s"
                   % (len({e.get("queue_id") for e, _rcpt in found}), list_address, _reason(found)),
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
        who = sorted({r.get("address", "") for _entry, r in found})
        return hop(name, False, "%d message(s) to %s stuck in Postfix's queue: %s"
                   % (len({e.get("queue_id") for e, _rcpt in found}), ", ".join(who), _reason(found)),
                   [_describe(e, r, now) for e, r in found],
                   look_at="postqueue -p; journalctl -u postfix (the relay or local delivery "
                   "named in the reason)")
    scope = ", ".join(recipients) if recipients else "mail from %s" % form_address(list_address, "bounces")
    return hop(name, True, "nothing for %s in Postfix's queue" % scope, look_at="postqueue -p")


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
