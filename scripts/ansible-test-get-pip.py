# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for get-pip.py, for ansible-test's ``--venv`` bootstrap.

ansible-test bootstraps pip into each empty virtualenv it creates with a
get-pip script downloaded from ci-files.testing.ansible.com, which is not
reachable from here. It runs a cached copy instead when one exists at
``~/.ansible/test/cache/get_pip_<version>.py``; scripts/ansible-test.sh writes
this file there, with @PIP_WHEEL@ replaced by the path of pip's own wheel from
PyPI. It is called as get-pip is:

    python get_pip.py --disable-pip-version-check pip==24.2 [--no-setuptools] [--no-wheel]

and installs those requirements with pip run from that wheel (a wheel of pip
is importable as it is).
"""
from __future__ import annotations

import os
import sys

WHEEL = '@PIP_WHEEL@'


def main() -> int:
    args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
    sys.path.insert(0, WHEEL)
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel
    return pip_main(['install', '--find-links', os.path.dirname(WHEEL)] + args)


if __name__ == '__main__':
    sys.exit(main())
