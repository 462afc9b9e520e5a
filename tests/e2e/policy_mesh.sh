#!/bin/bash
# Issue #4: the mesh policy holds end to end, on real TCP connections across a real WireGuard
# mesh, with every node running `xdp-ingress attach` from ONE shared fleet config.
#
#   edge  (edges; XDP on its public eth0)   10.200.0.1   fd00:200::1   --+
#   app1, app2 (backends)                   10.201.0.1x  fd00:201::1x    +-- wg0, full mesh
#   db    (databases)                       10.202.0.31  fd00:202::31  --+
# The underlay is one bridge in namespace "sw" (192.168.77.0/24). The db also answers on the
# metadata addresses 169.254.169.254 and fd00:ec2::254 (on its lo): the edge routes them into
# wg0 and its peer entry for the db allows them, so only the policy stands in the way.
#
# Policy: edges -> backends tcp 8080 (LB) and 9090 (health);
# edges -> any tcp 22 denied by a rule; default ingress deny, egress allow; backends and
# databases reply-only; metadata block on.
#
# Asserted with real TCP connections, each either answered or dropped on the way (the connect
# times out; a refusal by the peer would be an RST and fails the test):
#   - edge -> app1:8080, app1:9090, app2:8080 (and app1:8080 over IPv6) are answered with
#     64 KB: the reply-only backends' answers pass as tracked connections, in full-size
#     segments that fit wg0;
#   - dropped: edge -> db:5432 (default, at the db's mesh ingress), edge -> app1:22 (rule
#     no-ssh-from-edges, at the edge's mesh egress), edge -> 169.254.169.254:80 and
#     [fd00:ec2::254]:80 (metadata, at the edge's mesh egress, although the db answers there
#     locally), app1 -> app2:8080/9090, [app2]:8080 and db:5432 (reply_only, at app1's own egress);
#   - `monitor --json`, running meanwhile, reports each drop with tuple, hook, reason, roles,
#     rule; it ends on SIGTERM; status counters agree; the allowing rules' counters grew;
#   - a SYN crossing wg0 arrives with MSS <= MTU-40 (IPv4) / MTU-60 (IPv6) although its sender
#     advertised more (tcpdump on the receiver's wg0; the mss_clamped counter).
# Usage: policy_mesh.sh (root; exit 77 = skipped without CAP_BPF/CAP_NET_ADMIN).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

# Debian's python3 directly: a version-manager shim in PATH costs ~0.5 s per call here.
PY=${XI_PY:-/usr/bin/python3}
[ -x "$PY" ] || PY=$(command -v python3)
TCP=$HERE/policy_tcp.py
T0=$(date +%s.%N)

NODES=(edge app1 app2 db)
declare -A MESH=([edge]=10.200.0.1 [app1]=10.201.0.11 [app2]=10.201.0.12 [db]=10.202.0.31)
declare -A MESH6=([edge]=fd00:200::1 [app1]=fd00:201::11 [app2]=fd00:201::12 [db]=fd00:202::31)
declare -A UNDER=([edge]=192.168.77.1 [app1]=192.168.77.11 [app2]=192.168.77.12 [db]=192.168.77.31)
META4=169.254.169.254
META6=fd00:ec2::254
MTU=1420

inst() { echo "${XI_PFX}$1"; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }

write_config() {
    local n
    {
        cat <<EOF
version: 1
fleet:
  hash_seed: 0x6a09e667f3bcc908
  maglev_table_size: 65537
  mesh_mtu: $MTU
nodes:
EOF
        for n in "${NODES[@]}"; do
            echo "  - name: $n"
            [ "$n" = edge ] && echo "    public_interface: eth0"
            echo "    mesh_ipv4: ${MESH[$n]}"
            echo "    mesh_ipv6: ${MESH6[$n]}"
        done
        cat <<EOF
identities:
  edges: [10.200.0.0/24, fd00:200::/64]
  backends: [10.201.0.0/24, fd00:201::/64]
  databases: [10.202.0.0/24, fd00:202::/64]
rules:
  - name: edges-to-backends-lb
    from: edges
    to: backends
    protocol: tcp
    ports: [8080]
    action: allow
  - name: edges-health-checks
    from: edges
    to: backends
    protocol: tcp
    ports: [9090]
    action: allow
  - name: no-ssh-from-edges
    from: edges
    to: any
    protocol: tcp
    ports: [22]
    action: deny
default:
  ingress: deny
  egress: allow
reply_only: [backends, databases]
metadata_block: true
events:
  rate: 1000
  burst: 1000
EOF
    } >"$XI_TMP/fleet.yaml"
}

