# SPDX-License-Identifier: GPL-3.0-or-later
from ansible_collections.mailops.mailman.plugins.filter.postconf import postconf_lines


def test_values_are_written_as_postfix_reads_them():
    assert postconf_lines({
        "disable_vrfy_command": True,
        "smtputf8_enable": False,
        "mydestination": ["local.edu", "$myhostname"],
        "message_size_limit": 10240000,
        "relayhost": None,
        "local_recipient_maps": "proxy:unix:passwd.byname $alias_maps",
    }) == [
        "disable_vrfy_command=yes",
        "smtputf8_enable=no",
        "mydestination=local.edu, $myhostname",
        "message_size_limit=10240000",
        "relayhost=",
        "local_recipient_maps=proxy:unix:passwd.byname $alias_maps",
    ]
