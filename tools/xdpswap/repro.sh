#!/bin/bash
# tools/xdpswap/repro.sh -- swap an XDP program under traffic, many times (run as root, in a VM).
#
#   repro.sh [-m link|nl|detach|ip] [-n SWAPS] [-t SECS] [-T veth|testrun|both|none]
#
# Topology: netns xsw-tx (xs0 10.99.0.1) -- veth -- netns xsw-rx (xs1 10.99.0.2); XDP (native)
# on xs1. Traffic: "veth" = `xdpswap blast` from xsw-tx at 10.99.0.2 as fast as it can (its
# softirq runs the XDP program on the sender's CPU), "testrun" = BPF_PROG_TEST_RUN loops
# (also through bpf_dispatcher_xdp_func), pinned to the last CPU; the swaps run on CPU 0.
# Method "ip" swaps with `ip -force link set dev xs1 xdpdrv obj ... sec xdp` (iproute2, netlink,
# no REPLACE flag, a new program loaded each time) instead of xdpswap. Everything is bounded by SWAPS and SECS and removed at exit.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${XDPSWAP_BIN:-$here/out/xdpswap}
method=link swaps=500 secs=120 traffic=veth
while getopts m:n:t:T: o; do
    case $o in
        m) method=$OPTARG ;; n) swaps=$OPTARG ;; t) secs=$OPTARG ;; T) traffic=$OPTARG ;;
        *) exit 2 ;;
    esac
done
ncpu=$(nproc)
tcpu=$((ncpu - 1))   # traffic CPU (== the swap CPU with one vCPU)
TX=xsw-tx RX=xsw-rx
blast_pid=
cleanup() {
    [[ -n $blast_pid ]] && kill "$blast_pid" 2> /dev/null && wait "$blast_pid" 2> /dev/null || true
    ip netns del $TX 2> /dev/null || true
    ip netns del $RX 2> /dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
modprobe veth 2> /dev/null || true
ip netns add $TX
ip netns add $RX
ip link add name xs0 netns $TX type veth peer name xs1 netns $RX
ip -n $TX addr add 10.99.0.1/24 dev xs0
ip -n $RX addr add 10.99.0.2/24 dev xs1
ip -n $TX link set xs0 up
ip -n $RX link set xs1 up
ip -n $TX link set lo up
rxmac=$(ip -n $RX -o link show xs1 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
ip -n $TX neigh replace 10.99.0.2 lladdr "$rxmac" dev xs0 nud permanent

echo "kernel $(uname -r) cpus $ncpu method $method swaps $swaps secs $secs traffic $traffic"
if [[ $traffic == veth || $traffic == both ]]; then
    # bounded: SECS + 30 s, at most 2e9 datagrams
    ip netns exec $TX "$bin" blast -d 10.99.0.2 -p 9 -t $((secs + 30)) -n 2000000000 -C "$tcpu" &
    blast_pid=$!
    sleep 0.5
fi
hammer=()
[[ $traffic == testrun || $traffic == both ]] && hammer=(-H "$tcpu")

t0=$EPOCHREALTIME
if [[ $method == ip ]]; then
    # iproute2 (netlink, no REPLACE flag, -force replaces what is there); every swap loads a
    # fresh program from its object, as `attach --replace` does
    ip -n $RX link set dev xs1 xdpdrv obj "$here/out/xdpswap_a.bpf.o" sec xdp
    end=$((SECONDS + secs))
    for ((i = 1; i <= swaps && SECONDS < end; i++)); do
        o=b; ((i % 2)) || o=a
        ip -force -n $RX link set dev xs1 xdpdrv obj "$here/out/xdpswap_$o.bpf.o" sec xdp
        ((i % 50)) || echo "swaps $i t=$((SECONDS - end + secs))s"
    done
    ip -n $RX link set dev xs1 xdpdrv off
    echo "done method=ip swaps=$((i - 1)) secs=$((SECONDS - end + secs))"
else
    ip netns exec $RX taskset -c 0 "$bin" swap -i xs1 -m "$method" -n "$swaps" -t "$secs" -S 0 "${hammer[@]}"
fi
t1=$EPOCHREALTIME
echo "swap phase wall $(((${t1/./} - ${t0/./}) / 1000)) ms"
if [[ -n $blast_pid ]]; then kill -INT "$blast_pid" 2> /dev/null || true; wait "$blast_pid" || true; blast_pid=; fi
