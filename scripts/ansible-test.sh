#!/usr/bin/env bash
# ansible-test against one ansible-core minor version, from this checkout:
#
#   scripts/ansible-test.sh 2.19 sanity
#   scripts/ansible-test.sh 2.18 units
#   scripts/ansible-test.sh 2.17 sanity --test validate-modules
#
# 1. a virtualenv per minor version, .cache/ansible-core-2.NN, with the pinned
#    patch release below (created once, reused);
# 2. the collection's files (tracked, and untracked but not ignored, so
#    uncommitted work is tested too) copied to
#    .cache/ansible-test/ansible_collections/mailops/mailman: ansible-test only
#    runs from a path ending in ansible_collections/NS/NAME, and the symlink
#    under collections/ does not count (getcwd resolves it);
# 3. pip's bootstrap for `--venv` made from PyPI's pip wheel
#    (scripts/ansible-test-get-pip.py): ansible-test would download get-pip from
#    ci-files.testing.ansible.com, which is not reachable from here;
# 4. `ansible-test COMMAND --venv --python 3.11 ARGS...` in the copy.
#
# ansible-core 2.20 and later need Python 3.12+, which this Debian 12 machine
# does not have (see requires_ansible in meta/runtime.yml).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

usage() { echo "usage: $0 2.17|2.18|2.19 sanity|units|... [ansible-test args...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
core=$1 command=$2
shift 2

# The patch release tested for each minor version; bump deliberately.
case "$core" in
    2.17) pin=2.17.14 ;;
    2.18) pin=2.18.19 ;;
    2.19) pin=2.19.14 ;;
    *) usage ;;
esac
python=${ANSIBLE_TEST_PYTHON:-3.11}

log() { printf '== %s\n' "$*" >&2; }

# The shellcheck sanity test needs the tool on PATH; scripts/setup.sh installs it.
if [ "$command" = sanity ] && ! command -v shellcheck >/dev/null; then
    echo "shellcheck is not installed: run scripts/setup.sh (or apt-get install shellcheck)" >&2
    exit 1
fi

# 1. The ansible-core virtualenv, rebuilt only when the pin changes.
venv=$root/.cache/ansible-core-$core
if [ "$(cat "$venv/.pin" 2>/dev/null)" != "$pin" ]; then
    log "creating $venv with ansible-core==$pin"
    rm -rf "$venv"
    "python$python" -m venv "$venv"
    if ! { "$venv/bin/pip" install -q --upgrade pip && "$venv/bin/pip" install -q "ansible-core==$pin"; } \
            >"$venv.pip.log" 2>&1; then
        tail -30 "$venv.pip.log" >&2
        exit 1
    fi
    echo "$pin" >"$venv/.pin"
fi

# 2. The collection as it ships: the files git sees (ignored files such as
#    .venv and .cache stay out) minus galaxy.yml's build_ignore (Molecule,
#    scripts, benchmarks: development tooling, linted by ruff and shellcheck in
#    scripts/test.sh), so the ignore files in tests/sanity/ hold for the built
#    artifact too. What left the tree leaves the copy too, except ansible-test's
#    own output (tests/output). The copy is a git repository of its own, with
#    nothing committed: ansible-test lists a collection's files with git, and
#    would otherwise find this checkout's repository, where .cache is ignored.
dest=$root/.cache/ansible-test/ansible_collections/mailops/mailman
files=$root/.cache/ansible-test/files
mkdir -p "$dest"
[ -d "$dest/.git" ] || git init -q "$dest"
# ansible-test's own output (a units run leaves its delegation virtualenv
# there) is not content: without this, the next sanity run lints it.
echo "/tests/output/" >"$dest/.git/info/exclude"
# (a tracked file deleted in the working tree is listed too: leave it out;
# a path is build-ignored when it or a directory above it matches a pattern,
# as ansible-galaxy collection build decides)
git ls-files -co --exclude-standard -z | "$venv/bin/python" -c '
import fnmatch, os, sys
import yaml
with open("galaxy.yml") as f:
    patterns = yaml.safe_load(f).get("build_ignore") or []
def shipped(path):
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return not any(fnmatch.fnmatch(p, pat) for p in prefixes for pat in patterns)
paths = [p.decode() for p in sys.stdin.buffer.read().split(b"\0") if p]
sys.stdout.buffer.write(b"".join(p.encode() + b"\0" for p in paths if os.path.lexists(p) and shipped(p)))
' >"$files"
tar --null -T "$files" -cf - | tar -C "$dest" -xf -
python3 - "$dest" "$files" <<'PY'
import os, sys
dest, listing = sys.argv[1], sys.argv[2]
with open(listing, 'rb') as f:
    wanted = {p.decode() for p in f.read().split(b'\0') if p}
for top, dirs, names in os.walk(dest, topdown=False):
    rel_top = os.path.relpath(top, dest)
    if rel_top.split(os.sep)[0] == '.git' or rel_top.startswith(os.path.join('tests', 'output')):
        continue
    for name in names + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
        if os.path.normpath(os.path.join(rel_top, name)) not in wanted:
            os.unlink(os.path.join(top, name))
    if top != dest and not os.listdir(top):
        os.rmdir(top)
PY

# 3. pip's bootstrap: the pip version ansible-test wants for this Python, its
#    wheel from PyPI, and a get-pip stand-in that installs from that wheel, at
#    the cache path ansible-test looks in before downloading.
pip_version=$("$venv/bin/python" - "$python" <<'PY'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))['pip'])
PY
)
wheels=$root/.cache/pip-bootstrap
mkdir -p "$wheels"
wheel=$(find "$wheels" -name "pip-$pip_version-*.whl" | head -1)
if [ -z "$wheel" ]; then
    log "downloading pip $pip_version for ansible-test's --venv bootstrap"
    "$venv/bin/pip" download -q --no-deps --only-binary :all: -d "$wheels" "pip==$pip_version"
    wheel=$(find "$wheels" -name "pip-$pip_version-*.whl" | head -1)
fi
get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$get_pip")"
sed "s|@PIP_WHEEL@|$wheel|" scripts/ansible-test-get-pip.py >"$get_pip.tmp"
mv "$get_pip.tmp" "$get_pip"

# 4. ansible-test itself, in the staged copy.
cd "$dest"
export PATH="$venv/bin:$PATH"
log "ansible-test $command --venv --python $python $* (ansible-core $pin)"
exec ansible-test "$command" --venv --python "$python" "$@"
