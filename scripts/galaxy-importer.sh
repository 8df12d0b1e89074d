#!/usr/bin/env bash
# Build the collection artifact and run galaxy-importer on it, as Galaxy and
# Automation Hub do on an upload: the artifact's metadata (galaxy.yml), every
# role's metadata and README, ansible-doc on every plugin, ansible-lint, the
# changelog.
# Exits non-zero when the importer reports an error.
#
# galaxy-importer pins its own ansible-lint and attrs, which clash with
# requirements.txt, so it gets a virtualenv of its own under .cache/, made
# once per pinned version. ansible-test is off (scripts/galaxy-importer.cfg):
# it needs Docker or Podman, and scripts/test.sh runs the sanity tests.
#
#   scripts/galaxy-importer.sh            build into .cache/galaxy-importer/out and import
#   scripts/galaxy-importer.sh FILE.tar.gz  import an artifact built elsewhere
set -euo pipefail
given=${1:+$(realpath "$1")}
cd "$(dirname "$0")/.."
root=$PWD

GALAXY_IMPORTER_VERSION=0.4.44
work=.cache/galaxy-importer
venv=$work/venv-$GALAXY_IMPORTER_VERSION
out=$work/out

log() { printf '== %s\n' "$*"; }

if [ ! -x "$venv/bin/python" ] || [ ! -e "$venv/.installed" ]; then
    log "creating $venv (galaxy-importer==$GALAXY_IMPORTER_VERSION)"
    rm -rf "$venv"
    mkdir -p "$work"
    python3 -m venv "$venv"
    if ! "$venv/bin/pip" install -q --disable-pip-version-check \
            "galaxy-importer==$GALAXY_IMPORTER_VERSION" >"$work/pip.log" 2>&1; then
        cat "$work/pip.log" >&2
        exit 1
    fi
    touch "$venv/.installed"
fi

if [ -n "$given" ]; then
    artifact=$given
else
    rm -rf "$out"
    mkdir -p "$out"
    log "building the collection into $out"
    "$venv/bin/ansible-galaxy" collection build --force --output-path "$out" . >/dev/null
    artifact=$(ls "$out"/*.tar.gz)
fi

log "galaxy-importer $GALAXY_IMPORTER_VERSION on $artifact"
# The importer's own ansible-lint and ansible-doc, never the project's.
export PATH="$root/$venv/bin:$PATH"
export GALAXY_IMPORTER_CONFIG="$root/scripts/galaxy-importer.cfg"
log_file=$work/importer.log
artifact=$(realpath "$artifact")
# It writes importer_result.json into the current directory: keep that out of
# the work tree (a later build would pack it). It exits 0 even when it logs
# errors for the content, so its log is read too.
status=0
(cd "$work" && "$root/$venv/bin/python" -m galaxy_importer.main "$artifact") 2>&1 \
    | tee "$log_file" || status=$?
if [ "$status" -ne 0 ] || grep -qE '^(ERROR|CRITICAL)|ImporterError' "$log_file"; then
    log "galaxy-importer: FAILED (log: $log_file)"
    exit 1
fi
log "galaxy-importer: passed"
