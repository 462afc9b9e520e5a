#!/bin/bash
# Shared helpers for the end-to-end tests (sourced). Everything a test creates is named with a
# per-run prefix and removed by an EXIT trap, also when the test fails:
#   network namespaces   ${XI_PFX}<name>        (ns_add)
#   wireguard-go         pids in $XI_TMP/pids   (wg_up)
#   xdp-ingress          instances in $XI_TMP/instances (xi_attach)
#   private bpffs mounts $XI_TMP/mounts         (bpffs_private)
# Exit code 77 = skipped (ctest SKIP_RETURN_CODE): only when the process lacks CAP_BPF/NET_ADMIN
# (require_privileges).
#
# XI_BUDGET=SECONDS, set before sourcing: the test re-executes itself under `timeout`, so a hang
# ends with SIGTERM - and the cleanup below - after that long, instead of ctest's SIGKILL later
# (which would leave namespaces and daemons behind).
set -euo pipefail

# Inside a vmtest VM (TCG emulation, VMTEST_GUEST=1) every process is several times slower:
# the budget grows by XI_VM_BUDGET_FACTOR (default 6).
if [ -n "${XI_BUDGET:-}" ] && [ -z "${XI_BUDGET_ARMED:-}" ] && [ "${VMTEST_GUEST:-}" = 1 ]; then
    XI_BUDGET=$((XI_BUDGET * ${XI_VM_BUDGET_FACTOR:-6}))
fi
if [ -n "${XI_BUDGET:-}" ] && [ -z "${XI_BUDGET_ARMED:-}" ]; then
    export XI_BUDGET_ARMED=$XI_BUDGET
    exec timeout -k 30 "$XI_BUDGET" "$0" "$@"
fi

XI_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XI_BIN=${XI_BIN:-$XI_E2E_DIR/../../build/loader/xdp-ingress}
XI_PFX=${XI_PFX:-xi$$-}
# The distribution's python3 for the JSON and syscall helpers: a version-manager shim in PATH
# (pyenv) costs ~0.7 s a call, which adds up over a test's hundred calls on a busy machine.
XI_PY=${XI_PY:-$(if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi)}
XI_TMP=$(mktemp -d /tmp/xi-e2e.XXXXXX)
: >"$XI_TMP/pids"
: >"$XI_TMP/netns"
: >"$XI_TMP/instances"
: >"$XI_TMP/mounts"

say() { printf '\n\033[1m== %s\033[0m (at %d s)\n' "$*" "$SECONDS"; }
pass() { printf '  ok   %s\n' "$*"; }
fail() {
    printf '  FAIL %s\n' "$*" >&2
    exit 1
}

# The hand-off mode the steering tests attach with (docs/steering.md), from XI_HANDOFF_MODE:
#   tc | xdp-mark | xdp-mark-fails (xdp-mark, every mark failing: the binary's test switch
#   XI_TEST_MARK_FAILS) | empty: the loader's default (auto).
case "${XI_HANDOFF_MODE:-}" in
"" | tc | xdp-mark) ;;
xdp-mark-fails) export XI_TEST_MARK_FAILS=1 ;;
*)
    echo "XI_HANDOFF_MODE=$XI_HANDOFF_MODE: not tc, xdp-mark or xdp-mark-fails" >&2
    exit 2
    ;;
esac
# handoff_args: the attach arguments of that mode (none for the default).
handoff_args() {
    case "${XI_HANDOFF_MODE:-}" in
    tc) echo "--handoff tc" ;;
    xdp-mark | xdp-mark-fails) echo "--handoff xdp-mark" ;;
    esac
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
    trap '' INT TERM # finish cleaning up even when a signal (e.g. the time budget) ended the test
    while read -r inst; do
        [ -n "$inst" ] && timeout 30 "$XI_BIN" detach --instance "$inst" >/dev/null 2>&1
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
    while read -r m; do [ -n "$m" ] && umount -l "$m" 2>/dev/null; done <"$XI_TMP/mounts"
    rm -rf "$XI_TMP"
    exit $rc
}
trap xi_cleanup EXIT
trap 'printf "  FAIL stopped by a signal (time budget: %s s)\n" "${XI_BUDGET_ARMED:-none}" >&2; exit 130' INT TERM

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
    # A fresh VM (vmtest) has no /dev/net/tun until the module is loaded (wireguard-go only).
    [ "$XI_WG_IMPL" = kernel ] || [ -e /dev/net/tun ] || modprobe tun
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
    local n=$1 inst=$2 ho
    shift 2
    echo "$inst" >>"$XI_TMP/instances"
    read -r -a ho <<<"$(handoff_args)"
    "$XI_BIN" attach --netns "$(ns "$n")" --instance "$inst" "${ho[@]}" "$@"
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

# wait_for SECONDS CMD...: until CMD succeeds (checked every 0.2 s); 1 after SECONDS.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
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

# Assertions on commands and their output, and file edits: lib_assert.sh.
# shellcheck source-path=SCRIPTDIR source=lib_assert.sh
source "$XI_E2E_DIR/lib_assert.sh"

# --- What the kernel has attached -------------------------------------------------------------

# hooks NS|- [IFNAME...]: JSON of what the kernel runs on these interfaces of NS (- = this
# namespace): XDP, tcx, tc filters, clsact, program names, tcx support. See hooks.py.
hooks() {
    local n=$1
    shift
    [ "$n" = - ] || n=$(ns "$n")
    "$XI_PY" "$XI_E2E_DIR/hooks.py" "$n" "$@"
}

# have_tcx: the kernel has tcx (>= 6.6; the loader falls back to clsact before).
have_tcx() {
    [ "$(hooks - | json_get /dev/stdin 'j["tcx"]')" = True ]
}

# bpf_ids_alive KIND:ID...: those of these objects (KIND: prog, link or map) the kernel still has.
bpf_ids_alive() {
    "$XI_PY" - "$@" <<'EOF'
import json, subprocess, sys
want = [a.split(":") for a in sys.argv[1:]]
have = {}
for kind in sorted({k for k, _ in want}):
    out = subprocess.run(["bpftool", "-j", kind, "show"], check=True, capture_output=True,
                         text=True).stdout
    have[kind] = {o["id"] for o in json.loads(out or "[]")}
print(" ".join("%s:%s" % (k, i) for k, i in want if int(i) in have[k]))
EOF
}

# --- BPF filesystem -------------------------------------------------------------------------

# bpffs_private DIR: mount a fresh, empty bpffs at DIR (unmounted on exit), for tests that must
# not see the instances other tests on this machine have in /sys/fs/bpf.
bpffs_private() {
    mkdir -p "$1"
    mount -t bpf bpf "$1"
    echo "$1" >>"$XI_TMP/mounts"
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
