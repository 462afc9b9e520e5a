#!/bin/bash
# Shared by reload_traffic.sh and reload_crash.sh (sourced first thing after XI_BUDGET: it
# sources lib.sh and checks the privileges): a two-namespace
# topology with one attached edge, two policies that give different verdicts to the same
# traffic, a paced sender and counter snapshots.
#
#   tx (not attached: sends anything, from any source)       rx: edge "rx", xdp-ingress attached
#     m0  10.201.0.x (role senders), 10.201.1.1 (backends) -- wg0  10.200.0.2 (mesh: a veth, L2 entries)
#     p0  192.0.2.1                                         -- pub0 192.0.2.2  (public: XDP + TC)
#
# Static neighbours and no IPv6: nothing but the test's own packets crosses the links, so the
# counters of a hook add up to exactly what was sent. rx keeps sockets bound on the ports the
# test sends to (never read): allowed datagrams die there quietly instead of causing ICMP.
# The instance lives in a private bpffs (its own pin root and lock: a loader the test stops
# mid-reload holds the lock of its pin root, and nothing else on the machine waits for it).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_privileges

RC_PY=${XI_PY:-/usr/bin/python3}
PACE=$XI_E2E_DIR/pace_udp.py
INST=${XI_PFX}rx
BPFFS=$XI_TMP/bpffs
REAL_BIN=$XI_BIN
# Every loader call of the test (and lib.sh's cleanup detach) goes to the private bpffs.
XI_BIN=$XI_TMP/xdp-ingress
printf '#!/bin/sh\nexec "%s" --bpffs "%s" "$@"\n' "$REAL_BIN" "$BPFFS" >"$XI_BIN"
chmod +x "$XI_BIN"
MESH_RX=10.200.0.2
BACKEND=10.201.1.1
PUB_RX=192.0.2.2
VIP=198.51.100.10

