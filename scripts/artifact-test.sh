#!/usr/bin/env bash
# The collection as its users get it. Build the artifact; install it into a
# fresh virtualenv that holds only ansible-core and the collection's declared
# dependencies (community.general, community.postgresql; community.docker for
# the container connection), taken from the `ansible` package because Galaxy
# cannot be reached; check its execution-environment metadata with
# ansible-builder; then, outside this checkout (no ansible.cfg, no development
# collections path), deploy the README's quickstart (on PostgreSQL) onto a fresh
# container that Ansible reaches as root and that has no sudo, with
#   ansible-playbook mailops.mailman.site   and   ansible-playbook mailops.mailman.verify
#
# usage: scripts/artifact-test.sh   (after scripts/setup.sh; the test command runs it)
# MAILOPS_SUITE / MAILOPS_IMAGE choose the image, as for the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$repo/.cache/artifact-test
container=mailops-artifact
image=${MAILOPS_IMAGE:-mailops/debian-systemd:${MAILOPS_SUITE:-bookworm}}
core=$(sed -n 's/^ansible-core==//p' requirements.txt)
bundle=$(sed -n 's/^ansible==//p' requirements.txt)

cleanup() { docker rm -f "$container" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# A virtualenv with ansible-core only (kept between runs: it is never written to).
venv=$work/venv-core-$core
if [ ! -x "$venv/bin/ansible-playbook" ]; then
    rm -rf "$venv" && python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$core" 2>&1 \
        | { grep -v "^WARNING: Location" || true; }
fi

rm -rf "$work/dist" "$work/collections" "$work/run" "$work/ee"
mkdir -p "$work/dist" "$work/collections" "$work/run" "$work/ee"
# Every ansible command runs as a user's would: from outside this checkout (so
# no ansible.cfg of ours), with the fresh virtualenv and collections only.
user_env=(env -i "HOME=$HOME" "PATH=$venv/bin:/usr/sbin:/usr/bin:/sbin:/bin" "LANG=C.UTF-8"
          "ANSIBLE_COLLECTIONS_PATH=$work/collections")

echo "== build the artifact"
(cd "$work/run" && "${user_env[@]}" ansible-galaxy collection build --force --output-path "$work/dist" "$repo" >/dev/null)
artifact=$(ls "$work"/dist/mailops-mailman-*.tar.gz)
echo "$artifact"

echo "== the dependencies, from the ansible $bundle package"
.venv/bin/pip download -q --disable-pip-version-check --no-deps "ansible==$bundle" -d "$work/wheels" 2>&1 \
    | { grep -v "^WARNING: Location" || true; }
python3 - "$work/wheels/ansible-$bundle-py3-none-any.whl" "$work/collections" <<'EOF'
import sys
import zipfile

wheel, dest = sys.argv[1:]
wanted = tuple('ansible_collections/community/%s/' % name for name in ('general', 'postgresql', 'docker'))
with zipfile.ZipFile(wheel) as zf:
    zf.extractall(dest, [n for n in zf.namelist() if n.startswith(wanted)])
EOF

echo "== install the artifact (offline: its dependencies must already be there)"
(cd "$work/run" && "${user_env[@]}" ansible-galaxy collection install --offline -p "$work/collections" "$artifact")

echo "== execution environment: what ansible-builder finds for mailops.mailman"
.venv/bin/ansible-builder introspect --sanitize "$work/collections" >"$work/ee/introspect.yml"
.venv/bin/python - "$work/ee/introspect.yml" <<'EOF'
import sys

import yaml

found = yaml.safe_load(open(sys.argv[1]))
system = [line for line in found.get('system') or [] if 'mailops.mailman' in line]
python = [line for line in found.get('python') or [] if 'mailops.mailman' in line]
print('system:', system, 'python:', python)
assert system == ['openssh-client [platform:dpkg]  # from collection mailops.mailman',
                  'openssh-clients [platform:rpm]  # from collection mailops.mailman'], system
assert python == [], python
EOF
cat >"$work/ee/execution-environment.yml" <<EOF
version: 3
images:
  base_image:
    name: ghcr.io/ansible-community/community-ee-minimal:latest
dependencies:
  ansible_core:
    package_pip: ansible-core==$core
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: $(basename "$artifact")
        type: file
additional_build_files:
  - src: $artifact
    dest: collections
additional_build_steps:
  prepend_galaxy:
    - COPY _build/collections/$(basename "$artifact") /build/
EOF
.venv/bin/ansible-builder create --output-filename Dockerfile -f "$work/ee/execution-environment.yml" -c "$work/ee/context" >/dev/null
test -s "$work/ee/context/Dockerfile"
test -s "$work/ee/context/_build/collections/$(basename "$artifact")"
grep -q "$(basename "$artifact")" "$work/ee/context/_build/requirements.yml"
echo "build context: $work/ee/context"

echo "== a fresh container without sudo ($image)"
cleanup
scripts/run-container.sh "$container" "$image"
if docker exec "$container" sh -c 'command -v sudo'; then
    echo "the container has sudo: this test is about hosts without it" >&2
    exit 1
fi

# The README's quickstart inventory (inventory/demo), pointed at this container.
sed "s/mailops-demo:/$container:/" inventory/demo/hosts.yml >"$work/run/hosts.yml"
cd "$work/run"
# With PostgreSQL instead of the quickstart's SQLite: the one test of reaching
# the postgres user with su (root, no sudo); the split scenario's core reaches
# it through sudo.
echo "== ansible-playbook mailops.mailman.site (mailman3_database=postgresql)"
"${user_env[@]}" ansible-playbook -i hosts.yml mailops.mailman.site -e mailman3_database=postgresql
echo "== ansible-playbook mailops.mailman.verify"
"${user_env[@]}" ansible-playbook -i hosts.yml mailops.mailman.verify -e verify_subscriber_count=2
echo "== the installed artifact deployed and verified the quickstart"
