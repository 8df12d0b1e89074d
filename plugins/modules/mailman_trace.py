#!/usr/bin/python
# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mailman_trace
short_description: Name the hop where list mail got lost between Postfix and Mailman 3
description:
  - Runs on the list server and walks the path of list mail hop by hop, in order,
    returning one verdict per hop and the first broken one.
  - C(postfix_routing) - Postfix routes the list address and its C(-join), C(-leave) and
    C(-confirm) forms to Mailman's LMTP (C(transport_maps), C(postmap -q),
    C(recipient_delimiter), C(local_recipient_maps) when the domain is in C(mydestination)).
  - C(lmtp) - Mailman's LMTP runner answers and accepts C(RCPT) for the list
    (C(LHLO), C(MAIL FROM), C(RCPT), C(RSET), C(QUIT); nothing is delivered).
  - C(postfix_to_lmtp) - nothing for the list is stuck in Postfix's queue (C(postqueue -j)).
  - C(mailman_inbound) - nothing in Mailman's C(shunt) or C(bad) queues, the list's data
    directory is owned by the Mailman user, C(in) and C(pipeline) are not piling up.
  - C(mailman_outbound) - C(out) and C(retry) hold nothing older than 60 seconds.
  - C(postfix_delivery) - nothing for O(recipients), or sent by the list, is stuck in
    Postfix's queue.
  - The last hop, the subscriber's mailbox, is checked by M(mailops.mailman.mailbox_check).
  - Strictly read-only; every hop is checked even after a broken one, so the result shows
    the whole path.
author:
  - mailops.mailman contributors (@mailops)
extends_documentation_fragment:
  - mailops.mailman.attributes
options:
  list:
    description:
      - Posting address of the list, for example C(reading-group@lists.example.org).
    type: str
    required: true
  hops:
    description:
      - Check only these hops. With MX front ends, run the Postfix hops on the MX
        and the Mailman hops on the core, and read the two results together.
    type: list
    elements: str
    choices: [postfix_routing, lmtp, postfix_to_lmtp, mailman_inbound, mailman_outbound, postfix_delivery]
    default: [postfix_routing, lmtp, postfix_to_lmtp, mailman_inbound, mailman_outbound, postfix_delivery]
  recipients:
    description:
      - Subscriber addresses that should have got the message; Postfix's queue is
        searched for them in the C(postfix_delivery) hop.
    type: list
    elements: str
    default: []
  lmtp_host:
    description:
      - Mailman's C([mta] lmtp_host).
    type: str
    default: 127.0.0.1
  lmtp_port:
    description:
      - Mailman's C([mta] lmtp_port).
    type: int
    default: 8024
  lmtp_timeout:
    description:
      - Seconds to wait for the LMTP connection and each reply.
    type: float
    default: 10
  mailman_var_dir:
    description:
      - Mailman's C(var_dir); its C(queue/) and C(lists/) are inspected.
    type: path
    default: /var/lib/mailman3
  mailman_log_dir:
    description:
      - Mailman's C(log_dir), holding C(mailman.log) and C(smtp.log).
    type: path
    default: /var/log/mailman3
  mailman_data_dir:
    description:
      - Mailman's C(data_dir), holding the generated C(postfix_lmtp) map.
      - Defaults to C(<mailman_var_dir>/data).
    type: path
  fail_on_broken:
    description:
      - Fail when a hop is broken, with a message naming the hop, what was seen and
        where to look next.
      - With V(false) the module succeeds and the caller inspects RV(broken_hop).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details:
      - Nothing is ever changed, so check mode runs every check.
  diff_mode:
    support: none
notes:
  - Runs as root on the list server; uses only the Python standard library and Postfix's
    C(postconf), C(postmap) and C(postqueue).
  - A message waiting in C(in), C(pipeline), C(out) or C(retry) for less than 60 seconds
    is reported as a warning in the hop's RV(hops[].detail) and does not break the hop.
seealso:
  - module: mailops.mailman.lmtp_probe
  - module: mailops.mailman.mailbox_check
"""

EXAMPLES = r"""
- name: Find where the test post went missing
  mailops.mailman.mailman_trace:
    list: reading-group@lists.example.org
    recipients: [bob@example.org, carol@example.org]

- name: Collect the verdict without failing, for an assertion
  mailops.mailman.mailman_trace:
    list: reading-group@local.edu
    recipients: [u1@local.edu, u2@local.edu]
    fail_on_broken: false
  register: trace

- name: Expect the LMTP hop to be the broken one while mailman3 is stopped
  ansible.builtin.assert:
    that: trace.broken_hop == 'lmtp'
    fail_msg: "{{ trace.msg }}"
