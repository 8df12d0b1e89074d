# SPDX-License-Identifier: GPL-3.0-or-later
"""Each role's README says what the role's argument specs say.

roles/ROLE/README.md has one table | variable | default | meaning |. Every
option of roles/ROLE/meta/argument_specs.yml must have a row and every row an
option, with the same default. A row may name two variables,
`prefix_host` / `_port` (or both names in full), with defaults `A / B`; a
required option's default cell says "required". The collection's README
links every role's README under "## Role variables".

A default cell is read as YAML: its leading `code span`, else its text up to
a note that starts with " (" or ": " ("false (site.yml: true)"). A Jinja
default ("{{ ansible_facts['fqdn'] }}") is written without the braces; a
default that the spec describes in words is written in the same words.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / 'README.md'
# The roles that must be documented; any other role with argument specs is
# checked too.
ROLES = ('mailman3', 'postfix', 'verify')
TABLE_HEADER = ['variable', 'default', 'meaning']


def role_readme(role):
    return ROOT / 'roles' / role / 'README.md'


def code_spans_removed(text):
    return ' '.join(text.replace('`', '').split())


def table_rows(readme_text):
    """The cells of each row of the first | variable | default | meaning | table."""
    rows = None
    for line in readme_text.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')] if line.startswith('|') else None
        if rows is None:
            if cells == TABLE_HEADER:
                rows = []
            continue
        if cells is None:
            break  # the table ended
        if set(cells[0]) <= set('-: '):
            continue  # the rule under the header
        rows.append(cells)
    return rows or []


def row_variables(cell):
    """`a_host` / `_port` -> [a_host, a_port]."""
    names = re.findall(r'`([^`]+)`', cell)
    assert names, 'no `variable` in the first cell: %r' % cell
    first = names[0]
    return [first] + [first.rsplit('_', 1)[0] + n if n.startswith('_') else n for n in names[1:]]


def default_text(cell):
    """The default written in a cell: its leading `code span`, else its text up to a note."""
    match = re.match(r'`([^`]*)`', cell)
    if match:
        return match.group(1).strip()
    return re.split(r' \(|: ', cell, maxsplit=1)[0].strip()


def default_texts(cell, count):
    """The default written in a cell, one text per variable of the row."""
    if count == 1:
        return [default_text(cell)]
    parts = cell.split(' / ', count - 1)
    assert len(parts) == count, 'row of %d variables needs %d defaults "A / B": %r' % (count, count, cell)
    return [default_text(p) for p in parts]


def same_default(text, spec_default, cell, required=False):
    if required:
        return text == 'required'
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = object()
    # type() too: True == 1 in Python, not in the docs.
    if type(value) is type(spec_default) and value == spec_default:
        return True
    if isinstance(spec_default, str):
        jinja = re.fullmatch(r'\{\{\s*(.*?)\s*\}\}', spec_default)
        words = jinja.group(1) if jinja else spec_default
        # Jinja written bare, or a default the spec describes in words.
        return code_spans_removed(text) == words or code_spans_removed(cell) == code_spans_removed(words)
    return False


def readme_table(role, readme_text=None):
    """{variable: (default text, the whole cell)} from the table in the role's README."""
    if readme_text is None:
        readme_text = role_readme(role).read_text()
    rows = table_rows(readme_text)
    assert rows, 'roles/%s/README.md has no table | variable | default | meaning |' % role
    table = {}
    for cells in rows:
        assert len(cells) == 3, 'a row needs | variable | default | meaning |: %r' % cells
        names = row_variables(cells[0])
        for name, text in zip(names, default_texts(cells[1], len(names)), strict=True):
            assert name not in table, '%s has two rows in roles/%s/README.md' % (name, role)
            table[name] = (text, cells[1])
    return table


def spec_options(role):
    spec = yaml.safe_load((ROOT / 'roles' / role / 'meta' / 'argument_specs.yml').read_text())
    return spec['argument_specs']['main']['options']


