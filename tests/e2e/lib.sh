#!/bin/bash
# Shared helpers for the end-to-end tests (sourced). Everything a test creates is named with a
# per-run prefix and removed by an EXIT trap, also when the test fails:
#   network namespaces   ${XI_PFX}<name>        (ns_add)
#   wireguard-go         pids in $XI_TMP/pids   (wg_up)
#   xdp-ingress          instances in $XI_TMP/instances (xi_attach)
# Exit code 77 = skipped (ctest SKIP_RETURN_CODE): only when the process lacks CAP_BPF/NET_ADMIN.
set -euo pipefail

XI_BIN=${XI_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/loader/xdp-ingress}
# Debian's python3 (a make deps package) directly: a version-manager shim first in PATH costs
# ~0.5 s per call on a loaded machine, and the tests call it often. Stdlib only.
XI_PY=${XI_PY:-/usr/bin/python3}
[ -x "$XI_PY" ] || XI_PY=$(command -v python3)
XI_PFX=${XI_PFX:-xi$$-}
XI_TMP=$(mktemp -d /tmp/xi-e2e.XXXXXX)
: >"$XI_TMP/pids"
: >"$XI_TMP/netns"
: >"$XI_TMP/instances"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pass() { printf '  ok   %s\n' "$*"; }
fail() {
    printf '  FAIL %s\n' "$*" >&2
    exit 1
}

require_privileges() {
    local eff
    eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
    if ! (((0x$eff >> 12) & 1)) || ! { (((0x$eff >> 39) & 1)) || (((0x$eff >> 21) & 1)); }; then
        echo "SKIP: needs CAP_BPF and CAP_NET_ADMIN"
        exit 77
    fi
    mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
}

xi_cleanup() {
    local rc=$?
    set +e
    while read -r inst; do
        [ -n "$inst" ] && "$XI_BIN" detach --instance "$inst" >/dev/null 2>&1
    done <"$XI_TMP/instances"
    while read -r pid; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
    done <"$XI_TMP/pids"
    # wireguard-go takes over a second to exit on SIGTERM; do not leave it behind.
    for _ in $(seq 30); do
        local alive=0
        while read -r pid; do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1; done <"$XI_TMP/pids"
        ((alive)) || break
        sleep 0.1
    done
    while read -r pid; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; done <"$XI_TMP/pids"
    while read -r ns; do [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null; done <"$XI_TMP/netns"
    rm -rf "$XI_TMP"
    exit $rc
}
trap xi_cleanup EXIT
trap 'exit 130' INT TERM

# ns_add NAME...: create namespaces ${XI_PFX}NAME with lo up. ns NAME prints the full name.
ns() { echo "${XI_PFX}$1"; }
ns_add() {
    local n
    for n in "$@"; do
        ip netns add "$(ns "$n")"
        ns "$n" >>"$XI_TMP/netns"
        ip -n "$(ns "$n")" link set lo up
    done
}
nsx() {
    local n=$1
    shift
    ip netns exec "$(ns "$n")" "$@"
}

# veth NS_A IF_A NS_B IF_B: a veth pair between two namespaces, both ends up.
veth() {
    ip link add "$2" netns "$(ns "$1")" type veth peer name "$4" netns "$(ns "$3")"
    ip -n "$(ns "$1")" link set "$2" up
    ip -n "$(ns "$3")" link set "$4" up
}

# WireGuard implementation for wg0: the kernel module where the running kernel has it (the VM
# tests on Debian's 6.1/6.12 kernels), wireguard-go otherwise (this host has no module).
# XI_WG=kernel|go forces one. Probed once per test, in a scratch namespace, so that nothing
# is left behind in the caller's namespace; prints which one is used.
XI_WG_IMPL=
wg_impl() {
    [ -n "$XI_WG_IMPL" ] && return 0
    case "${XI_WG:-auto}" in
    kernel | go) XI_WG_IMPL=$XI_WG ;;
    auto)
        local probe="${XI_PFX}wgprobe"
        XI_WG_IMPL=go
        # The module may not be loaded yet; `ip link add` alone autoloads it only where
        # request_module works, so ask modprobe first (quietly: absent is a normal answer).
        modprobe -q wireguard 2>/dev/null || true
        ip netns add "$probe"
        echo "$probe" >>"$XI_TMP/netns"
        if ip -n "$probe" link add wgprobe type wireguard 2>/dev/null; then
            XI_WG_IMPL=kernel
        fi
        ip netns del "$probe"
        ;;
    *) fail "XI_WG must be kernel, go or auto (got '$XI_WG')" ;;
    esac
    if [ "$XI_WG_IMPL" = kernel ]; then
        echo "  wireguard: kernel module (ip link add wg0 type wireguard)"
    else
        echo "  wireguard: wireguard-go $(wireguard-go --version 2>/dev/null | awk '{print $2; exit}') (userspace TUN; no kernel module here)"
    fi
}

