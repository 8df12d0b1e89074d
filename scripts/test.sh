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
#   MAILOPS_SUITES="bookworm" scripts/test.sh       only Debian 12
# Every scenario runs on Debian 12; the default scenario also on each further
# suite in MAILOPS_SUITES (Debian 13, trixie).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export MAILOPS_SUITES=${MAILOPS_SUITES:-bookworm trixie}
scripts/setup.sh || { echo "checks: 0 passed, 1 failed"; exit 1; }
export PATH="$PWD/.venv/bin:$PATH"
# Molecule and ansible-lint must resolve mailops.mailman.* from this checkout.
export ANSIBLE_COLLECTIONS_PATH="$PWD/collections"

passed=0 failed=0 failures=()
check() {
    local name=$1; shift
    local start=$SECONDS
    echo "==== $name: $*"
    if "$@"; then
        passed=$((passed + 1)); echo "==== $name: passed in $((SECONDS - start))s"
    else
        failed=$((failed + 1)); failures+=("$name"); echo "==== $name: FAILED in $((SECONDS - start))s"
    fi
}

check lint ansible-lint --profile production
check ruff ruff check .
# The development scripts (ansible-test's shellcheck sees only what ships).
check shellcheck shellcheck scripts/*.sh benchmarks/*.sh
check changelog antsibull-changelog lint
check plugin-docs antsibull-docs lint-collection-docs --plugin-docs .
# The full sanity set on every ansible-core that meta/runtime.yml admits.
check sanity-2.19 scripts/ansible-test.sh 2.19 sanity
check sanity-2.18 scripts/ansible-test.sh 2.18 sanity
check sanity-2.17 scripts/ansible-test.sh 2.17 sanity
check importer scripts/galaxy-importer.sh
if [ -n "${MOLECULE_SCENARIOS:-}" ]; then
    read -ra names <<<"$MOLECULE_SCENARIOS"
else
    names=()
    for dir in molecule/*/; do
        dir=${dir%/}
        [ "${dir##*/}" = shared ] || names+=("${dir##*/}")
    done
fi
# Space-separated and padded, so " default " can be matched below.
scenarios=" ${names[*]} "
for scenario in $scenarios; do
    check "molecule-$scenario" env MAILOPS_SUITE=bookworm molecule test -s "$scenario"
done
for suite in $MAILOPS_SUITES; do
    [ "$suite" = bookworm ] && continue
    case "$scenarios" in *" default "*)
        check "molecule-default-$suite" env MAILOPS_SUITE="$suite" molecule test -s default ;;
    esac
done
# The built artifact, installed as a user would, deployed and verified.
check artifact scripts/artifact-test.sh
check unit scripts/ansible-test.sh 2.19 units

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
