#!/usr/bin/env bash
# Everything a fresh Debian machine lacks, idempotent and cached:
#   Docker engine + debootstrap (apt), dockerd running, the pinned virtualenv
#   (.venv), and the local systemd base image(s).
# Called by scripts/demo.sh and scripts/test.sh; safe to run again.
#
# MAILOPS_IMAGE=<image>   use your own systemd image; nothing is debootstrapped
# MAILOPS_SUITES="bookworm trixie"   which base images to build (default bookworm)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
# Debian's python3 has no venv/ensurepip until python3-venv is installed.
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    if [ -d /run/systemd/system ]; then
        systemctl start docker
    else
        nohup dockerd >/var/log/dockerd.log 2>&1 &
    fi
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi

# Reinstall the venv only when requirements.txt changed.
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Python dependencies into .venv"
    python3 -m venv .venv
    # pip's output goes to a log, shown only when it fails.
    if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -r requirements.txt; } \
            >.venv/pip.log 2>&1; then
        tail -30 .venv/pip.log >&2
        exit 1
    fi
    echo "$want" >"$stamp"
fi

if [ -z "${MAILOPS_IMAGE:-}" ]; then
    for suite in ${MAILOPS_SUITES:-bookworm}; do
        scripts/build-image.sh "$suite"
    done
fi
