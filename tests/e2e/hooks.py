#!/usr/bin/env python3
"""What the kernel runs on network interfaces, from inside their namespace, as one JSON document.

    hooks.py NETNS [IFNAME...]    NETNS: a name under /var/run/netns, a path, or - (this one)

    {"interfaces": {"IFNAME": {"exists": true,
                               "xdp": {"id": 12, "mode": "native"} or null,
                               "tcx": {"ingress": [ids], "egress": [ids]},  (kernel >= 6.6)
                               "tc": {"ingress": [ids], "egress": [ids]},   (BPF filters)
                               "clsact": true|false}},                      (the qdisc)
     "names": {"12": "xi_xdp_public", ...},  the name of every program id above
     "tcx": true|false}                      whether the kernel has tcx

One process per namespace instead of one per question: on a busy machine (and far more under
emulation) process start-up is what e2e tests spend their time on. bpftool 7.1 and tc show
nothing of tcx, so tcx is asked with BPF_PROG_QUERY directly.
"""
import ctypes
import json
import os
import socket
import struct
import subprocess
import sys

CLONE_NEWNET = 0x40000000
SYS_BPF, BPF_PROG_QUERY = 321, 16  # x86_64
TCX = {"ingress": 46, "egress": 47}  # BPF_TCX_INGRESS/EGRESS
XDP_MODES = {1: "native", 2: "generic", 3: "offload"}

libc = ctypes.CDLL(None, use_errno=True)


def join_netns(name):
    path = name if "/" in name else "/var/run/netns/" + name
    fd = os.open(path, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        sys.exit("setns %s: %s" % (path, os.strerror(ctypes.get_errno())))
    os.close(fd)


def tcx_query(ifindex, direction):
    """Program ids tcx runs on ifindex, or None when the kernel has no tcx."""
    ids = (ctypes.c_uint32 * 64)()
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("II", attr, 0, ifindex, TCX[direction])
    struct.pack_into("QI", attr, 16, ctypes.addressof(ids), 64)
    if libc.syscall(SYS_BPF, BPF_PROG_QUERY, attr, 64) != 0:
        err = ctypes.get_errno()
        if err == 22:  # EINVAL: no such attach type before 6.6
            return None
        sys.exit("BPF_PROG_QUERY ifindex %d: %s" % (ifindex, os.strerror(err)))
    return [ids[i] for i in range(struct.unpack_from("I", attr, 24)[0])]


def run_json(*argv):
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()
    return json.loads(out) if out else []


def interface(name):
    try:
        ifindex = socket.if_nametoindex(name)
    except OSError:
        return {"exists": False}
    link = run_json("ip", "-j", "-d", "link", "show", "dev", name)[0]
    xdp = link.get("xdp", {})
    res = {
        "exists": True,
        "xdp": {"id": xdp["prog"]["id"], "mode": XDP_MODES.get(xdp.get("mode"), "?")}
        if "prog" in xdp else None,
        "tcx": {}, "tc": {},
        "clsact": any(q.get("kind") == "clsact"
                      for q in run_json("tc", "-j", "qdisc", "show", "dev", name)),
    }
    for d in ("ingress", "egress"):
        res["tcx"][d] = tcx_query(ifindex, d) or []
        res["tc"][d] = [f["options"]["prog"]["id"]
                        for f in run_json("tc", "-j", "filter", "show", "dev", name, d)
                        if f.get("kind") == "bpf" and "prog" in f.get("options", {})]
    return res


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if sys.argv[1] != "-":
        join_netns(sys.argv[1])
    ifaces = {name: interface(name) for name in sys.argv[2:]}
    ids = set()
    for i in ifaces.values():
        if i["exists"]:
            ids.update(([i["xdp"]["id"]] if i["xdp"] else []) +
                       [p for kind in ("tcx", "tc") for d in i[kind].values() for p in d])
    names = {}
    if ids:
        names = {str(p["id"]): p.get("name", "") for p in run_json("bpftool", "-j", "prog", "show")
                 if p["id"] in ids}
    json.dump({"interfaces": ifaces, "names": names,
               "tcx": tcx_query(socket.if_nametoindex("lo"), "ingress") is not None}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