mac_of() { ip -n "$(ns "$1")" -j link show "$2" | "$RC_PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])'; }

rc_topology() {
    local n
    ns_add tx rx
    for n in tx rx; do
        nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    done
    veth tx m0 rx wg0
    veth tx p0 rx pub0
    local m0 wg0 p0 pub0
    m0=$(mac_of tx m0)
    wg0=$(mac_of rx wg0)
    p0=$(mac_of tx p0)
    pub0=$(mac_of rx pub0)
    nsip tx <<EOF
addr add 10.201.0.1/32 dev m0
addr add $BACKEND/32 dev m0
route add 10.200.0.0/24 dev m0
neigh replace $MESH_RX lladdr $wg0 dev m0 nud permanent
addr add 192.0.2.1/24 dev p0
neigh replace $PUB_RX lladdr $pub0 dev p0 nud permanent
route add $VIP/32 via $PUB_RX dev p0
EOF
    nsip rx <<EOF
addr add $MESH_RX/32 dev wg0
route add 10.201.0.0/16 dev wg0
neigh replace 10.201.0.1 lladdr $m0 dev wg0 nud permanent
neigh replace $BACKEND lladdr $m0 dev wg0 nud permanent
addr add $PUB_RX/24 dev pub0
neigh replace 192.0.2.1 lladdr $p0 dev pub0 nud permanent
EOF
    bpffs_private "$BPFFS"
}

# rc_config FILE RULES_YAML [RX_WEIGHT SIB_WEIGHT]: the fleet config with these rules
# (senders -> edges, udp). Edge "sib" (10.200.0.3) exists only in the config: with weights
# "0 100" it owns every VIP flow, and rx forwards them (encapsulated into its wg0, where the
# frame leaves for tx, which ignores it); default "100 0": rx owns them all. UDP flows stay
# tracked for 600 s idle: reload_traffic's tracked flow must outlive the replaces by their
# effect, not by a 60 s clock that a slow VM runs past (seen: 6.12 under TCG, both the
# tracked and the untracked answer dropped as reply_only).
rc_config() {
    cat >"$1" <<EOF
version: 1
fleet: {hash_seed: 0x6a09e667f3bcc908, maglev_table_size: 257, mesh_mtu: 1420}
nodes:
  - {name: rx, public_interface: pub0, mesh_interface: wg0, mesh_ipv4: $MESH_RX, weight: ${3:-100}}
  - {name: sib, public_interface: eth0, mesh_interface: wg0, mesh_ipv4: 10.200.0.3, weight: ${4:-0}}
vips:
  - {name: svc, address: $VIP, protocol: udp, ports: [53]}
identities:
  edges: [10.200.0.0/24]
  senders: [10.201.0.0/24]
  backends: [10.201.1.0/24]
rules:
$2
default: {ingress: deny, egress: allow}
reply_only: [backends]
conntrack: {udp: 600}
EOF
}

# rc_attach CONFIG: attach the instance in rx. rc_sink NS PORT...: UDP sockets bound in NS
# (never read: what arrives dies there quietly, no ICMP port unreachable).
rc_attach() {
    xi_attach rx "$INST" --config "$1" --node rx >"$XI_TMP/attach.log" 2>&1 ||
        fail "attach: $(cat "$XI_TMP/attach.log")"
}
rc_sink() {
    local n=$1
    shift
    bg_run "sink-$n" ip netns exec "$(ns "$n")" "$RC_PY" -c 'import socket,sys,time
socks=[]
for p in sys.argv[1:]:
    s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind(("0.0.0.0", int(p)))
    socks.append(s)
print("ready", flush=True)
time.sleep(3600)' "$@"
    wait_log "sink-$n" '^ready' 10
}

# Source addresses and ports: every packet of a run is a new flow (10.201.0.N:PORT), so a
# connection-table entry of an earlier packet never decides a later packet's verdict.
SRC_N=1
SRC_PORT=1024
# alloc COUNT: sets SRC and SPORT to a fresh range of COUNT source ports.
alloc() {
    if ((SRC_PORT + $1 - 1 > 65535)); then
        SRC_N=$((SRC_N + 1))
        SRC_PORT=1024
    fi
    ((SRC_N < 250)) || fail "out of source addresses"
    SRC=10.201.0.$SRC_N
    SPORT=$SRC_PORT
    SRC_PORT=$((SRC_PORT + $1))
}

# send COUNT DPORT [RATE]: COUNT new flows to rx's mesh address, paced (default 2000/s);
# waits for the sender, prints nothing, fails if a send failed.
send() {
    alloc "$1"
    nsx tx "$RC_PY" "$PACE" "$SRC" "$MESH_RX" "$2" "$SPORT" "$1" "${3:-2000}" >"$XI_TMP/send.log" 2>&1 ||
        fail "sender: $(tail -3 "$XI_TMP/send.log")"
}

# sender_start NAME SRC DST DPORT COUNT RATE / sender_stop NAME: a paced sender in tx, in the
# background; stop prints how many it sent.
sender_start() {
    bg_run "$1" ip netns exec "$(ns tx)" "$RC_PY" "$PACE" "$2" "$3" "$4" "$SPORT" "$5" "$6"
    wait_log "$1" '^started' 10
}
sender_stop() {
    bg_stop "$1" || fail "sender $1 ignored SIGTERM"
    grep -q '^sent ' "$XI_TMP/$1.log" || fail "sender $1: $(tail -3 "$XI_TMP/$1.log")"
    if grep -q '^send ' "$XI_TMP/$1.log"; then fail "sender $1: $(grep -m3 '^send ' "$XI_TMP/$1.log")"; fi
    awk '/^sent / {print $2}' "$XI_TMP/$1.log"
}

# snap TAG: status --json of the instance into $XI_TMP/s-TAG.json.
snap() {
    "$XI_BIN" --json status --instance "$INST" >"$XI_TMP/s-$1.json" || fail "status --json failed"
}
# handoff_of TAG: the hand-off of the public interface in a snapshot (tc or xdp-mark).
handoff_of() {
    json_get "$XI_TMP/s-$1.json" "[a['handoff'] for a in j['attachments'] if a['hook']=='tc/ingress' and 'handoff' in a][0]"
}
# decision_hook: where this run's hand-off counts steering decisions (from XI_HANDOFF_MODE, or
# what the loader picks by default here).
decision_hook() {
    local m=${XI_HANDOFF_MODE:-$("$XI_BIN" -j features | "$RC_PY" -c 'import json,sys; print(json.load(sys.stdin)["auto"])')}
    [ "$m" = xdp-mark ] && echo public/xdp/ingress || echo public/tc/ingress
}
# gen TAG: the active generation number of a snapshot.
gen() { json_get "$XI_TMP/s-$1.json" "j['generation']['number']"; }

# settle BASE TAG HOOK N REASON...: snapshot TAG once these reasons at HOOK have grown by N
# since snapshot BASE (packets may still sit in a backlog queue when the sender returns); at
# most 5 s. The caller then compares exactly.
settle() {
    local base=$1 tag=$2 hook=$3 want=$4 expr r
    shift 4
    expr="sum(c['packets'] for c in j['counters'] if c['hook']=='$hook' and c['reason'] in ("
    for r in "$@"; do expr+="'$r',"; done
    expr+="))"
    local b
    b=$(json_get "$XI_TMP/s-$base.json" "$expr")
    for _ in $(seq 50); do
        snap "$tag"
        (($(json_get "$XI_TMP/s-$tag.json" "$expr") - b >= want)) && return 0
        sleep 0.1
    done
}

# delta A B: JSON object of every counter that changed between snapshots A and B:
# {"HOOK REASON": n, "rule NAME": n, "peer NODE forwarded": n}, e.g. {"mesh/tc/ingress allow_rule": 500}.
delta() {
    "$RC_PY" - "$XI_TMP/s-$1.json" "$XI_TMP/s-$2.json" <<'EOF'
import json, sys
def flat(path):
    j = json.load(open(path))
    d = {"%s %s" % (c["hook"], c["reason"]): c["packets"] for c in j["counters"]}
    d.update({"rule " + r["rule"]: r["packets"] for r in j["rules"]})
    d.update({"peer %s forwarded" % p["node"]: p["forwarded_packets"] for p in j["peers"]})
    return d
a, b = flat(sys.argv[1]), flat(sys.argv[2])
print(json.dumps({k: v - a.get(k, 0) for k, v in sorted(b.items()) if v != a.get(k, 0)}))
EOF
}

# expect_delta A B WHAT KEY=N...: the counters that changed from A to B are exactly these.
expect_delta() {
    local a=$1 b=$2 what=$3 got
    shift 3
    got=$(delta "$a" "$b")
    "$RC_PY" - "$got" "$@" <<'EOF' || fail "$what: counters changed by $got, expected $*"
import json, sys
got = json.loads(sys.argv[1])
want = {k: int(v) for k, v in (a.rsplit("=", 1) for a in sys.argv[2:])}
sys.exit(0 if got == want else 1)
EOF
    pass "$what: $got"
}
