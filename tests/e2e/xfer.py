#!/usr/bin/env python3
"""TCP transfer with end-to-end integrity check, for the steering e2e tests (stdlib only).

  xfer.py server --port P --log FILE [--max-seconds S] ADDR...
      Listens on every ADDR:P. For each connection: read until EOF, then answer one line
      "<bytes> <sha256> <mss>" and append a JSON line about it to FILE. Exits after S seconds
      (a bound, in case nobody kills it).

  xfer.py client --dst VIP --port P --src ADDR --sport N [--bytes B] [--seconds T]
                 [--until FILE] [--rate MBIT] [--ready FILE] [--stall S]
      One connection from ADDR:N. Sends a deterministic byte stream (a prime-length random
      block repeated, so a misplaced segment changes the hash), hashing exactly what the kernel
      accepted; paced to MBIT Mbit/s when --rate is given, else as fast as TCP goes. Stops at
      the first limit reached: B bytes, T seconds, or FILE existing (the route flipper creates
      it after its last flip, so a slow machine gets a longer transfer rather than fewer flips
      mid-stream); at least one limit is required. Half-closes, reads the server's line and
      compares byte count and sha256. --ready FILE is written once the handshake is done (the
      route flipper waits for it). Prints one JSON object; exit status:
      0 pass, 1 mismatch, 2 connect failed, 3 reset by peer, 4 stalled (no progress for
      --stall seconds), 5 other error.
"""
import argparse
import hashlib
import json
import os
import random
import socket
import struct
import sys
import threading
import time

BLOCK_LEN = (4 << 20) + 1021  # prime-ish length: stream offsets do not line up with chunks
CHUNK = 64 << 10


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def tcp_info(s):
    """A few fields of struct tcp_info (linux/tcp.h): the layout is stable ABI."""
    try:
        b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        u = struct.unpack("8B24I", b[:104])
        v = u[8:]
        return {"snd_mss": v[2], "rcv_mss": v[3], "total_retrans": v[23]}
    except OSError:
        return {}


def serve(args):
    deadline = time.monotonic() + args.max_seconds
    lock = threading.Lock()

    def log(rec):
        with lock, open(args.log, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def handle(c, peer):
        h, n = hashlib.sha256(), 0
        rec = {"peer": list(peer[:2])}
        c.settimeout(30)
        try:
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                h.update(b)
                n += len(b)
            mss = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
            # Logged before the answer: once the client has it, the record is there.
            log(dict(rec, bytes=n, sha256=h.hexdigest(), mss=mss, error=None))
            c.sendall(f"{n} {h.hexdigest()} {mss}\n".encode())
        except OSError as e:  # a reset or a stall ends up here
            log(dict(rec, bytes=n, sha256=h.hexdigest(), error=repr(e)))
        c.close()

    def listen(addr):
        ls = socket.socket(family(addr), socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, args.port))
        ls.listen(16)
        ls.settimeout(1)
        while time.monotonic() < deadline:
            try:
                c, peer = ls.accept()
            except socket.timeout:
                continue
            threading.Thread(target=handle, args=(c, peer), daemon=True).start()

    for a in args.addr:
        threading.Thread(target=listen, args=(a,), daemon=True).start()
    log({"listening": args.addr, "port": args.port})
    while time.monotonic() < deadline:
        time.sleep(0.5)


def client(args):
    block = random.Random(20240503).randbytes(BLOCK_LEN)
    ring = memoryview(block + block[:CHUNK])
    res = {"result": "error", "sent": 0, "local": f"{args.src}:{args.sport}"}
    code = 5
    h = hashlib.sha256()
    s = socket.socket(family(args.dst), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t0 = time.monotonic()
    try:
        s.bind((args.src, args.sport))
        s.settimeout(args.stall)
        s.connect((args.dst, args.port))
    except OSError as e:
        res.update(result="connect_failed", error=repr(e))
        print(json.dumps(res), flush=True)
        return 2
    res["connect_s"] = round(time.monotonic() - t0, 3)
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write(str(s.getsockname()[1]))
        os.rename(args.ready + ".tmp", args.ready)  # appears complete or not at all
    t1 = time.monotonic()
    sent, chunks = 0, 0
    limit = args.bytes if args.bytes is not None else 1 << 62
    try:
        while True:
            if args.seconds is not None and time.monotonic() - t1 >= args.seconds:
                break
            if args.until and chunks % 16 == 0 and os.path.exists(args.until):
                break
            chunks += 1
            want = min(CHUNK, limit - sent)
            if want <= 0:
                break
            off = sent % BLOCK_LEN
            n = s.send(ring[off:off + want])
            h.update(ring[off:off + n])
            sent += n
            if args.rate:
                ahead = sent * 8 / (args.rate * 1e6) - (time.monotonic() - t1)
                if ahead > 0:
                    time.sleep(ahead)
        res["sent"] = sent
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while not reply.endswith(b"\n"):
            b = s.recv(4096)
            if not b:
                break
            reply += b
        parts = reply.decode().split()
        res.update(server_bytes=int(parts[0]) if parts else None,
                   sha256_match=len(parts) >= 2 and parts[1] == h.hexdigest(),
                   server_mss=int(parts[2]) if len(parts) >= 3 else None)
        ok = res["server_bytes"] == sent and res["sha256_match"]
        res["result"], code = ("pass", 0) if ok else ("mismatch", 1)
    except ConnectionResetError as e:
        res.update(result="reset", error=repr(e), sent=sent)
        code = 3
    except socket.timeout as e:
        res.update(result="stalled", error=repr(e), sent=sent)
        code = 4
    except OSError as e:
        res.update(result="error", error=repr(e), sent=sent)
        code = 5
    res["seconds"] = round(time.monotonic() - t1, 3)
    res["sha256"] = h.hexdigest()
    res["mbit_s"] = round(sent * 8 / max(res["seconds"], 1e-6) / 1e6, 1)
    res.update(tcp_info(s))
    s.close()
    print(json.dumps(res), flush=True)
    return code


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sv = sub.add_parser("server")
    sv.add_argument("--port", type=int, required=True)
    sv.add_argument("--log", required=True)
    sv.add_argument("--max-seconds", type=float, default=300)
    sv.add_argument("addr", nargs="+")
    cl = sub.add_parser("client")
    cl.add_argument("--dst", required=True)
    cl.add_argument("--port", type=int, required=True)
    cl.add_argument("--src", required=True)
    cl.add_argument("--sport", type=int, required=True)
    cl.add_argument("--bytes", type=int, help="stop after this many bytes")
    cl.add_argument("--seconds", type=float, help="stop after this long")
    cl.add_argument("--until", help="stop once this file exists")
    cl.add_argument("--rate", type=float, default=0, help="Mbit/s, 0 = unpaced")
    cl.add_argument("--ready")
    cl.add_argument("--stall", type=float, default=10)
    args = ap.parse_args()
    if args.cmd == "client" and args.bytes is None and args.seconds is None and not args.until:
        ap.error("client needs --bytes, --seconds or --until")
    sys.exit(serve(args) if args.cmd == "server" else client(args))


if __name__ == "__main__":
    main()