# wg0 in every node and a full mesh of peers over the underlay. 10.200.0.0/14 and
# fd00:200::/30 cover the three roles' prefixes. The edge routes the metadata addresses into
# wg0 towards the db, and advertises a larger MSS than wg0 fits to the backends, so that the
# datapath's clamp has work to do (left alone, the kernel derives MTU-40/-60 from wg0).
build_mesh() {
    local n p allowed
    for n in "${NODES[@]}"; do
        wg_up "$n"
        ip -n "$(ns "$n")" addr add "${MESH[$n]}/14" dev wg0
        ip -n "$(ns "$n")" addr add "${MESH6[$n]}/30" dev wg0 nodad
        ip -n "$(ns "$n")" link set wg0 mtu $MTU up
    done
    for n in "${NODES[@]}"; do
        for p in "${NODES[@]}"; do
            [ "$n" = "$p" ] && continue
            allowed=${MESH[$p]}/32,${MESH6[$p]}/128
            [ "$n" = edge ] && [ "$p" = db ] && allowed+=",$META4/32,$META6/128"
            wg_peer "$n" "$p" "${UNDER[$p]}" "$allowed"
        done
    done
    ip -n "$(ns db)" addr add "$META4/32" dev lo
    ip -n "$(ns db)" addr add "$META6/128" dev lo nodad
    ip -n "$(ns edge)" route add "$META4/32" dev wg0
    ip -n "$(ns edge)" route add "$META6/128" dev wg0
    ip -n "$(ns edge)" route add 10.201.0.0/24 dev wg0 advmss 1460
    ip -n "$(ns edge)" route add fd00:201::/64 dev wg0 advmss 1440
}

# Every peer of every node has completed a handshake (bounded): a connect that times out later
# is then the policy's doing, not a tunnel still coming up.
wait_handshakes() {
    local n ok
    for _ in $(seq 100); do
        ok=1
        for n in "${NODES[@]}"; do
            wg_set "$n" show wg0 latest-handshakes | awk '$2 == 0 {bad=1} END {exit bad}' || ok=0
        done
        ((ok)) && return 0
        sleep 0.1
    done
    fail "WireGuard handshakes incomplete after 10 s"
}

attach_all() {
    local n
    for n in "${NODES[@]}"; do
        xi_attach "$n" "$(inst "$n")" --config "$XI_TMP/fleet.yaml" --node "$n" \
            >"$XI_TMP/attach-$n.log" 2>&1 || fail "attach $n: $(cat "$XI_TMP/attach-$n.log")"
    done
    pass "attached 4 nodes from one fleet config"
}

# [::] listeners take IPv4 too.
start_servers() {
    local s
    bg_run srv-app1 ip netns exec "$(ns app1)" "$PY" "$TCP" serve app1 "[::]:8080" "[::]:9090" "[::]:22"
    bg_run srv-app2 ip netns exec "$(ns app2)" "$PY" "$TCP" serve app2 "[::]:8080" "[::]:9090"
    bg_run srv-db ip netns exec "$(ns db)" "$PY" "$TCP" serve db "[::]:5432" "$META4:80" "[$META6]:80"
    for s in srv-app1 srv-app2 srv-db; do wait_log "$s" '^ready' 10; done
}

# probe NODE ADDR PORT [--sport P] [--timeout S] [--bytes N]: one TCP attempt (policy_tcp.py).
probe() {
    local n=$1
    shift
    timeout 20 ip netns exec "$(ns "$n")" "$PY" "$TCP" probe "$@"
}

