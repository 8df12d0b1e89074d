#!/usr/bin/env bash
# Everything a fresh Debian machine lacks, idempotent and cached:
#   Docker engine + debootstrap (apt), dockerd running, the pinned virtualenv
#   (.venv), the local package cache (apt-cacher-ng) and the local systemd base
#   image(s).
# Called by scripts/demo.sh and scripts/test.sh; safe to run again.
#
# MAILOPS_APT_CACHE=on    set up the package cache (off by default: see README)
# MAILOPS_APT_CACHE=http://HOST:PORT   containers use this cache; none is set up here
# MAILOPS_IMAGE=<image>   use your own systemd image; nothing is debootstrapped
# MAILOPS_SUITES="bookworm trixie"   which base images to build (default bookworm)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }

# This checkout as the collection mailops.mailman, for ansible
# (ANSIBLE_COLLECTIONS_PATH=collections), pytest (pytest.ini) and Molecule.
# Not tracked: ansible-test's symlinks sanity test refuses it.
link=collections/ansible_collections/mailops/mailman
if [ "$(readlink "$link" 2>/dev/null)" != ../../.. ]; then
    mkdir -p "$(dirname "$link")"
    ln -sfn ../../.. "$link"
fi

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
# ansible-test's shellcheck sanity test (scripts/ansible-test.sh).
command -v shellcheck >/dev/null || missing+=(shellcheck)
# Debian's python3 has no venv/ensurepip until python3-venv is installed.
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
apt_cache=${MAILOPS_APT_CACHE:-off}
if [ "$apt_cache" = on ] && [ ! -x /usr/sbin/apt-cacher-ng ]; then
    missing+=(apt-cacher-ng)
fi
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

# The package cache the test containers install Debian packages through
# (scripts/run-container.sh points them at it): apt-cacher-ng on port 3142,
# cache in /var/cache/apt-cacher-ng, still real packages from Debian's mirror.
# Fail-open: if it does not answer, containers fetch from Debian directly.
acng_answers() { timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/3142' 2>/dev/null; }
if [ "$apt_cache" = on ]; then
    # The package's postinst fills the Debian backend from this machine's
    # sources.list (not from deb822 .sources), else falls back to a mirror that
    # may not be reachable: pin it to the mirror the images use.
    backend="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
    backend="${backend%/}/"
    restart=
    if [ "$(cat /etc/apt-cacher-ng/backends_debian 2>/dev/null)" != "$backend" ]; then
        echo "$backend" >/etc/apt-cacher-ng/backends_debian
        restart=1
    fi
    if [ -n "$restart" ] || ! acng_answers; then
        log "starting apt-cacher-ng (package cache on port 3142)"
        if [ -d /run/systemd/system ]; then
            { systemctl enable -q apt-cacher-ng && systemctl restart apt-cacher-ng; } || true
        else
            /etc/init.d/apt-cacher-ng restart >/dev/null || true
        fi
        for _ in $(seq 20); do acng_answers && break; sleep 0.5; done
    fi
    # Not fatal: the containers fall back to Debian's mirror (run-container.sh).
    acng_answers || echo "warning: apt-cacher-ng does not answer on port 3142;" \
        "containers will fetch packages from Debian directly" >&2
fi

if [ -z "${MAILOPS_IMAGE:-}" ]; then
    for suite in ${MAILOPS_SUITES:-bookworm}; do
        scripts/build-image.sh "$suite"
    done
fi