"""

RETURN = r"""
order:
  description: >-
    The name of every hop in the order list mail takes them, whether checked here or not
    (see O(hops)): to put the hops of two runs (an MX and the core) in order without
    repeating the order elsewhere.
  returned: always
  type: list
  elements: str
  sample: [postfix_routing, lmtp, postfix_to_lmtp, mailman_inbound, mailman_outbound, postfix_delivery]
hops:
  description: One entry per checked hop, in the order list mail takes them (RV(order)).
  returned: always
  type: list
  elements: dict
  contains:
    hop:
      description: >-
        Hop name, one of C(postfix_routing), C(lmtp), C(postfix_to_lmtp),
        C(mailman_inbound), C(mailman_outbound), C(postfix_delivery).
      type: str
      sample: lmtp
    ok:
      description: Whether the hop works.
      type: bool
    evidence:
      description: One line saying what was seen.
      type: str
      sample: >-
        nothing listening on 127.0.0.1:8024 (connection refused): is mailman3 running and
        is [mta] lmtp_host/lmtp_port right? see /var/log/mailman3/mailman.log
    detail:
      description: Supporting lines (settings read, replies, queue entries, log lines, warnings).
      type: list
      elements: str
    look_at:
      description: What to look at next.
      type: str
      sample: systemctl status mailman3; /var/log/mailman3/mailman.log
broken_hop:
  description: Name of the first hop that is not ok; null when all are.
  returned: always
  type: str
  sample: mailman_inbound
msg:
  description: The verdict in one line.
  returned: always
  type: str
  sample: "broken hop: lmtp: nothing listening on 127.0.0.1:8024 (connection refused): ...; look at: ..."
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_address import split_address
from ansible_collections.mailops.mailman.plugins.module_utils.mailtrace import (
    HOPS,
    first_broken,
    trace,
)
from ansible_collections.mailops.mailman.plugins.module_utils.trace_hop import ToolMissing


def command_runner(module):
    def run(argv):
        # Postfix's tools live in /usr/sbin, which a non-login PATH may lack.
        path = module.get_bin_path(argv[0], opt_dirs=["/usr/sbin", "/sbin"])
        if path is None:
            raise ToolMissing(argv[0])
        # LC_ALL=C: the checks read postconf/postqueue output, not a translation of it.
        return module.run_command([path] + list(argv[1:]), environ_update=dict(LC_ALL="C"))
    return run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            list=dict(type="str", required=True),
            recipients=dict(type="list", elements="str", default=[]),
            lmtp_host=dict(type="str", default="127.0.0.1"),
            lmtp_port=dict(type="int", default=8024),
            lmtp_timeout=dict(type="float", default=10),
            mailman_var_dir=dict(type="path", default="/var/lib/mailman3"),
            mailman_log_dir=dict(type="path", default="/var/log/mailman3"),
            mailman_data_dir=dict(type="path"),
            fail_on_broken=dict(type="bool", default=True),
            hops=dict(type="list", elements="str", choices=list(HOPS), default=list(HOPS)),
        ),
        supports_check_mode=True,
    )
    p = module.params
    # The order is returned even on bad input, so a caller can always sort by it.
    empty = dict(hops=[], broken_hop=None, order=list(HOPS))
    try:
        split_address(p["list"])
    except ValueError as e:
        module.fail_json(msg=str(e), **empty)
    if not 0 < p["lmtp_timeout"] <= 3600:
        module.fail_json(msg="lmtp_timeout=%r: give the seconds to wait for LMTP, more than 0 and "
                             "at most 3600" % p["lmtp_timeout"], **empty)
    if not 1 <= p["lmtp_port"] <= 65535:
        module.fail_json(msg="lmtp_port=%r is not a TCP port (1-65535)" % p["lmtp_port"], **empty)
    data_dir = p["mailman_data_dir"] or os.path.join(p["mailman_var_dir"], "data")

    hops = trace(p["list"], p["recipients"], p["lmtp_host"], p["lmtp_port"],
                 p["mailman_var_dir"], p["mailman_log_dir"], data_dir,
                 command_runner(module), timeout=p["lmtp_timeout"], only=p["hops"])
    broken = first_broken(hops)
    result = dict(changed=False, hops=hops, broken_hop=broken["hop"] if broken else None,
                  order=list(HOPS))
    if broken is None:
        result["msg"] = "all hops ok for %s, up to the mailboxes (check those with mailbox_check)" % p["list"]
        module.exit_json(**result)
    result["msg"] = "broken hop: %s: %s; look at: %s" % (broken["hop"], broken["evidence"], broken["look_at"])
    if p["fail_on_broken"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