# expect_answer NODE ADDR PORT SERVER WHAT: connected, and SERVER answered with 64 KB.
expect_answer() {
    local out rc=0
    out=$(probe "$1" "$2" "$3" --timeout 5 --bytes 65536) || rc=$?
    if [ $rc -ne 0 ] || [ "$out" != "$4 $3 hello 65536" ]; then
        fail "$5: rc=$rc '$out'"
    fi
    pass "$5: $out"
}

# Attempts that must be dropped run in parallel (each waits out its connect timeout), with a
# fixed source port so that monitor events can be matched by their exact tuple.
# drop_start NAME NODE ADDR PORT SPORT starts one; drop_check NAME WHAT asserts it timed out.
DROP_PIDS=()
drop_start() {
    local name=$1
    shift
    (
        rc=0
        probe "$1" "$2" "$3" --sport "$4" --timeout 2 >"$XI_TMP/drop-$name.out" 2>&1 || rc=$?
        echo $rc >"$XI_TMP/drop-$name.rc"
    ) &
    DROP_PIDS+=($!)
}
drop_wait() {
    local p
    for p in "${DROP_PIDS[@]}"; do wait "$p" || true; done
    DROP_PIDS=()
}
drop_check() {
    local rc
    rc=$(cat "$XI_TMP/drop-$1.rc" 2>/dev/null || echo none)
    [ "$rc" = 2 ] ||
        fail "$2: expected a dropped SYN (connect timeout), got rc=$rc: $(cat "$XI_TMP/drop-$1.out")"
    pass "$2: connect timed out"
}

MONITORED=(edge app1 db)
start_monitors() {
    local n
    for n in "${MONITORED[@]}"; do
        bg_run "mon-$n" "$XI_BIN" monitor --json --instance "$(inst "$n")" --duration 600
    done
}
# SIGTERM ends a monitor even while no event arrives (as Ctrl-C must).
stop_monitors() {
    local n
    for n in "${MONITORED[@]}"; do
        bg_stop "mon-$n" || fail "monitor of $n ignored SIGTERM"
    done
}

# expect_events < LINES: each line "NODE KEY=VALUE..." must match an event (a JSON line) that
# NODE's monitor printed. One bounded wait for all: events may still be on their way (the ring
# buffer keeps them until a monitor reads them).
expect_events() {
    "$PY" - "$XI_TMP" 30 3<&0 <<'EOF'
import json, sys, time
tmp, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
want = [line.split() for line in open(3) if line.strip()]
found = {}
while True:
    for i, (node, *kvs) in enumerate(want):
        if i in found:
            continue
        for raw in open(f"{tmp}/mon-{node}.log"):
            try:
                e = json.loads(raw)
            except ValueError:
                continue  # a log line of the loader itself
            if all(str(e.get(k)) == v for k, v in (kv.split("=", 1) for kv in kvs)):
                found[i] = raw.strip()
                break
    if len(found) == len(want) or time.monotonic() > deadline:
        break
    time.sleep(0.2)
for i, (node, *kvs) in enumerate(want):
    if i in found:
        print(f"  ok   monitor {node}: {found[i]}")
    else:
        print(f"  FAIL no monitor event on {node} with {' '.join(kvs)}; it printed:", file=sys.stderr)
        print(open(f"{tmp}/mon-{node}.log").read()[:3000], file=sys.stderr)
sys.exit(0 if len(found) == len(want) else 1)
EOF
}

# snapshot NODE [TAG]: save its `status --json` as status-NODE[.TAG].json.
snapshot() {
    "$XI_BIN" status --json --instance "$(inst "$1")" >"$XI_TMP/status-$1${2:+.$2}.json"
}

