#!/usr/bin/env bash
# ansible-test sanity and units on the older ansible-core versions that
# meta/runtime.yml admits (2.17, 2.18). Outside scripts/test.sh, which runs
# them on 2.19 only, to keep within its 60-minute budget; the last result is
# committed in results/ansible-test-older-cores.md.
#
#   scripts/older-cores.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
scripts/setup.sh || exit 1

failed=0
for core in 2.18 2.17; do
    for command in sanity units; do
        start=$SECONDS
        if scripts/ansible-test.sh "$core" "$command"; then
            echo "==== ansible-core $core $command: passed in $((SECONDS - start))s"
        else
            echo "==== ansible-core $core $command: FAILED in $((SECONDS - start))s"
            failed=$((failed + 1))
        fi
    done
done
[ "$failed" -eq 0 ]
