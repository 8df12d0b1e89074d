#!/usr/bin/env bash
# The test suite, as CI runs it (.ci/run): set-up, ansible-lint (production
# profile), ruff (ruff.toml), the changelog and plugin docs linters,
# ansible-test sanity, galaxy-importer, every Molecule scenario (real
# containers, real Postfix and Mailman, real mailboxes), the installed artifact
# deployed and verified, and the unit tests under ansible-test (real LMTP
# peers, real mailboxes, a real Mailman core from PyPI). Every step runs even
# when one fails; the last line counts them.
#
#   scripts/test.sh                                 everything
#   MOLECULE_SCENARIOS="default" scripts/test.sh    only these scenarios
# Every scenario runs on Debian 12; the default scenario on Debian 13 too, in
# the same run (its second host). Budget: 60 minutes on 2 cores (the last
# run: results/test-command.md). What does not fit has a command of its own
# and a committed result: sanity and units on the older ansible-core versions
# (scripts/older-cores.sh), the benchmarks (benchmarks/run.sh).
#
# Two lanes run side by side, since most of a scenario's time is Ansible
# waiting, not CPU: the default scenario in the foreground; in the background
# the linters, sanity, galaxy-importer, the artifact, the unit tests, then the
# other scenarios but resilience. The background lane's output is printed
# when it is done. The resilience scenario, whose faults are timed, runs last
# and alone.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# Both base images, whatever the caller's environment says: the default
# scenario has a host on each.
export MAILOPS_SUITES="bookworm trixie"
scripts/setup.sh || { echo "checks: 0 passed, 1 failed"; exit 1; }
export PATH="$PWD/.venv/bin:$PATH"
# Molecule and ansible-lint must resolve mailops.mailman.* from this checkout.
export ANSIBLE_COLLECTIONS_PATH="$PWD/collections"

mkdir -p .cache
outcomes=.cache/test-outcomes background_log=.cache/test-background.log
: >"$outcomes"
check() {
    local name=$1; shift
    local start=$SECONDS
    echo "==== $name: $*"
    if "$@"; then
        echo "==== $name: passed in $((SECONDS - start))s"; echo "passed $name" >>"$outcomes"
    else
        echo "==== $name: FAILED in $((SECONDS - start))s"; echo "FAILED $name" >>"$outcomes"
    fi
}

if [ -n "${MOLECULE_SCENARIOS:-}" ]; then
    read -ra names <<<"$MOLECULE_SCENARIOS"
else
    names=()
    for dir in molecule/*/; do
        dir=${dir%/}
        [ "${dir##*/}" = shared ] || names+=("${dir##*/}")
    done
fi
scenario() {
    # Debian 12 for every platform that names no suite of its own.
    check "molecule-$1" env MAILOPS_SUITE=bookworm molecule test -s "$1"
}

background() {
    check lint ansible-lint --profile production
    check ruff ruff check .
    # The development scripts (ansible-test's shellcheck sees only what ships).
    check shellcheck shellcheck scripts/*.sh benchmarks/*.sh
    check changelog antsibull-changelog lint
    check plugin-docs antsibull-docs lint-collection-docs --plugin-docs .
    # The full sanity set on the newest ansible-core that meta/runtime.yml
    # admits (the older ones: scripts/older-cores.sh).
    check sanity-2.19 scripts/ansible-test.sh 2.19 sanity
    check importer scripts/galaxy-importer.sh
    # The built artifact, installed as a user would, deployed and verified.
    check artifact scripts/artifact-test.sh
    check unit scripts/ansible-test.sh 2.19 units
    local name
    for name in "${names[@]}"; do
        case "$name" in default|resilience) ;; *) scenario "$name" ;; esac
    done
}
background >"$background_log" 2>&1 &
background_pid=$!
finish_background() {
    [ -n "$background_pid" ] || return 0
    wait "$background_pid"
    background_pid=
    echo "==== the background lane's output ($background_log):"
    cat "$background_log"
}

for name in "${names[@]}"; do
    [ "$name" = default ] && scenario default
done
finish_background
for name in "${names[@]}"; do
    [ "$name" = resilience ] && scenario resilience
done

passed=$(grep -c '^passed ' "$outcomes")
failed=$(grep -c '^FAILED ' "$outcomes")
[ "$failed" -gt 0 ] && echo "failed: $(sed -n 's/^FAILED //p' "$outcomes" | tr '\n' ' ')"
echo "checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