# expect_counters < LINES: each line "NODE HOOK REASON OP N" (or "NODE rule NAME OP N") checks
# a counter of the last snapshots; OP is ==, >=, or grew>= (since the snapshot tagged before).
expect_counters() {
    "$PY" - "$XI_TMP" 3<&0 <<'EOF'
import json, sys
tmp, ok = sys.argv[1], True

def value(node, hook, reason, tag=""):
    j = json.load(open(f"{tmp}/status-{node}{tag}.json"))
    if hook == "rule":
        return sum(r["packets"] for r in j["rules"] if r["rule"] == reason)
    return sum(c["packets"] for c in j["counters"] if c["hook"] == hook and c["reason"] == reason)

for line in open(3):
    if not line.split("#")[0].strip():
        continue
    node, hook, reason, op, n = line.split("#")[0].split()
    v, n = value(node, hook, reason), int(n)
    if op == "grew>=":
        before = value(node, hook, reason, ".before")
        good, shown = v - before >= n, f"{before} -> {v}"
    else:
        good, shown = (v == n) if op == "==" else (v >= n), str(v)
    print(f"  {'ok  ' if good else 'FAIL'} {node} {hook} {reason} = {shown} ({op} {n})",
          file=sys.stdout if good else sys.stderr)
    ok = ok and good
sys.exit(0 if ok else 1)
EOF
}

# expect_mss_clamped FAMILY ADDR MAX: the SYN of edge -> ADDR:8080 as it arrives on app1's wg0
# (tcpdump taps there before app1's programs, after the edge's egress program) carries an MSS
# of at most MAX although the edge advertised more; tcpdump prints "options [mss N,...]".
expect_mss_clamped() {
    local filter mss
    if [ "$1" = 4 ]; then
        filter='ip and tcp dst port 8080 and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn'
    else
        filter='ip6 and tcp dst port 8080 and ip6[53] & 0x12 == 0x02' # TCP flags right after 40 B
    fi
    bg_run "tcpdump$1" ip netns exec "$(ns app1)" timeout 15 tcpdump -nli wg0 -c 1 "$filter"
    wait_log "tcpdump$1" 'listening on' 10
    expect_answer edge "$2" 8080 app1 "edge -> app1:8080 (LB port, IPv$1, larger MSS advertised)"
    wait_log "tcpdump$1" 'mss [0-9]+' 10
    mss=$(grep -oE 'mss [0-9]+' "$XI_TMP/tcpdump$1.log" | head -n 1 | cut -d' ' -f2)
    [ "$mss" -le "$3" ] || fail "IPv$1 SYN arrived with mss $mss > $3"
    pass "IPv$1 SYN on app1's wg0 carries mss $mss (<= $3 for wg0 MTU $MTU)"
}

