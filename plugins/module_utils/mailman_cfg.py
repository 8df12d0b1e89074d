# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one reader of mailman.cfg: what Mailman itself would read from it.

Mailman loads mailman.cfg with lazr.config, on top of its own schema.cfg.
lazr.config (ConfigSchema.load / Config.push, lazr/config/_config.py,
_getExtendedConfs) parses each file with ConfigParser(strict=False), so:

- a key given twice in a section is not an error: the LAST value wins;
- a section given twice is one section, its keys merged (again, the last wins);
- ':' and '=' both separate key and value, keys are case-insensitive, a line
  starting with '#' or ';' is a comment, an indented line continues a value;
- there is no interpolation: '%' is an ordinary character (a password may hold it);
- a key the file does not set has schema.cfg's default.

Python's configparser with the same settings reads exactly that, so this
file uses it rather than lazr.config, which the targets' Python may lack.
tests/unit/plugins/module_utils/test_mailman_cfg.py checks it against
lazr.config and Mailman's schema.cfg.
"""

from __future__ import annotations

import configparser

DEFAULT_PATH = '/etc/mailman3/mailman.cfg'

# Mailman's schema.cfg defaults for the sections read here: a mailman.cfg
# that does not set a key gets these from Mailman, so we must assume the same.
SCHEMA_DEFAULTS = {
    'webservice': {
        'hostname': 'localhost',
        'port': '8001',
        'use_https': 'no',
        'admin_user': 'restadmin',
        'admin_pass': 'restpass',
    },
}

# What reading the file can raise besides OSError (FileNotFoundError, PermissionError).
Error = configparser.Error


def parse(text, source='<string>'):
    """The parsed text of a mailman.cfg, as lazr.config parses it (see above)."""
    parser = configparser.RawConfigParser(strict=False)
    parser.read_string(text, source=source)
    return parser


def read(path=DEFAULT_PATH):
    """Parse the mailman.cfg at path; raises OSError or Error."""
    with open(path) as f:
        return parse(f.read(), source=path)


def section(parser, name):
    """One section's settings: schema.cfg's defaults, overridden by the file's."""
    settings = dict(SCHEMA_DEFAULTS.get(name, {}))
    if parser.has_section(name):
        settings.update(parser.items(name))
    return settings


def is_true(value):
    """lazr.config's as_boolean, which Mailman uses for flags such as use_https.

    as_boolean raises on a word it does not know (and Mailman then does not
    start); here that reads as false.
    """
    return str(value).strip().lower() in ('true', 'yes', '1', 'on', 'enabled', 'enable')
