#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Strike while a broadcast is in flight, and show that the blow landed.

Started just before blast.py queues its posts: it watches Mailman's queues
and strikes when a runner holds a message. One action:

restart-mailman   `systemctl restart mailman3`, as the roles' handlers do: once
                  when the in or pipeline runner holds a message, once when
                  the out runner does. Evidence: the runners that
                  logged they were stopped with a message in hand. ok: each
                  restart was back within RESTART_LIMIT seconds.
kill-runner       SIGKILL to one runner (--runner out|pipeline) the moment its
                  queue holds a .bak (a message in hand) and, with --lock, the
                  runner holds that lock file too (a list's digest mailbox's
                  dot-lock). Evidence: the .bak at the kill, the lock file
                  left behind, and the master restarting the runner.
kill-postfix      SIGKILL to every Postfix process (systemctl kill) while the
                  out runner hands a message over, then Postfix started again.
                  Evidence: the out runner's .bak at the kill, the local(8)
                  deliveries cut.
cut-database      PostgreSQL: the moment the in or pipeline runner holds a
                  message, Mailman's database refuses new connections and
                  its open ones are terminated (as a failover or a cluster
                  restart cuts them), for --hold seconds, then allowed again.
                  Evidence: the terminated connections and Mailman's
                  database errors during the hold; also shown: the LMTP
                  deliveries Postfix deferred meanwhile.
fill-disk         The moment the in or pipeline runner holds a message, the
                  filesystem under --fill (Mailman's var, a small filesystem
                  of its own) is filled to its last block for --hold seconds,
                  then freed. Evidence: the free space left, the messages
                  Mailman's runners put back "disk full", and the LMTP
                  deliveries Postfix deferred with 451 meanwhile.
watch-out         Strike nothing: wait until the out runner holds a message,
                  print the evidence and exit, for a strike from outside
                  the host (docker kill) to follow at once.

