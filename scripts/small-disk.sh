#!/usr/bin/env bash
# A small filesystem of its own for one directory of a test container
# (Mailman's var), so that a test can fill it: an ext4 image on the test
# machine with no blocks reserved for root, loop-mounted there and
# bind-mounted into the container, so it outlives a container kill. Needs
# root on the test machine (mount).
#
# usage: scripts/small-disk.sh create CONTAINER PATH MB OWNER
#            a fresh, empty filesystem of MB megabytes for PATH in CONTAINER,
#            its root owned by OWNER (uid:gid); prints HOSTDIR:PATH for docker run -v
#        scripts/small-disk.sh remove CONTAINER
#            unmount and delete every small disk of CONTAINER
set -euo pipefail
root=${MAILOPS_DISKS:-/var/lib/mailops-test/disks}
action=$1 container=$2

remove() {
    local dir
    for dir in "$root/$container"/*/; do
        [ -d "$dir" ] || continue
        if mountpoint -q "$dir"; then umount "$dir"; fi
    done
    rm -rf "${root:?}/$container"
}

case $action in
create)
    path=$3 mb=$4 owner=$5
    dir=$root/$container/$(printf %s "$path" | tr / _)
    if mountpoint -q "$dir" 2>/dev/null; then umount "$dir"; fi
    rm -rf "$dir" "$dir.img"
    mkdir -p "$dir"
    truncate -s "${mb}M" "$dir.img"
    mkfs.ext4 -q -F -m 0 "$dir.img"
    mount -o loop "$dir.img" "$dir"
    rmdir "$dir/lost+found"
    chown "$owner" "$dir"
    echo "$dir:$path"
    ;;
remove)
    remove
    ;;
*)
    echo "usage: $0 create CONTAINER PATH MB OWNER | remove CONTAINER" >&2
    exit 2
    ;;
esac
