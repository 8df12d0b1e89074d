# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's main() in-process, the way community.general's unit tests do.

exit_json/fail_json are patched to raise, so a test gets the module's result
as a dict instead of the process exiting. Nothing else is mocked: the module
talks to whatever real peer the test started.
"""
from __future__ import annotations

import contextlib
import json
from unittest import mock

import pytest
from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19 (meta/runtime.yml supports 2.17 and 2.18)

    @contextlib.contextmanager
    def patch_module_args(args):
        """What 2.19's patch_module_args does, the way modules read their arguments before 2.19."""
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()):
            yield

try:
    from ansible.module_utils import _internal
except ImportError:  # ansible-core < 2.19: no controller/target split to patch
    _internal = None


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def _fail_json(self, **kwargs):
    kwargs["failed"] = True
    raise AnsibleFailJson(kwargs)


def run_module(module, args, check_mode=False, diff=False):
    """Run module.main() with args; return (ok, result)."""
    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    # Round-trip through JSON so the module sees exactly what Ansible would send.
    args = json.loads(json.dumps(args))
    # A module runs on the target, where no controller code is loaded. Once a
    # test has imported the controller (a filter plugin's AnsibleFilterError
    # does), warn() would go to the screen instead of the module's result.
    with contextlib.ExitStack() as stack:
        stack.enter_context(patch_module_args(args))
        stack.enter_context(mock.patch.multiple(basic.AnsibleModule, exit_json=_exit_json, fail_json=_fail_json))
        if hasattr(_internal, "is_controller"):
            stack.enter_context(mock.patch.object(_internal, "is_controller", False))
        try:
            module.main()
        except AnsibleExitJson as e:
            return True, e.args[0]
        except AnsibleFailJson as e:
            return False, e.args[0]
    pytest.fail("module returned without calling exit_json or fail_json")
