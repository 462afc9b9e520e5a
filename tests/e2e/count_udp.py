#!/usr/bin/env python3
"""UDP sink that counts what it receives (Python stdlib only).

    count_udp.py PORT...

Binds 0.0.0.0:PORT for each PORT, prints "ready", reads every datagram (a large receive buffer:
nothing is lost to a full queue at the tests' rates) and on SIGTERM prints one JSON line
{"PORT": datagrams, ...} and exits.
"""
import json
import selectors
import signal
import socket
import sys


def drain(key, counts):
    """Read everything queued on one socket."""
    while True:
        try:
            key.fileobj.recv(2048)
        except BlockingIOError:
            return
        counts[key.data] += 1


def main():
    sel = selectors.DefaultSelector()
    counts = {}
    for p in sys.argv[1:]:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("0.0.0.0", int(p)))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, p)
        counts[p] = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("ready", flush=True)
    while not stop:
        for key, _ in sel.select(timeout=0.2):
            drain(key, counts)
    # What is still queued arrived before the signal.
    for key in sel.get_map().values():
        drain(key, counts)
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