# nsip NS: run the `ip` commands on stdin (one per line, without "ip") inside NS, in one
# process: a VM under TCG pays ~0.1 s (much more when the host is loaded) per exec. The family
# comes from the addresses (IPv6 default route: ::/0). Stops at the first failing line.
nsip() {
    ip -n "$(ns "$1")" -batch - || fail "ip -batch in $(ns "$1") failed (line above)"
}

# wg_up NS: create "wg0" in NS with a fresh key; records what it started.
#   kernel:       ip link add wg0 type wireguard (goes away with the namespace)
#   wireguard-go: one process per namespace with a private /run (its control socket path
#                 /run/wireguard/wg0.sock is not per network namespace); pid recorded.
# Configure it with wg_set / wg_peer, which talk to whichever implementation it is.
wg_up() {
    local n=$1 full
    full=$(ns "$n")
    wg_impl
    (umask 077 && wg genkey >"$XI_TMP/$n.key")
    wg pubkey <"$XI_TMP/$n.key" >"$XI_TMP/$n.pub"
    if [ "$XI_WG_IMPL" = kernel ]; then
        ip -n "$full" link add wg0 type wireguard ||
            fail "cannot create a kernel wg0 in $full (XI_WG=go uses wireguard-go)"
        return 0
    fi
    ip netns exec "$full" unshare -m --propagation private \
        sh -c 'mount -t tmpfs tmpfs /run && exec wireguard-go -f wg0' >"$XI_TMP/wg-$n.log" 2>&1 &
    echo $! >>"$XI_TMP/pids"
    echo $! >"$XI_TMP/wg-$n.pid"
    for _ in $(seq 50); do
        ip -n "$full" link show wg0 >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "wireguard-go did not create wg0 in $full: $(cat "$XI_TMP/wg-$n.log")"
}

# wg_set NS ARGS...: run `wg ARGS` against NS's wg0 (kernel: netlink in NS; wireguard-go: its
# UAPI socket in its private /run, so join its mount namespace too).
wg_set() {
    local n=$1
    shift
    if [ "$XI_WG_IMPL" = kernel ]; then
        ip netns exec "$(ns "$n")" wg "$@"
    else
        nsenter -t "$(<"$XI_TMP/wg-$n.pid")" -m -n wg "$@"
    fi
}

# wg_peer NS PEER_NS ENDPOINT ALLOWED_IPS: add PEER_NS's key as a peer of NS.
wg_peer() {
    wg_set "$1" set wg0 listen-port 51820 private-key "$XI_TMP/$1.key" \
        peer "$(<"$XI_TMP/$2.pub")" endpoint "$3:51820" allowed-ips "$4" persistent-keepalive 1
}

# xi_attach NS INSTANCE ARGS...: attach an instance inside NS (joins only the network
# namespace, pins stay visible) and remember it for cleanup.
xi_attach() {
    local n=$1 inst=$2
    shift 2
    echo "$inst" >>"$XI_TMP/instances"
    "$XI_BIN" attach --netns "$(ns "$n")" --instance "$inst" "$@"
}

# xi_detach INSTANCE: detach an instance attached with xi_attach (cleanup detaches it again:
# detach is idempotent).
xi_detach() {
    "$XI_BIN" detach --instance "$1"
}

# Counters come from `status --json`. SRC below is an instance name, or a file holding a
# snapshot of its status (status_json INSTANCE >FILE): one status call for many checks.
status_json() {
    "$XI_BIN" status --json --instance "$1"
}
_xi_status() {
    if [[ "$1" == */* ]]; then cat "$1"; else status_json "$1"; fi
}

# counter SRC HOOK REASON: packets counted at hook ("public/xdp/ingress") and reason label.
counter() {
    _xi_status "$1" |
        "$XI_PY" -c 'import json,sys
j=json.load(sys.stdin)
print(sum(c["packets"] for c in j["counters"] if c["hook"]==sys.argv[1] and c["reason"]==sys.argv[2]))' "$2" "$3"
}

# peer_counter SRC NODE FIELD: a peers[] counter (forwarded_packets, decapsulated_packets,
# ..._bytes) of SRC about sibling NODE; 0 when the node has none yet.
peer_counter() {
    _xi_status "$1" |
        "$XI_PY" -c 'import json,sys
j=json.load(sys.stdin)
print(sum(p[sys.argv[2]] for p in j["peers"] if p["node"]==sys.argv[1]))' "$2" "$3"
}

# drop_counters SRC: "hook reason=packets" for every drop counter that is not zero.
drop_counters() {
    _xi_status "$1" |
        "$XI_PY" -c 'import json,sys
for c in json.load(sys.stdin)["counters"]:
    if c["drop"] and c["packets"]:
        print("%s %s=%d" % (c["hook"], c["reason"], c["packets"]))'
}
