# SPDX-License-Identifier: GPL-3.0-or-later
"""mailops' plugin for GNU Mailman 3.3: posts at SQL speed, each distributed once, none cut by a restart.

- ``handlers/recipients.py``: ``mailops-member-recipients``, stock
  ``member-recipients``' set in one SELECT instead of about five SQL
  statements per member (12-15 s per post at 5,000 members).
- ``handlers/duplicates.py``: ``mailops-drop-duplicate`` and
  ``mailops-remember-post``: a post the list already distributed (re-sent by
  Postfix after a lost LMTP reply, restored from a killed runner's queue
  file) is not distributed again.
- ``pipelines/posting.py``: ``mailops-posting-pipeline``, the installed
  version's stock posting pipeline with those handlers in (handler names are
  unique, so a stock one cannot be replaced in place). A list opts in through
  its ``posting_pipeline`` setting.
- ``runners.py``: the stock runners, the queue runners finishing the message
  in hand when told to stop (selected per runner in mailman.cfg).
- ``outage.py``: a database outage or a full disk is waited out: queue
  runners put the message back and retry instead of shunting it, the LMTP
  runner answers 451 instead of 500 or 550.
- ``handlers/digest_lock.py``: ``mailops-clear-digest-lock``: a process
  killed while it held a list's digest mailbox does not make every later
  post to the list shunt.
- ``handlers/loops.py``: ``mailops-drop-loop``: a post that came back to its
  own list, or an automatic reply, is not distributed.
- ``commands.py``: mail commands answered at most
  ``max_autoresponses_per_day`` times a day per sender and list.
- ``master.py``: on 3.3.8 the master restarts a runner that died, as on
  3.3.10 (the plugin's pre_hook).

Enabled in mailman.cfg with::

    [plugin.mailops]
    class: mailops_mailman_plugin.MailopsPlugin
    component_package: mailops_mailman_plugin
    enabled: yes

Mailman scans ``component_package`` for the ``handlers`` and ``pipelines``
subpackages of every ``[plugin.*]`` section, enabled or not (3.3.8 and
3.3.10): removing the section, not ``enabled: no``, is what takes the pipeline
away, and it must only happen after no list names the pipeline any more.

The package imports nothing outside Mailman, what Mailman itself imports
(SQLAlchemy, public, zope.interface) and the standard library, so it
runs on whatever Mailman and SQLAlchemy the host has (Debian 12: 3.3.8 with
SQLAlchemy 1.4; Debian 13: 3.3.10 with SQLAlchemy 2.0).
"""

from mailman.interfaces.plugin import IPlugin
from public import public
from zope.interface import implementer

from mailops_mailman_plugin.master import is_master, restart_crashed_runners, wake_on_child_exit


@public
@implementer(IPlugin)
class MailopsPlugin:
    """Its components, and one hook: the master restarts runners that die (master.py)."""

    def pre_hook(self):
        if is_master():
            wake_on_child_exit()
            restart_crashed_runners()

    def post_hook(self):
        pass

    @property
    def resource(self):
        return None