main() {
    require_privileges
    say "topology: 4 nodes, L2 underlay, wg0 full mesh, one fleet config"
    ns_add sw "${NODES[@]}"
    local n specs=()
    for n in "${NODES[@]}"; do specs+=("$n=${UNDER[$n]}/24"); done
    star_underlay sw "${specs[@]}"
    build_mesh
    write_config
    attach_all
    start_servers
    wait_handshakes
    pass "WireGuard handshakes complete ($(elapsed) s since start)"
    start_monitors

    say "allowed: edges -> backends (LB, health)"
    for n in "${NODES[@]}"; do snapshot "$n" before; done
    expect_mss_clamped 4 "${MESH[app1]}" $((MTU - 40))
    expect_mss_clamped 6 "${MESH6[app1]}" $((MTU - 60))
    expect_answer edge "${MESH[app1]}" 9090 app1 "edge -> app1:9090 (health check)"
    expect_answer edge "${MESH[app2]}" 8080 app2 "edge -> app2:8080 (LB port)"

    say "denied: each attempt must be dropped on the way"
    local a
    for a in "$META4" "$META6"; do
        probe db "$a" 80 --timeout 2 >/dev/null || fail "db does not answer on $a:80 locally"
    done
    pass "the db answers on $META4:80 and [$META6]:80 locally (lo, not across wg0)"
    drop_start db edge "${MESH[db]}" 5432 40001
    drop_start ssh edge "${MESH[app1]}" 22 40002
    drop_start meta4 edge "$META4" 80 40003
    drop_start meta6 edge "$META6" 80 40004
    drop_start peer1 app1 "${MESH[app2]}" 8080 40005
    drop_start peer2 app1 "${MESH[app2]}" 9090 40006
    drop_start peer6 app1 "${MESH6[app2]}" 8080 40007
    drop_start app1db app1 "${MESH[db]}" 5432 40008
    drop_wait
    drop_check db "edge -> db:5432 (no rule: default ingress deny)"
    drop_check ssh "edge -> app1:22 (rule no-ssh-from-edges)"
    drop_check meta4 "edge -> $META4:80 (metadata block)"
    drop_check meta6 "edge -> [$META6]:80 (metadata block)"
    drop_check peer1 "app1 -> app2:8080 (backends are reply-only)"
    drop_check peer2 "app1 -> app2:9090 (backends are reply-only)"
    drop_check peer6 "app1 -> [app2]:8080 (backends are reply-only)"
    drop_check app1db "app1 -> db:5432 (backends are reply-only: they open nothing)"

    say "monitor: every drop with its tuple, hook, reason, roles"
    expect_events <<EOF || fail "monitor events missing"
db verdict=deny hook=mesh/tc/ingress reason=deny_default proto=tcp src=${MESH[edge]} sport=40001 dst=${MESH[db]} dport=5432 src_role=edges dst_role=databases
edge verdict=deny hook=mesh/tc/egress reason=deny_rule rule=no-ssh-from-edges proto=tcp src=${MESH[edge]} sport=40002 dst=${MESH[app1]} dport=22 src_role=edges dst_role=backends
edge verdict=deny hook=mesh/tc/egress reason=metadata proto=tcp src=${MESH[edge]} sport=40003 dst=$META4 dport=80 src_role=edges dst_role=world
edge verdict=deny hook=mesh/tc/egress reason=metadata proto=tcp src=${MESH6[edge]} sport=40004 dst=$META6 dport=80 src_role=edges dst_role=world
app1 verdict=deny hook=mesh/tc/egress reason=reply_only proto=tcp src=${MESH[app1]} sport=40005 dst=${MESH[app2]} dport=8080 src_role=backends dst_role=backends
app1 verdict=deny hook=mesh/tc/egress reason=reply_only proto=tcp src=${MESH[app1]} sport=40006 dst=${MESH[app2]} dport=9090 src_role=backends dst_role=backends
app1 verdict=deny hook=mesh/tc/egress reason=reply_only proto=tcp src=${MESH6[app1]} sport=40007 dst=${MESH6[app2]} dport=8080 src_role=backends dst_role=backends
app1 verdict=deny hook=mesh/tc/egress reason=reply_only proto=tcp src=${MESH[app1]} sport=40008 dst=${MESH[db]} dport=5432 src_role=backends dst_role=databases
EOF
    stop_monitors
    pass "monitors ended on SIGTERM"

    say "counters (status --json)"
    for n in "${NODES[@]}"; do snapshot "$n"; done
    expect_counters <<'EOF' || fail "counters disagree"
edge mesh/tc/egress metadata >= 2      # both metadata attempts, at the edge's egress...
db mesh/tc/ingress metadata == 0       # ...so nothing of them crossed wg0
edge mesh/tc/egress deny_rule >= 1
app1 mesh/tc/ingress deny_rule == 0    # the ssh attempt never left the edge
edge mesh/tc/egress allow_default >= 1 # edge -> db:5432 left the edge (egress allow)...
db mesh/tc/ingress deny_default >= 1   # ...and the db's ingress default dropped it
app1 mesh/tc/egress reply_only >= 4
app2 mesh/tc/ingress reply_only == 0   # stopped at app1's own egress
app2 mesh/tc/ingress allow_rule >= 1
app2 mesh/tc/egress allow_tracked >= 1 # the reply-only backend answered
edge mesh/tc/egress mss_clamped >= 2
edge rule edges-to-backends-lb grew>= 3
edge rule edges-health-checks grew>= 1
edge rule no-ssh-from-edges grew>= 1
EOF

    say "PASS policy_mesh in $(elapsed) s"
}

main "$@"
