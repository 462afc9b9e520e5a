#!/usr/bin/env python3
"""Open new connections until one works, for the failover e2e test (stdlib only).

  connect_until.py --dst VIP --port P --src ADDR --t0 EPOCH --max-seconds S SPORT...

Tries one connection per client port, in order, each port once: connect (0.25 s), send 64 KiB,
half-close, read the xfer.py server's "<bytes> <sha256> <mss>" line (2 s). The first one that
completes ends it. Prints one JSON object: ok, sport (the one that worked), attempts, and
elapsed_s since --t0 (the moment the test broke something: the failover window as a new
client sees it). Exit 0 if one worked within --max-seconds, 1 otherwise.
"""
import argparse
import json
import socket
import time


def attempt(dst, port, src, sport):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((src, sport))
        s.settimeout(0.25)
        s.connect((dst, port))
        s.settimeout(2)
        s.sendall(b"x" * 65536)
        s.shutdown(socket.SHUT_WR)
        line = s.makefile().readline().split()
        return len(line) >= 2 and line[0] == "65536"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--t0", type=float, required=True)
    ap.add_argument("--max-seconds", type=float, required=True)
    ap.add_argument("sports", type=int, nargs="+")
    a = ap.parse_args()
    res = {"ok": False, "attempts": 0}
    for sport in a.sports:
        if time.time() - a.t0 > a.max_seconds:
            break
        res["attempts"] += 1
        try:
            if attempt(a.dst, a.port, a.src, sport):
                res.update(ok=True, sport=sport)
                break
        except OSError as e:
            res["last_error"] = repr(e)
    res["elapsed_s"] = round(time.time() - a.t0, 3)
    print(json.dumps(res), flush=True)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
