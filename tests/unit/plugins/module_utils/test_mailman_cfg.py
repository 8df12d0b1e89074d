# SPDX-License-Identifier: GPL-3.0-or-later
"""The one mailman.cfg reader against what Mailman itself reads: lazr.config
loading the file over Mailman's own schema.cfg (both from PyPI, as the
Mailman core of the other unit tests)."""
from __future__ import annotations

from importlib.resources import files

import pytest
from ansible_collections.mailops.mailman.plugins.module_utils import mailman_cfg
from lazr.config import ConfigSchema

SCHEMA = ConfigSchema(str(files("mailman.config") / "schema.cfg"))
KEYS = sorted(mailman_cfg.SCHEMA_DEFAULTS["webservice"])

CASES = {
    "no webservice section": "[mailman]\nsite_owner: root@localhost\n",
    "a key twice": "[webservice]\nadmin_pass: first\nadmin_pass: second\n",
    "a section twice": ("[webservice]\nadmin_pass: first\nport: 9001\n\n[mailman]\nsite_owner: a@b.c\n\n"
                        "[webservice]\nadmin_pass: second\nadmin_user = bob\n"),
    "percent, spaces and = in a value": "[webservice]\nadmin_pass: 100%s ecret=x\n",
    "both separators, any case": "[webservice]\nHostName = 127.0.0.1\nPORT: 8002\nuse_https: yes\n",
    "comments and a continued value": ("[webservice]\n# admin_pass: commented\n; port: 1\n"
                                       "admin_pass: one\n  two\n"),
    "a DEFAULT section": "[DEFAULT]\nadmin_user: everywhere\n[webservice]\nport: 8003\n",
}


@pytest.mark.parametrize("text", CASES.values(), ids=list(CASES))
def test_reads_webservice_as_mailman_does(tmp_path, text):
    path = tmp_path / "mailman.cfg"
    path.write_text(text)
    lazr = SCHEMA.load(str(path))["webservice"]
    ours = mailman_cfg.section(mailman_cfg.read(str(path)), "webservice")
    assert {k: ours[k] for k in KEYS} == {k: lazr[k] for k in KEYS}


def test_the_last_of_a_repeated_key_wins():
    # Spelled out, so the rule reads here and not only through lazr.config.
    parser = mailman_cfg.parse(CASES["a section twice"])
    assert mailman_cfg.section(parser, "webservice")["admin_pass"] == "second"
    assert mailman_cfg.section(parser, "webservice")["port"] == "9001"


def test_schema_defaults_are_mailmans():
    defaults = SCHEMA.load(str(files("mailman.config") / "mailman.cfg"))["webservice"]
    assert mailman_cfg.SCHEMA_DEFAULTS["webservice"] == {k: defaults[k] for k in KEYS}


@pytest.mark.parametrize("word,value", [
    ("yes", True), ("True", True), ("on", True), ("1", True), ("enabled", True), ("enable", True),
    ("no", False), ("false", False), ("off", False), ("0", False), ("disabled", False), ("maybe", False),
])
def test_is_true_is_lazr_as_boolean(word, value):
    assert mailman_cfg.is_true(word) is value


def test_a_file_that_is_not_ini_is_an_error(tmp_path):
    path = tmp_path / "mailman.cfg"
    path.write_text("admin_pass: no section header\n")
    with pytest.raises(mailman_cfg.Error):
        mailman_cfg.read(str(path))
