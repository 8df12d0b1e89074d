#!/usr/bin/env bash
# The main job: set up this machine (scripts/setup.sh), bring up a local
# Debian systemd container, deploy it with playbooks/site.yml and the README's
# quickstart variables (inventory/demo), then run playbooks/verify.yml: join,
# post and leave by mail for 3 fresh local subscribers, with a result per stage.
#
# MAILOPS_SUITE=trixie for Debian 13; MAILOPS_IMAGE=<image> for your own image.
# The container stays up afterwards: docker exec -it mailops-demo bash
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

image=${MAILOPS_IMAGE:-mailops/debian-systemd:${MAILOPS_SUITE:-bookworm}}
echo "== starting container mailops-demo ($image)"
scripts/run-container.sh mailops-demo "$image"

echo "== deploying: ansible-playbook -i inventory/demo playbooks/site.yml"
ansible-playbook -i inventory/demo playbooks/site.yml

echo "== verifying: join, post and leave for 3 subscribers"
ansible-playbook -i inventory/demo playbooks/verify.yml -e verify_subscriber_count=3

echo "== done. The container is still running: docker exec -it mailops-demo bash"
echo "   remove it with: docker rm -f mailops-demo"
