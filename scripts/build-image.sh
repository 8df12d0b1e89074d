#!/usr/bin/env bash
# Build the systemd base image for Molecule and the demo, locally: no registry
# can be reached, so the image is debootstrapped from Debian's mirror and
# `docker import`ed. Cached: a second call with the image of this script's
# $version present does nothing.
#
# The image has no sudo, like many fresh servers and containers: every
# scenario proves the roles work on a host Ansible reaches as root without
# it (the split scenario's core installs sudo and is reached as a sudo user).
#
# usage: scripts/build-image.sh [bookworm|trixie]   (default bookworm)
# The image is tagged mailops/debian-systemd:<suite>. Users with a registry skip
# all this by setting MAILOPS_IMAGE to an image of their own (see README).
set -euo pipefail

suite=${1:-bookworm}
image="mailops/debian-systemd:${suite}"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Bump when the image's content changes: older images and root filesystems are rebuilt.
version=2
cache=${MAILOPS_CACHE:-/var/cache/mailops}

have=$(docker image inspect -f '{{ index .Config.Labels "mailops.image.version" }}' "$image" 2>/dev/null || true)
if [ "$have" = "$version" ]; then
    echo "image $image version $version present (docker rmi it to rebuild)"
    exit 0
fi

rootfs="$cache/rootfs-$suite"
if [ ! -x "$rootfs/lib/systemd/systemd" ] || [ "$(cat "$rootfs.version" 2>/dev/null)" != "$version" ]; then
    rm -rf "$rootfs" && mkdir -p "$cache"
    echo "debootstrap $suite into $rootfs (about a minute)"
    # Through the package cache when it answers (scripts/setup.sh); the image's
    # sources.list still names $mirror.
    proxy=${MAILOPS_APT_CACHE:-off}
    [ "$proxy" = on ] && proxy=http://127.0.0.1:3142
    if [ "$proxy" != off ] && hostport=${proxy#http://} && hostport=${hostport%%/*} &&
            timeout 2 bash -c "exec 3<>/dev/tcp/${hostport%:*}/${hostport##*:}" 2>/dev/null; then
        export http_proxy=$proxy
    fi
    # minbase + what Ansible and systemd need; the roles install everything else.
    debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,procps,ca-certificates \
        "$suite" "$rootfs" "$mirror" >"$cache/debootstrap-$suite.log" 2>&1 \
        || { tail -20 "$cache/debootstrap-$suite.log"; exit 1; }
    echo "$version" >"$rootfs.version"
fi

# Units that make no sense in a container slow the boot or fail it.
for unit in getty.target systemd-udevd.service systemd-udev-trigger.service \
            systemd-remount-fs.service systemd-firstboot.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
echo "$suite-container" >"$rootfs/etc/hostname"
rm -f "$rootfs/etc/machine-id" && touch "$rootfs/etc/machine-id"
# Keep the image small and let apt fetch fresh lists in the container.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
# An emptied lists dir with a fresh mtime looks "recently updated" to apt's
# cache_valid_time; date it back so the first converge runs apt-get update.
touch -d 2000-01-01 "$rootfs/var/lib/apt/lists"

echo "importing $image"
tar -C "$rootfs" -c . | docker import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change 'ENV container=docker' \
    --change "LABEL mailops.image.version=$version" \
    - "$image" >/dev/null
echo "built $image"
