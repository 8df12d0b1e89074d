#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run ansible-playbook / ansible commands that must fail, a few at a time, on the controller.

usage: run_bad_input.py SPEC.json JOBS, where SPEC.json is
  {inventory, host, workdir, vars: [{case, expect, vars}], args: [{case, expect, module, args}]}
Each `vars` case becomes `ansible-playbook -i INVENTORY playbooks/site.yml -e
@WORKDIR/badvars-N.json` (JSON is YAML); each `args` case `ansible HOST -m
mailops.mailman.MODULE -a JSON`. Runs them from the current directory, JOBS at
once; prints a JSON list of {case, kind, handled, detail}. A case is handled when the
command failed (rc != 0), its failure text matches `expect` (a regex, case-
insensitive: the variable or argument it must name), and the recap shows no
change on any host.
"""
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

# The first failure's message, up to where Ansible starts quoting the task
# (which for an argument spec lists every option name, named or not).
FAILURE = re.compile(r"(?s)(\[ERROR\]|fatal:|failed:|FAILED!).*?(?=Origin:|PLAY RECAP|\Z)")
CHANGED = re.compile(r"\bchanged=(\d+)")
# Which tasks changed something, to say so when a case changed the host.
CHANGED_TASK = re.compile(r"(?s)TASK \[([^\]]*)\][^\n]*\n(?:(?!TASK \[).)*?changed: \[")


def run(case):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    p = subprocess.run(case["argv"], capture_output=True, text=True, env=env, check=False)
    out = p.stdout + p.stderr
    # Every failure block (the [ERROR] summary and the fatal: result with the
    # module's stderr), each without the task source quoted after Origin:.
    blocks = [m.group(0) for m in FAILURE.finditer(out)]
    failure = re.sub(r"\s+", " ", " ".join(blocks) if blocks else out[-600:])
    named = re.search(case["expect"], failure, re.I) is not None
    changed = sum(int(n) for n in CHANGED.findall(out))
    problems = []
    if p.returncode == 0:
        problems.append("did NOT fail")
    if not named:
        problems.append("message does not name /%s/" % case["expect"])
    if changed:
        problems.append("CHANGED %d things on the host (%s)" % (changed, " | ".join(CHANGED_TASK.findall(out))[:200]))
    return {
        "case": case["case"],
        "kind": case["kind"],
        "handled": not problems,
        "detail": "; ".join(problems + ["rc %d: %s" % (p.returncode, failure[:400])]),
    }


def commands(spec):
    cases = []
    for n, c in enumerate(spec["vars"]):
        path = os.path.join(spec["workdir"], "badvars-%d.json" % n)
        with open(path, "w") as f:
            json.dump(c["vars"], f)
        cases.append({"case": c["case"], "kind": "role variable", "expect": c["expect"],
                      "argv": ["ansible-playbook", "-i", spec["inventory"], "--limit", spec["host"],
                               "playbooks/site.yml", "-e", "@" + path]})
    for c in spec["args"]:
        cases.append({"case": c["case"], "kind": "module argument", "expect": c["expect"],
                      "argv": ["ansible", spec["host"], "-i", spec["inventory"], "-m", "mailops.mailman." + c["module"],
                               "-a", json.dumps(c["args"])]})
    return cases


def main():
    with open(sys.argv[1]) as f:
        cases = commands(json.load(f))
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(run, cases))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
