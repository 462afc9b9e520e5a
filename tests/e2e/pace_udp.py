#!/usr/bin/env python3
"""Paced UDP sender for the reload tests (Python stdlib only).

    pace_udp.py SRC DST DPORT SPORT COUNT RATE

Sends COUNT IPv4/UDP datagrams SRC:SPORT+i -> DST:DPORT (i = 0..COUNT-1) at RATE packets per
second on an absolute schedule (no drift), through a raw socket (IP_HDRINCL: any source
address, no socket per packet). Every packet is a new flow (its own source port), so the
receiver's connection table never decides its verdict: the policy generation does. A
SIGTERM or SIGUSR1 stops it after the packet in progress. Prints "started" after the first
packet and "sent N" (N = sendto calls that succeeded) at the end; exits 1 if a send failed.
COUNT 0 with RATE 0: send nothing, just print "sent 0".
"""
import signal
import socket
import struct
import sys
import time


def main():
    src, dst, dport, sport, count, rate = sys.argv[1:7]
    dport, sport, count, rate = int(dport), int(sport), int(count), float(rate)
    if sport + count - 1 > 65535:
        sys.exit(f"source ports {sport}..{sport + count - 1} exceed 65535")
    stop = []
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, lambda *_: stop.append(1))
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    payload = b"xi-reload-test"
    saddr, daddr = socket.inet_aton(src), socket.inet_aton(dst)
    sent, failed = 0, 0
    t0 = time.monotonic()
    for i in range(count):
        if stop:
            break
        if rate > 0:
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        udp = struct.pack("!HHHH", sport + i, dport, 8 + len(payload), 0)  # checksum 0: none
        # Total length and header checksum are filled in by the kernel (IP_HDRINCL).
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, i & 0xFFFF, 0x4000, 64, socket.IPPROTO_UDP,
                         0, saddr, daddr)
        try:
            s.sendto(ip + udp + payload, (dst, 0))
            sent += 1
        except OSError as e:
            failed += 1
            print(f"send {i}: {e}", file=sys.stderr)
        if sent == 1:
            print("started", flush=True)
    print(f"sent {sent}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
