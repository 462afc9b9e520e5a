#!/bin/bash
# tools/xdpswap/probe.sh -- inside a VM: where the XDP dispatcher's static call lives, and its
# bytes before and after one XDP attach (needs /proc/kcore; prints addresses from kallsyms).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
echo "kernel $(uname -r)"
grep -E ' (bpf_dispatcher_xdp_func|__SCT__bpf_dispatcher_xdp_call|__SCK__bpf_dispatcher_xdp_call|bpf_dispatcher_xdp|poke_int3_handler|text_poke_bp_batch|bpf_dispatcher_change_prog)$' /proc/kallsyms
dump() {  # dump 32 bytes at the symbol from /proc/kcore (python3: ELF program headers)
    python3 - "$1" <<'PY'
import struct, sys
name = sys.argv[1]
addr = next(int(l.split()[0], 16) for l in open('/proc/kallsyms') if l.split()[2] == name)
f = open('/proc/kcore', 'rb'); h = f.read(64)
phoff, phentsize, phnum = struct.unpack_from('<Q', h, 32)[0], *struct.unpack_from('<HH', h, 54)
for i in range(phnum):
    f.seek(phoff + i * phentsize)
    t, fl, off, va, pa, fsz, msz, al = struct.unpack('<IIQQQQQQ', f.read(56))
    if t == 1 and va <= addr < va + msz:
        f.seek(off + addr - va); b = f.read(32)
        print("%-32s %x: %s" % (name, addr, b.hex(' '))); break
PY
}
dump bpf_dispatcher_xdp_func; dump __SCT__bpf_dispatcher_xdp_call
# the other text on the dispatcher function's 4 KiB page (TCG tracks code per page)
python3 - <<'PY'
syms = [(int(l.split()[0], 16), l.split()[2]) for l in open('/proc/kallsyms') if l.split()[1] in 'tT']
a = next(x for x, n in syms if n == 'bpf_dispatcher_xdp_func')
on = sorted((x, n) for x, n in syms if x >> 12 == a >> 12)
print("page %x: %d functions: %s" % (a >> 12 << 12, len(on), ' '.join(n for x, n in on)))
PY
ip link add name pr0 type veth peer name pr1
ip link set pr0 up; ip link set pr1 up
ip link set dev pr1 xdpdrv obj "$here/out/xdpswap.bpf.o" sec xdp 2>&1 | tail -1 || true
ip -d link show pr1 | grep -o 'prog/xdp id [0-9]*' || true
echo "after attach:"; dump bpf_dispatcher_xdp_func; dump __SCT__bpf_dispatcher_xdp_call
ip link del pr0
