#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""An LMTP proxy in front of Mailman that hangs after end-of-DATA, once per message.

Postfix is pointed at LISTEN for the list under test; every byte goes on to
Mailman's LMTP runner at UPSTREAM. The first time a message (by Message-ID)
reaches its end-of-DATA, the proxy forwards the final dot, so Mailman queues
the post, and then withholds Mailman's replies and holds the connection open:
Postfix times out waiting (lmtp_data_done_timeout), defers the message with
"may be sent more than once" and delivers it again later. Copies after the
first pass through untouched. That is the LMTP fault that can duplicate a post
to a whole list.

One JSON line per message on stdout (withheld or passed) and in --log.
Bounded: the proxy exits after --lifetime seconds.
"""
import argparse
import json
import re
import socket
import threading
import time

MID = re.compile(rb"(?i)^Message-ID:[ \t]*(<[^>\r\n]+>)")


def pump(src, dst, state):
    """Mailman -> Postfix, unless the replies are being withheld."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if not state["withhold"]:
                dst.sendall(data)
    except OSError:
        pass


def serve(client, args, seen, lock):
    upstream = socket.create_connection((args.upstream_host, args.upstream_port), timeout=None)
    state = {"withhold": False}
    threading.Thread(target=pump, args=(upstream, client, state), daemon=True).start()
    reader = client.makefile("rb")
    in_data, message_id = False, None
    try:
        for line in reader:
            if not in_data:
                upstream.sendall(line)
                if line.upper().startswith(b"DATA"):
                    in_data, message_id = True, None
                continue
            match = MID.match(line)
            if match and message_id is None:
                message_id = match.group(1).decode("ascii", "replace")
            if line in (b".\r\n", b".\n"):
                in_data = False
                with lock:
                    first = message_id not in seen
                    seen.add(message_id)
                state["withhold"] = first
                upstream.sendall(line)
                record(args, "withheld" if first else "passed", message_id)
                continue
            upstream.sendall(line)
    except OSError:
        pass
    finally:
        for s in (client, upstream):
            try:
                s.close()
            except OSError:
                pass


def record(args, what, message_id):
    line = json.dumps({"event": what, "message_id": message_id, "at": round(time.time(), 3)})
    print(line, flush=True)
    if args.log:
        with open(args.log, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--listen-port", type=int, required=True)
    p.add_argument("--upstream-host", default="127.0.0.1")
    p.add_argument("--upstream-port", type=int, default=8024)
    p.add_argument("--log")
    p.add_argument("--lifetime", type=float, default=600)
    args = p.parse_args()
    server = socket.create_server(("127.0.0.1", args.listen_port))
    server.settimeout(1)
    seen, lock = set(), threading.Lock()
    deadline = time.time() + args.lifetime
    while time.time() < deadline:
        try:
            client, _addr = server.accept()
        except TimeoutError:
            continue
        threading.Thread(target=serve, args=(client, args, seen, lock), daemon=True).start()


if __name__ == "__main__":
    main()