Prints JSON: injected (the evidence holds), evidence (one line), ok (the
action's own check, where it has one), and
at_least_once: how many duplicate copies the kill may cause by design (the
recipients of the one message in the killed runner's or SMTP session's hands,
plus Postfix's own deliveries in flight), 0 for the graceful restart.
Bounded: every wait has a timeout.
"""
import argparse
import errno
import glob
import json
import os
import re
import signal
import subprocess
import time

STARTED = time.time()
RESTART_LIMIT = 60
# fill-disk fills nothing bigger (the scenario's small disk is 64 MB).
SMALL_DISK_LIMIT = 256 << 20
IN_HAND = re.compile(r"\) (\w+) runner caught SIG\w+\.  Stopping after the message in hand\.")
RESTARTED = re.compile(r"\) (\w+) runner \(pid (\d+)\) ended with signal 9; restarting it\.")


def log_offset(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def log_since(path, offset):
    with open(path, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        return f.read()


def wait_for(predicate, timeout, step=0.002):
    """Poll until predicate() is truthy; its last value (falsy on timeout)."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() > deadline:
            return value
        time.sleep(step)


def baks(queue_dir, queue):
    return sorted(glob.glob(os.path.join(queue_dir, queue, "*.bak")))


def inode(path):
    """The file's inode number, or None: tells a lock file from a later one of the same name."""
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def runner_pid(name):
    out = subprocess.run(["pgrep", "-u", "list", "-f", "--", "--runner=%s:" % name],
                         capture_output=True, text=True, check=False).stdout.split()
    return int(out[0]) if len(out) == 1 else None


def port_open(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def restart_mailman(args):
    offset = log_offset(args.log)
    moments, took = [], []
    for moment, queues in (("in/pipeline runner busy", ("in", "pipeline")), ("out runner busy", ("out",))):
        if not wait_for(lambda queues=queues: [b for q in queues for b in baks(args.queue_dir, q)], 60):
            moments.append(moment + ": never")
            continue
        started = time.time()
        subprocess.run(["systemctl", "restart", "mailman3"], check=True)
        wait_for(lambda: port_open(8024), 90, step=0.2)
        moments.append("%s (back in %.1fs)" % (moment, time.time() - started))
        took.append(time.time() - started)
    caught = IN_HAND.findall(log_since(args.log, offset))
    return {"injected": bool(caught), "at_least_once": 0,
            # A stop that waits for systemd's timeout (90s) is a hang, not a finish.
            "ok": bool(took) and max(took) < RESTART_LIMIT,
            "evidence": "restarted %s; runners stopped with a message in hand: %s"
                        % (" and ".join(moments), ", ".join(caught) or "none")}


def kill_runner(args):
    offset = log_offset(args.log)
    pid = runner_pid(args.runner)
    if args.lock and inode(args.lock):
        return {"injected": False, "at_least_once": 0,
                "evidence": "%s existed before the strike (left by an earlier fault?)" % args.lock}
    seen = {}

    def lock_held():
        # Taken anew for each message: the one this runner holds at the kill.
        seen["lock"] = inode(args.lock)
        return seen["lock"] and baks(args.queue_dir, args.runner)

    if args.lock:
        # The lock is held for a millisecond or so: look without sleeping.
        held = wait_for(lock_held, 60, step=0)
    else:
        held = wait_for(lambda: baks(args.queue_dir, args.runner), 60)
    if not held or pid is None:
        return {"injected": False, "at_least_once": 0,
                "evidence": "%s runner pid %s never had a message in hand%s"
                            % (args.runner, pid, " holding " + args.lock if args.lock else "")}
    os.kill(pid, signal.SIGKILL)
    left = [os.path.basename(p) for p in held if os.path.exists(p)]
    # The lock file the killed runner held stays behind, held by nobody.
    stale = bool(args.lock) and inode(args.lock) == seen["lock"]
    restarted = wait_for(lambda: [m for m in RESTARTED.findall(log_since(args.log, offset))
                                  if m == (args.runner, str(pid))], 30, step=0.2)
    new_pid = wait_for(lambda: runner_pid(args.runner), 30, step=0.2)
    return {"injected": bool(left) and bool(restarted) and (stale or not args.lock),
            "at_least_once": args.subscribers,
            "evidence": "SIGKILL to the %s runner (pid %d) holding %s%s; %s"
                        % (args.runner, pid, ", ".join(left) or "nothing (finished first)",
                           "" if not args.lock else " and %s (%s)" % (
                               os.path.basename(args.lock), "left behind" if stale else "released before the kill"),
                           "master restarted it as pid %s" % new_pid if restarted
                           else "the master did not restart it")}


def out_runner_busy(args):
    """Wait until the out runner holds a message (after the blast, with --after):
    what it holds, and the local(8) deliveries running then."""
    # Not before the blast has all its posts accepted: it talks to Postfix too.
    if args.after:
        wait_for(lambda: os.path.exists(args.after) and os.path.getmtime(args.after) >= STARTED, 60, step=0.01)
    held = wait_for(lambda: baks(args.queue_dir, "out"), 60)
    local = subprocess.run(["pgrep", "-f", "^local -t unix"], capture_output=True, text=True,
                           check=False).stdout.split()
    return held, local


def kill_postfix(args):
    held, local = out_runner_busy(args)
    smtpd = subprocess.run(["pgrep", "-f", "^smtpd -n smtp"], capture_output=True, text=True,
                           check=False).stdout.split()
    subprocess.run(["systemctl", "kill", "--signal=SIGKILL", "postfix@-.service"], check=True)
    in_hand = [os.path.basename(p) for p in held if os.path.exists(p)]
    time.sleep(1)
    subprocess.run(["systemctl", "restart", "postfix@-.service"], check=True)
    wait_for(lambda: port_open(25), 60, step=0.2)
    return {"injected": bool(in_hand) and bool(smtpd),
            "at_least_once": args.subscribers + len(local),
            "evidence": "SIGKILL to Postfix while the out runner held %s, with %d smtpd and %d local "
                        "deliveries running" % (", ".join(in_hand) or "nothing", len(smtpd), len(local))}


def psql(*commands):
    argv = ["runuser", "-u", "postgres", "--", "psql", "-X", "-qtA", "-d", "postgres"]
    for command in commands:
        argv += ["-c", command]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()


def deferred_reasons(pattern):
    out = subprocess.run(["postqueue", "-j"], capture_output=True, text=True, check=False).stdout
    return sum(1 for line in out.splitlines() for r in json.loads(line).get("recipients", [])
               if re.search(pattern, r.get("delay_reason", "")))


def cut_database(args):
    offset = log_offset(args.log)
    held = wait_for(lambda: baks(args.queue_dir, "in") + baks(args.queue_dir, "pipeline"), 60)
    cut = psql("ALTER DATABASE mailman ALLOW_CONNECTIONS false",
               "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'mailman'")
    # What a runner held when the strike began (it may be done by now).
    in_hand = [os.path.relpath(p, args.queue_dir) for p in held or []]
    deadline = time.time() + args.hold
    lmtp_451 = 0
    while time.time() < deadline:
        lmtp_451 = max(lmtp_451, deferred_reasons(r"\b451[ -]4\.3\.0\b"))
        time.sleep(0.5)
    psql("ALTER DATABASE mailman ALLOW_CONNECTIONS true")
    errors = re.findall(r"OperationalError", log_since(args.log, offset))
    return {"injected": bool(cut) and int(cut[-1]) > 0 and bool(errors),
            "at_least_once": args.subscribers,
            "evidence": "terminated %s of Mailman's database connections as a runner took %s, new ones refused "
                        "for %ds: %d database errors in Mailman's log, %d LMTP deliveries deferred with 451"
                        % (cut[-1] if cut else "no", ", ".join(in_hand) or "nothing", args.hold, len(errors),
                           lmtp_451)}


def fill(path):
    """Write zeros to path until its filesystem has no block left (it reserves none for root)."""
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 20, 1 << 10):
            block = bytes(chunk)
            try:
                while True:
                    f.write(block)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise


def fill_disk(args):
    """Fill the filesystem under --fill (Mailman's var) the moment a runner holds a post, for --hold seconds."""
    # Only the small filesystem made for this (scripts/small-disk.sh), never
    # the container's own, which is the test machine's disk.
    st = os.statvfs(args.fill)
    size = st.f_blocks * st.f_frsize
    if not os.path.ismount(args.fill) or size > SMALL_DISK_LIMIT:
        return {"injected": False, "at_least_once": 0,
                "evidence": "refused to fill %s: not a small filesystem of its own (mount point: %s, %d MB)"
                            % (args.fill, os.path.ismount(args.fill), size >> 20)}
    offset = log_offset(args.log)
    held = wait_for(lambda: baks(args.queue_dir, "in") + baks(args.queue_dir, "pipeline"), 60)
    filler = os.path.join(args.fill, "mailops-resilience-fill")
    fill(filler)
    st = os.statvfs(args.fill)
    free_after = st.f_bavail * st.f_frsize
    in_hand = [os.path.relpath(p, args.queue_dir) for p in held or []]
    deadline = time.time() + args.hold
    lmtp_451 = 0
    try:
        while time.time() < deadline:
            lmtp_451 = max(lmtp_451, deferred_reasons(r"\b451[ -]4\.3\.0\b"))
            time.sleep(0.5)
    finally:
        os.remove(filler)
    logged = log_since(args.log, offset)
    put_back = re.findall(r"runner: disk full \(", logged)
    return {"injected": free_after < 65536 and bool(put_back or lmtp_451),
            "at_least_once": args.subscribers,
            "evidence": "filled %s (%d bytes left) as a runner took %s, for %ds: %d messages put back "
                        "\"disk full\" in Mailman's log, %d LMTP deliveries deferred with 451"
                        % (args.fill, free_after, ", ".join(in_hand) or "nothing", args.hold, len(put_back),
                           lmtp_451)}


def watch_out(args):
    held, local = out_runner_busy(args)
    return {"injected": bool(held),
            # The out runner's message, a pipeline runner's message cut between
            # to-outgoing and the duplicate record, and the local deliveries.
            "at_least_once": 2 * args.subscribers + len(local),
            "evidence": "the out runner held %s, %d local deliveries running"
                        % (", ".join(os.path.basename(p) for p in held) or "nothing", len(local))}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["restart-mailman", "kill-runner", "kill-postfix", "cut-database", "fill-disk",
                                      "watch-out"])
    p.add_argument("--runner", choices=["out", "pipeline"], default="out")
    p.add_argument("--subscribers", type=int, required=True)
    p.add_argument("--queue-dir", default="/var/lib/mailman3/queue")
    p.add_argument("--log", default="/var/log/mailman3/mailman.log")
    p.add_argument("--after", help="kill-postfix, watch-out: wait until the blast writes this file")
    p.add_argument("--lock", help="kill-runner: strike while the runner holds this lock file too")
    p.add_argument("--hold", type=int, default=10, help="cut-database, fill-disk: seconds the outage lasts")
    p.add_argument("--fill", default="/var/lib/mailman3", help="fill-disk: a directory on the filesystem to fill")
    args = p.parse_args()
    action = {"restart-mailman": restart_mailman, "kill-runner": kill_runner, "kill-postfix": kill_postfix,
              "cut-database": cut_database, "fill-disk": fill_disk, "watch-out": watch_out}[args.action]
    print(json.dumps(action(args)))


if __name__ == "__main__":
    main()
