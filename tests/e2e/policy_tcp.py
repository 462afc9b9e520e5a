#!/usr/bin/env python3
"""Real TCP endpoints for policy_mesh.sh (stdlib only, bounded everywhere).

  serve NAME ADDR:PORT...
      Listen on every ADDR:PORT ([V6ADDR]:PORT for IPv6; [::] takes IPv4 too); print "ready"
      once all are bound. Each connection sends one
      line "hello N"; the answer is the line "NAME PORT hello" followed by N bytes, so a
      transfer of full-size segments crosses the mesh in the reply-only direction.
  probe ADDR PORT [--sport P] [--timeout S] [--bytes N]
      Connect (from source port P if given), send "hello N", read the answer line and N bytes,
      print "NAME PORT hello N". Exit codes: 0 answered, 2 connect timed out (dropped on the
      way), 3 refused (an RST came back), 4 any other error (printed).
"""
import errno
import signal
import socket
import socketserver
import sys
import threading

IO_TIMEOUT = 5.0
MAX_BYTES = 1 << 20


def serve(name, endpoints):
    class Handler(socketserver.StreamRequestHandler):
        timeout = IO_TIMEOUT

        def handle(self):
            line = self.rfile.readline(128).decode(errors="replace").split()
            if len(line) != 2 or line[0] != "hello" or not line[1].isdigit():
                return
            n = min(int(line[1]), MAX_BYTES)
            port = self.server.server_address[1]
            self.wfile.write(f"{name} {port} hello\n".encode() + b"x" * n)

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    class Server6(Server):
        address_family = socket.AF_INET6

    servers = []
    for ep in endpoints:
        addr, port = ep.rsplit(":", 1)
        v6 = addr.startswith("[")
        servers.append((Server6 if v6 else Server)((addr.strip("[]"), int(port)), Handler))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    # Runs until the test's cleanup kills it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Event().wait()


def probe(addr, port, sport=0, timeout=3.0, nbytes=0):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sport:
        s.bind(("", sport))
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
    except socket.timeout:
        print(f"timeout: no answer to the SYN within {timeout}s")
        return 2
    except ConnectionRefusedError:
        print("refused")
        return 3
    except OSError as e:
        print(f"error: {errno.errorcode.get(e.errno, e.errno)} {e}")
        return 4
    try:
        s.settimeout(IO_TIMEOUT)
        s.sendall(f"hello {nbytes}\n".encode())
        f = s.makefile("rb")
        line = f.readline(128).decode(errors="replace").strip()
        got = len(f.read(nbytes)) if nbytes else 0
    except OSError as e:
        print(f"error after connect: {errno.errorcode.get(e.errno, e.errno)} {e}")
        return 4
    finally:
        s.close()
    if not line or got != nbytes:
        print(f"error: short answer '{line}' with {got}/{nbytes} bytes")
        return 4
    print(f"{line} {got}")
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "serve":
        serve(argv[1], argv[2:])
        return 0
    if len(argv) >= 3 and argv[0] == "probe":
        opts = {"--sport": 0, "--timeout": 3.0, "--bytes": 0}
        rest = argv[3:]
        while rest:
            if len(rest) < 2 or rest[0] not in opts:
                break
            opts[rest[0]] = type(opts[rest[0]])(rest[1])
            rest = rest[2:]
        else:
            return probe(argv[1], int(argv[2]), opts["--sport"], opts["--timeout"],
                         opts["--bytes"])
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
