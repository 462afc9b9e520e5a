#!/bin/bash
# Shared helpers for the end-to-end tests (sourced). Everything a test creates is named with a
# per-run prefix and removed by an EXIT trap, also when the test fails:
#   network namespaces   ${XI_PFX}<name>        (ns_add)
#   wireguard-go         pids in $XI_TMP/pids   (wg_up)
#   xdp-ingress          instances in $XI_TMP/instances (xi_attach)
# Exit code 77 = skipped (ctest SKIP_RETURN_CODE): only when the process lacks CAP_BPF/NET_ADMIN.
set -euo pipefail

XI_BIN=${XI_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/loader/xdp-ingress}
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
        echo "$(ns "$n")" >>"$XI_TMP/netns"
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

# wg_up NS: start wireguard-go "wg0" in NS with a private /run (its control socket path is not
# per network namespace) and a fresh key; prints nothing, records the pid.
wg_up() {
    local n=$1 full
    full=$(ns "$n")
    (umask 077 && wg genkey >"$XI_TMP/$n.key")
    wg pubkey <"$XI_TMP/$n.key" >"$XI_TMP/$n.pub"
    ip netns exec "$full" unshare -m --propagation private \
        sh -c 'mount -t tmpfs tmpfs /run && exec wireguard-go -f wg0' >"$XI_TMP/wg-$n.log" 2>&1 &
    echo $! >>"$XI_TMP/pids"
    echo $! >"$XI_TMP/wg-$n.pid"
    local i
    for i in $(seq 50); do
        ip -n "$full" link show wg0 >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "wireguard-go did not create wg0 in $full: $(cat "$XI_TMP/wg-$n.log")"
}

# wg_set NS ARGS...: run `wg ARGS` against NS's wireguard-go.
wg_set() {
    local n=$1
    shift
    nsenter -t "$(cat "$XI_TMP/wg-$n.pid")" -m -n wg "$@"
}

# wg_peer NS PEER_NS ENDPOINT ALLOWED_IPS: add PEER_NS's key as a peer of NS.
wg_peer() {
    wg_set "$1" set wg0 listen-port 51820 private-key "$XI_TMP/$1.key" \
        peer "$(cat "$XI_TMP/$2.pub")" endpoint "$3:51820" allowed-ips "$4" persistent-keepalive 1
}

# xi_attach NS INSTANCE ARGS...: attach an instance inside NS (joins only the network
# namespace, pins stay visible) and remember it for cleanup.
xi_attach() {
    local n=$1 inst=$2
    shift 2
    echo "$inst" >>"$XI_TMP/instances"
    "$XI_BIN" attach --netns "$(ns "$n")" --instance "$inst" "$@"
}

# counter INSTANCE HOOK REASON: packets counted at hook ("public/xdp/ingress") and reason label.
counter() {
    "$XI_BIN" status --json --instance "$1" |
        python3 -c 'import json,sys
j=json.load(sys.stdin)
print(sum(c["packets"] for c in j["counters"] if c["hook"]==sys.argv[1] and c["reason"]==sys.argv[2]))' "$2" "$3"
}

# bg_run NAME CMD...: run CMD in the background (wrap it in `ip netns exec NS` to place it),
# output in $XI_TMP/NAME.log. The pid goes to the cleanup list, and to $XI_TMP/NAME.pid for
# bg_stop. CMD must be a program, not a shell function: the recorded pid must be the process
# itself (`ip netns exec` execs its command, so the pid stays the same).
bg_run() {
    local name=$1
    shift
    "$@" >"$XI_TMP/$name.log" 2>&1 &
    echo $! >>"$XI_TMP/pids"
    echo $! >"$XI_TMP/$name.pid"
}

# bg_stop NAME: SIGTERM a process started by bg_run and wait (at most 3 s) until it is gone,
# so its output is complete. Returns 1 if it ignored SIGTERM and had to be killed.
bg_stop() {
    local pid
    pid=$(cat "$XI_TMP/$1.pid")
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    return 1
}

# wait_log NAME REGEX SECONDS: wait (bounded) until the output of bg_run NAME matches REGEX.
wait_log() {
    for _ in $(seq $(($3 * 10))); do
        grep -qE "$2" "$XI_TMP/$1.log" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "$1 did not print '$2' within $3 s: $(tail -n 5 "$XI_TMP/$1.log" 2>/dev/null)"
}

# star_underlay SWITCH NODE=ADDR/LEN...: an L2 underlay: a bridge in namespace SWITCH and one
# veth per NODE (eth0 in NODE, with ADDR), so that every node reaches every other directly.
star_underlay() {
    local sw=$1 spec node
    shift
    ip -n "$(ns "$sw")" link add br0 type bridge
    ip -n "$(ns "$sw")" link set br0 up
    for spec in "$@"; do
        node=${spec%%=*}
        veth "$node" eth0 "$sw" "p-$node"
        ip -n "$(ns "$sw")" link set "p-$node" master br0
        ip -n "$(ns "$node")" addr add "${spec#*=}" dev eth0
    done
}
