# SPDX-License-Identifier: GPL-3.0-or-later
"""mailman_cfg_section: the roles' reader of mailman.cfg is module_utils/mailman_cfg."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.mailops.mailman.plugins.filter.mailman_cfg import mailman_cfg_section

CFG = """\
[mailman]
site_owner: postmaster@local.edu

[webservice]
admin_pass: first
port: 8001

[webservice]
admin_pass = sec%ret with spaces
"""


def test_last_value_wins_whole_value_and_percent_literal():
    assert mailman_cfg_section(CFG, 'webservice')['admin_pass'] == 'sec%ret with spaces'


def test_schema_defaults_fill_unset_keys_unless_turned_off():
    assert mailman_cfg_section(CFG, 'webservice')['admin_user'] == 'restadmin'
    assert 'admin_user' not in mailman_cfg_section(CFG, 'webservice', defaults=False)


def test_no_file_no_section():
    assert mailman_cfg_section('', 'webservice', defaults=False) == {}
    assert mailman_cfg_section(None, 'webservice', defaults=False) == {}
    assert mailman_cfg_section(CFG, 'nosuch', defaults=False) == {}


def test_a_key_outside_the_section_is_not_read():
    text = '[database]\nadmin_pass: wrong\n[webservice]\nport: 1\n'
    assert 'admin_pass' not in mailman_cfg_section(text, 'webservice', defaults=False)


def test_unparseable_names_lines_never_values():
    with pytest.raises(AnsibleFilterError) as e:
        mailman_cfg_section('admin_pass: s3cret-before-any-section\n', 'webservice')
    assert 'line 1' in str(e.value)
    assert 's3cret' not in str(e.value)