def differences(role, readme_text=None):
    """What the README and the role's argument spec disagree on, one line each."""
    table = readme_table(role, readme_text)
    options = spec_options(role)
    problems = []
    for name in sorted(set(options) - set(table)):
        problems.append('%s: in argument_specs.yml, no row in the README' % name)
    for name in sorted(set(table) - set(options)):
        problems.append('%s: in the README, not in argument_specs.yml' % name)
    for name in sorted(set(table) & set(options)):
        text, cell = table[name]
        required = options[name].get('required', False)
        spec_default = 'required' if required else options[name].get('default')
        if not same_default(text, spec_default, cell, required):
            problems.append('%s: README default %r, argument_specs.yml %r' % (name, cell, spec_default))
    return problems


def documented_roles():
    return sorted(set(ROLES) | {p.parts[-3] for p in (ROOT / 'roles').glob('*/meta/argument_specs.yml')})


@pytest.mark.parametrize('role', documented_roles())
def test_role_readme_table_matches_argument_specs(role):
    assert role_readme(role).exists(), 'roles/%s/README.md is missing (galaxy-importer: "No role readme found")' % role
    problems = differences(role)
    assert not problems, 'roles/%s/README.md and roles/%s/meta/argument_specs.yml differ:\n  %s' % (
        role, role, '\n  '.join(problems))


def test_collection_readme_links_every_role_readme():
    part = README.read_text().split('\n## Role variables\n', 1)[1].split('\n## ', 1)[0]
    missing = [r for r in documented_roles() if '(roles/%s/README.md)' % r not in part]
    assert not missing, 'README.md "## Role variables" has no link to roles/ROLE/README.md for: %s' % missing


# The checker itself: each way of drifting is caught.
def test_a_missing_row_is_caught():
    text = role_readme('postfix').read_text()
    row = next(line for line in text.splitlines() if line.startswith('| `postfix_relayhost` |'))
    assert differences('postfix', text.replace(row + '\n', '')) == [
        'postfix_relayhost: in argument_specs.yml, no row in the README']


def test_an_extra_row_and_a_changed_default_are_caught():
    text = role_readme('mailman3').read_text()
    row = next(line for line in text.splitlines() if line.startswith('| `mailman3_mta_max_recipients` |'))
    text = text.replace(row, row.replace('| 1000 |', '| 10 |') + '\n| `mailman3_gone` | 1 | |')
    assert differences('mailman3', text) == [
        'mailman3_gone: in the README, not in argument_specs.yml',
        "mailman3_mta_max_recipients: README default '10', argument_specs.yml 1000"]


@pytest.mark.parametrize('text, spec_default, ok', [
    ('false', False, True),
    ('0', False, False),        # 0 == False in Python, not here
    ('true', 1, False),
    ('127.0.0.1', '127.0.0.1', True),
    ('8001', 8001, True),
    ('[]', [], True),
    ('{respond_to_post_requests: false}', {'respond_to_post_requests': False}, True),
    ('["$myhostname", localhost]', ['$myhostname', 'localhost'], True),
    ("ansible_facts['fqdn']", "{{ ansible_facts['fqdn'] }}", True),
    ('""', '', True),
    ('0.1s', '0.1s', True),
    ('1s', '0.1s', False),
])
def test_defaults_compare_by_value(text, spec_default, ok):
    assert same_default(text, spec_default, text) is ok


def test_two_variables_in_one_row():
    assert row_variables('`mailman3_rest_host` / `_port`') == ['mailman3_rest_host', 'mailman3_rest_port']
    assert default_texts('127.0.0.1 / 8001', 2) == ['127.0.0.1', '8001']
    assert default_texts('`""` (site.yml on an MX: the first core)', 1) == ['""']
    assert default_texts('false (site.yml: true)', 1) == ['false']
    assert default_texts('`127.0.0.1` / `25`', 2) == ['127.0.0.1', '25']
    assert row_variables('`verify_smtp_host` / `verify_smtp_port`') == ['verify_smtp_host', 'verify_smtp_port']


def test_a_required_option_needs_required_in_its_row():
    text = role_readme('verify').read_text()
    row = next(line for line in text.splitlines() if line.startswith('| `verify_lists` |'))
    assert differences('verify', text.replace(row, row.replace('| required |', '| `[]` |'))) == [
        "verify_lists: README default '`[]`', argument_specs.yml 'required'"]


def test_only_the_variable_table_is_read():
    text = ('| stage | file |\n|---|---|\n| join | join.yml |\n\n'
            '| variable | default | meaning |\n|---|---|---|\n| `a` | 1 | |\n\nafter\n')
    assert table_rows(text) == [['`a`', '1', '']]
