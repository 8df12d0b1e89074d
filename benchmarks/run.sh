#!/usr/bin/env bash
# The benchmark, in one command (as root, from anywhere):
#
#   benchmarks/run.sh
#
# 1. scripts/setup.sh (cached): Docker, the venv (with matplotlib), the image;
# 2. a FRESH container mailops-bench (scripts/run-container.sh), converged with
#    playbooks/site.yml and benchmarks/inventory (quickstart variables + the
#    benchmark lists): timed, then converged again (timed, must be changed=0);
# 3. playbooks/verify.yml on reading-group@local.edu: the join/post/leave loop, timed;
# 4. benchmarks/bench.py inside the container (docker cp to /root: /tmp is a
#    tmpfs there): single-post latency, then for each N raw Postfix fan-out and
#    one list post, each until every mailbox has the message;
# 5. the roster step alone at BENCH_ROSTER members: stock member-recipients
#    and the plugin's handler on the same roster, in a Mailman instance of
#    its own on the host's packaged Mailman (tests/unit/mailman_plugin/
#    differential.py --timing; no delivery);
# 6. benchmarks/results/<label>.json and <label>.png (report.py).
#
# Knobs (environment):
#   BENCH_N=1000,5000,20000 subscriber counts
#   BENCH_ROSTER=100000     members for the roster step (0: skip it)
#   BENCH_LABEL=defaults    name of the result files
#   BENCH_REUSE=1           keep a running mailops-bench (no fresh converge timing)
#   BENCH_KEEP=1            leave the container up afterwards (default: removed)
# Any arguments go to every ansible-playbook call, e.g. to measure other tuning:
#   BENCH_LABEL=sleep-1s benchmarks/run.sh -e mailman3_runner_sleep_time=1s
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

name=mailops-bench
image=${MAILOPS_IMAGE:-mailops/debian-systemd:bookworm}
inv=benchmarks/inventory
label=${BENCH_LABEL:-defaults}
ns=${BENCH_N:-1000,5000,20000}
roster=${BENCH_ROSTER:-100000}
out=benchmarks/results
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

log() { printf '== %s\n' "$*"; }
now() { date +%s.%N; }
# "changed=N" of the PLAY RECAP line for our host.
changed() { sed -n "s/^$name *:.* changed=\([0-9]*\).*/\1/p" "$1" | tail -1; }

if [ "${BENCH_REUSE:-0}" != 1 ]; then
    log "fresh container $name ($image)"
    docker rm -f "$name" >/dev/null 2>&1 || true
fi
scripts/run-container.sh "$name" "$image"

log "converge (fresh unless BENCH_REUSE=1)"
t0=$(now)
ansible-playbook -i "$inv" playbooks/site.yml "$@" >"$work/converge1.log" 2>&1 \
    || { tail -40 "$work/converge1.log"; exit 1; }
t1=$(now)
log "converge again (idempotence)"
ansible-playbook -i "$inv" playbooks/site.yml "$@" >"$work/converge2.log" 2>&1 \
    || { tail -40 "$work/converge2.log"; exit 1; }
t2=$(now)

log "verify.yml: join/post/leave on reading-group@local.edu"
ansible-playbook -i "$inv" playbooks/verify.yml -e verify_list=reading-group@local.edu \
    -e verify_report_file="$work/verify.json" "$@" \
    >"$work/verify.log" 2>&1 || { tail -40 "$work/verify.log"; exit 1; }
t3=$(now)

log "bench.py in the container (N=$ns)"
docker cp benchmarks/bench.py "$name":/root/bench.py
# Bounded: every wait inside has its own limit; this is the backstop.
timeout 3600 docker exec "$name" python3 /root/bench.py run --n "$ns" >"$work/bench.json"

echo '{}' >"$work/roster.json"
if [ "$roster" -gt 0 ]; then
    log "roster step alone at $roster members (stock and plugin handler, no delivery)"
    docker cp tests/unit/mailman_plugin/differential.py "$name":/root/differential.py
    docker exec "$name" rm -rf /root/roster-work
    timeout 3600 docker exec "$name" python3 -B /root/differential.py /root/roster-work \
        --timing "$roster" >"$work/differential.json"
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); t = r["timing"]
t.update(mailman=r["mailman"], sqlalchemy=r["sqlalchemy"], python=r["python"])
print(json.dumps(t))' "$work/differential.json" >"$work/roster.json"
    docker exec "$name" rm -rf /root/roster-work
fi

python3 - "$work" "$t0" "$t1" "$t2" "$t3" "$(changed "$work/converge1.log")" \
    "$(changed "$work/converge2.log")" "$label" "${BENCH_REUSE:-0}" "$*" <<'PY' >"$out/$label.json"
import json, os, sys, time
work, t0, t1, t2, t3, c1, c2, label, reuse, args = sys.argv[1:]
t0, t1, t2, t3 = map(float, (t0, t1, t2, t3))
r = json.load(open(os.path.join(work, 'bench.json')))
r['roster'] = json.load(open(os.path.join(work, 'roster.json'))) or None
# The verify role's structured result (verify.yml's verify_report_file).
verify = next(v for v in json.load(open(os.path.join(work, 'verify.json')))
              if v['list'] == 'reading-group@local.edu')
stages = {k: v['seconds'] for k, v in verify['stages'].items() if v['ok']}
r = {
    'label': label,
    'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
    'ansible_args': args,
    'converge_fresh_s': None if reuse == '1' else round(t1 - t0, 1),
    'converge_fresh_changed': None if reuse == '1' else int(c1),
    'converge_idempotent_s': round(t2 - t1, 1),
    'converge_idempotent_changed': int(c2),
    'verify_playbook_s': round(t3 - t2, 1),
    'verify_loop_s': round(sum(stages.values()), 1),
    'verify_stages_s': stages,
    'verify_report': verify['report'],
    'controller_load_end': os.getloadavg(),
    **r,
}
print(json.dumps(r, indent=2))
PY
python3 benchmarks/report.py "$out/$label.json"

if [ "${BENCH_KEEP:-0}" != 1 ]; then
    docker rm -f "$name" >/dev/null
fi
log "results: $out/$label.json $out/$label.png"
