#!/usr/bin/env bash
# Start a systemd container to deploy to (the demo and every Molecule scenario
# use this, so the flags live in one place). Already running: nothing to do.
#
# usage: scripts/run-container.sh NAME IMAGE [NETWORK [IP [HOSTDIR:PATH ...]]]
# (each HOSTDIR:PATH bind-mounted: a small disk of scripts/small-disk.sh)
# --privileged fails on these machines; SYS_ADMIN + the host cgroup namespace +
# tmpfs /run, /run/lock and /tmp is what systemd needs. NET_ADMIN lets the
# mailman3 role's LMTP allow-list (nftables) work inside the container.
#
# Package cache: apt in the container fetches through the host's apt-cacher-ng
# (started by scripts/setup.sh) at the gateway of the container's own network
# (172.17.0.1 on Docker's bridge, 10.213.57.1 on the split scenario's), port
# 3142. Fail-open: apt runs a probe before fetching, which answers DIRECT when
# the cache does not answer within a second, so installs then go to Debian's
# mirror directly. HTTPS sources always go direct.
# MAILOPS_APT_CACHE=on: the cache setup.sh started; =http://HOST:PORT: that cache; default off.
set -euo pipefail
name=$1 image=$2 network=${3:-} ip=${4:-}
mounts=()
for volume in "${@:5}"; do mounts+=(-v "$volume"); done

if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ]; then
    exit 0
fi
docker rm -f "$name" >/dev/null 2>&1 || true
docker run -d --name "$name" --hostname "$name" \
    ${network:+--network "$network"} ${ip:+--ip "$ip"} \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cgroupns=host \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
    ${mounts[@]+"${mounts[@]}"} \
    --stop-signal SIGRTMIN+3 \
    "$image" >/dev/null
# Ready when systemd has finished booting ("running" or "degraded").
state=
for _ in $(seq 60); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 0.5
done
case "$state" in
    running|degraded) ;;
    *) echo "container $name: systemd did not finish booting (state: ${state:-unknown})" >&2
       exit 1 ;;
esac

cache=${MAILOPS_APT_CACHE:-off}
[ "$cache" = off ] && exit 0
if [ "$cache" = on ]; then
    # The host as this container sees it: the gateway of its network.
    gateway=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.Gateway}} {{end}}' "$name")
    gateway=${gateway%% *}
    if [ -z "$gateway" ]; then
        echo "container $name: no network gateway, so no package cache" >&2
        exit 0
    fi
    cache="http://$gateway:3142"
fi
hostport=${cache#http://} && hostport=${hostport%%/*}
host=${hostport%:*} port=${hostport##*:}
[ "$port" != "$hostport" ] || port=80
docker exec -i "$name" sh -c 'mkdir -p /usr/local/lib/mailops &&
    cat >/usr/local/lib/mailops/apt-proxy && chmod 0755 /usr/local/lib/mailops/apt-proxy' <<EOF
#!/bin/bash
# Written by mailops scripts/run-container.sh. apt runs this before fetching:
# the package cache if it answers within a second, else DIRECT (Debian's mirror).
if timeout 1 bash -c 'exec 3<>/dev/tcp/$host/$port' 2>/dev/null; then
    echo $cache
else
    echo DIRECT
fi
EOF
docker exec -i "$name" sh -c 'cat >/etc/apt/apt.conf.d/01mailops-apt-cache' <<'EOF'
// Written by mailops scripts/run-container.sh: Debian packages through the
// test machine's package cache, or directly when it does not answer.
Acquire::http::Proxy-Auto-Detect "/usr/local/lib/mailops/apt-proxy";
Acquire::https::Proxy "DIRECT";
EOF
