# SPDX-License-Identifier: GPL-3.0-or-later
"""mailops' plugin for GNU Mailman 3.3: the posting pipeline's recipients at SQL speed.

Stock ``member-recipients`` asks every member for its delivery mode and status
in Python, each answer walking member -> address -> user preferences through
lazy loads: about five SQL statements and 1 ms per member, 12-15 s per post at
5,000 members. ``mailops-member-recipients`` computes the same set with one
SELECT, and ``mailops-posting-pipeline`` is the installed version's stock
posting pipeline with that one handler swapped (handler names are unique, so
the stock one cannot be replaced in place). A list opts in through its
``posting_pipeline`` setting.

Enabled in mailman.cfg with::

    [plugin.mailops]
    class: mailops_mailman_plugin.MailopsPlugin
    component_package: mailops_mailman_plugin
    enabled: yes

Mailman scans ``component_package`` for the ``handlers`` and ``pipelines``
subpackages of every ``[plugin.*]`` section, enabled or not (3.3.8 and
3.3.10): removing the section, not ``enabled: no``, is what takes the pipeline
away, and it must only happen after no list names the pipeline any more.

The package imports nothing outside Mailman and the standard library, so it
runs on whatever Mailman and SQLAlchemy the host has (Debian 12: 3.3.8 with
SQLAlchemy 1.4; Debian 13: 3.3.10 with SQLAlchemy 2.0).
"""

from mailman.interfaces.plugin import IPlugin
from public import public
from zope.interface import implementer


@public
@implementer(IPlugin)
class MailopsPlugin:
    """No hooks and no REST resource: the plugin is only its components."""

    def pre_hook(self):
        pass

    def post_hook(self):
        pass

    @property
    def resource(self):
        return None
