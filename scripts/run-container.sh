#!/usr/bin/env bash
# Start a systemd container to deploy to (the demo and every Molecule scenario
# use this, so the flags live in one place). Already running: nothing to do.
#
# usage: scripts/run-container.sh NAME IMAGE [NETWORK [IP]]
# --privileged fails on these machines; SYS_ADMIN + the host cgroup namespace +
# tmpfs /run, /run/lock and /tmp is what systemd needs. NET_ADMIN lets the
# mailman3 role's LMTP allow-list (nftables) work inside the container.
set -euo pipefail
name=$1 image=$2 network=${3:-} ip=${4:-}

if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ]; then
    exit 0
fi
docker rm -f "$name" >/dev/null 2>&1 || true
docker run -d --name "$name" --hostname "$name" \
    ${network:+--network "$network"} ${ip:+--ip "$ip"} \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cgroupns=host \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
    --stop-signal SIGRTMIN+3 \
    "$image" >/dev/null
# Ready when systemd has finished booting ("running" or "degraded").
for _ in $(seq 60); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) exit 0 ;; esac
    sleep 0.5
done
echo "container $name: systemd did not finish booting (state: ${state:-unknown})" >&2
exit 1
