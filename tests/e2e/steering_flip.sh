#!/bin/bash
# Issue #3, the proof: one TCP connection to the anycast VIP survives the router's route
# flipping between edges mid-stream, because every edge agrees who owns the flow and the
# non-owners forward its packets through the WireGuard mesh to the owner.
#
#   steering_flip.sh VARIANT
#     v4-paced     IPv4, paced at 64 Mbit/s; the route starts at the owner and visits both
#                  non-owners (8 flips, 0.3 s apart)
#     v4-unpaced   IPv4, as fast as TCP goes: full-size segments, which fit the mesh only
#                  because the owner clamped the MSS of its SYN-ACK to 1360 (10 flips, 0.25 s)
#     v4-syn       IPv4, the route starts at a non-owner: the handshake itself is forwarded
#     v6           IPv6 (IP6IP6 over the mesh, MSS 1320), starting at a non-owner
#     negative     steering detached on the non-owners: the first flip must break the
#                  connection (reset by the non-owner's stack, or a stall). Proves the test
#                  can fail.
# The client streams until one interval after the last flip (so every flip is mid-stream also
# on a slow VM), bounded by a byte and a time cap: ~21 MB paced, a few hundred MB unpaced here.
#
# Topology and helpers: steering_topo.sh (shared with tools/demo). Needs root (exit 77 without
# CAP_BPF/CAP_NET_ADMIN). Each variant builds and removes its own namespaces: ~10-20 s here.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/e2e/steering_topo.sh
source "$HERE/steering_topo.sh"

VARIANT=${1:-}

# Per variant: family, owner, first route, flips, flip interval, client arguments.
case "$VARIANT" in
v4-paced)
    FAM=4 OWNER=edge2 START=edge2 INTERVAL=0.3 PORT0=41000
    FLIPS="edge1 edge2 edge3 edge2 edge1 edge2 edge3 edge2"
    CLIENT=(--rate 64 --bytes $((256 << 20)) --seconds 120)
    ;;
v4-unpaced)
    FAM=4 OWNER=edge3 START=edge3 INTERVAL=0.25 PORT0=42000
    FLIPS="edge1 edge3 edge2 edge3 edge1 edge3 edge2 edge3 edge1 edge3"
    CLIENT=(--bytes $((2 << 30)) --seconds 120)
    ;;
v4-syn)
    FAM=4 OWNER=edge1 START=edge2 INTERVAL=0.3 PORT0=43000
    FLIPS="edge1 edge3 edge1 edge2 edge3 edge1 edge2 edge1"
    CLIENT=(--rate 64 --bytes $((256 << 20)) --seconds 120)
    ;;
v6)
    FAM=6 OWNER=edge3 START=edge1 INTERVAL=0.3 PORT0=44000
    FLIPS="edge3 edge2 edge3 edge1 edge2 edge3 edge1 edge3"
    CLIENT=(--rate 64 --bytes $((256 << 20)) --seconds 120)
    ;;
negative)
    FAM=4 OWNER=edge2 START=edge2 INTERVAL=0.3 PORT0=45000
    FLIPS="edge1 edge2 edge3 edge2 edge1 edge2"
    CLIENT=(--rate 64 --bytes $((256 << 20)) --seconds 60 --stall 5)
    ;;
*)
    echo "usage: $0 v4-paced|v4-unpaced|v4-syn|v6|negative" >&2
    exit 2
    ;;
esac
read -r -a flip_list <<<"$FLIPS"
MSS_MAX=$([ "$FAM" = 6 ] && echo 1320 || echo 1360)

require_privileges
T0=$SECONDS

say "steering flip [$VARIANT, hand-off ${XI_HANDOFF_MODE:-default}]: topology (client, router, 3 edges, WireGuard mesh)"
st_build
st_mesh
pass "namespaces, veth underlay and a full wg0 mesh between the 3 edges"
st_write_config

for e in "${ST_EDGES[@]}"; do
    st_attach "$e"
    # The edges start with strict uRPF; attach must loosen it on wg0 and say so.
    [[ "$ST_ATTACH_NOTES" == *"net.ipv4.conf.wg0.rp_filter=2"* ]] ||
        fail "attach on $e did not report setting wg0 rp_filter: $(cat "$XI_TMP/attach-$e.log")"
    [ "$(nsx "$e" sysctl -n net.ipv4.conf.wg0.rp_filter)" = 2 ] || fail "$e: wg0 rp_filter is not 2"
done
pass "attached on every edge with one fleet file; each set net.ipv4.conf.wg0.rp_filter=2 and said so"
st_servers

SPORT=$(st_pick_port "$OWNER" "$FAM" "$PORT0")
st_owner_line "$FAM" "$SPORT"
[ "$OWNER" = "$START" ] && where="the owner" || where="a non-owner"
pass "client port $SPORT: flow owned by $OWNER; the route starts at $START ($where)"

if [ "$VARIANT" = negative ]; then
    for e in "${ST_EDGES[@]}"; do
        [ "$e" = "$OWNER" ] || xi_detach "$(st_inst "$e")" >/dev/null 2>&1
    done
    pass "steering detached on the non-owners (the owner keeps its programs)"
fi

# nstat_abs NS COUNTER: an absolute SNMP counter of namespace NS.
nstat_abs() {
    local k v _
    while read -r k v _; do [ "$k" = "$2" ] && echo "$v"; done < <(nsx "$1" nstat -asz "$2")
}
rsts0=$(nstat_abs cl TcpEstabResets)
declare -A out_rsts0
if [ "$VARIANT" = negative ]; then
    for e in "${ST_EDGES[@]}"; do out_rsts0[$e]=$(nstat_abs "$e" TcpOutRsts); done
fi
say "transfer: ${CLIENT[*]}; flips every ${INTERVAL}s: $FLIPS"
# Flip lines say whether the edge owns the flow (not in the negative control: no forwarding).
annotate=$OWNER
[ "$VARIANT" != negative ] || annotate=
ST_OWNER=$annotate st_transfer "$VARIANT" "$FAM" "$SPORT" "$START" "$FLIPS" "$INTERVAL" "${CLIENT[@]}"
echo "  client: $(<"$ST_RESULT")"
echo "  route visited: $ST_VISITED; $ST_FLIPS flips while the transfer ran"
st_snapshot
st_counter_table
rsts=$(($(nstat_abs cl TcpEstabResets) - rsts0))
result=$(st_r result)

if [ "$VARIANT" = negative ]; then
    ((ST_FLIPS >= 1)) || fail "no flip happened: the negative control proves nothing"
    case "$result" in
    reset)
        who=
        for e in "${ST_EDGES[@]}"; do
            n=$(($(nstat_abs "$e" TcpOutRsts) - ${out_rsts0[$e]}))
            if ((n > 0)); then who+=" $e sent $n RST"; fi
        done
        pass "the connection was reset after the flip (client ECONNRESET, TcpEstabResets +$rsts;${who:- no edge counted an RST})"
        ;;
    stalled) pass "the connection stalled after the flip (no progress for 5 s)" ;;
    *) fail "without steering on the non-owners the flip did not break the connection (result: $result)" ;;
    esac
    pass "negative control [$VARIANT] in $((SECONDS - T0)) s"
    exit 0
fi

# 1. The transfer: complete, intact, never reset.
{ [ "$ST_RC" = 0 ] && [ "$result" = pass ]; } || fail "transfer failed: $result (exit $ST_RC)"
sent=$(st_r sent)
[ "$(st_r server_bytes)" = "$sent" ] || fail "byte counts differ"
[ "$(st_r sha256_match)" = True ] || fail "sha256 differs"
((rsts == 0)) || fail "the client saw $rsts connection reset(s) (TcpEstabResets)"
pass "$sent bytes, sha256 equal on both ends, no reset ($(st_r mbit_s) Mbit/s, $(st_r total_retrans) retransmits)"
((ST_FLIPS == ${#flip_list[@]})) ||
    fail "only $ST_FLIPS of ${#flip_list[@]} flips happened before the transfer hit its cap"
pass "$ST_FLIPS route flips mid-stream"

# 2. Only the owner's socket saw the connection: the others forwarded, never answered.
[ -n "$(st_r "server/$OWNER")" ] || fail "the owner $OWNER has no record of the connection"
{ [ "$(st_r "server/$OWNER/bytes")" = "$sent" ] && [ -z "$(st_r "server/$OWNER/error")" ]; } ||
    fail "owner's record: $(st_r "server/$OWNER")"
for e in "${ST_EDGES[@]}"; do
    [ "$e" = "$OWNER" ] || [ -z "$(st_r "server/$e")" ] ||
        fail "non-owner $e's server saw the connection: $(st_r "server/$e")"
done
pass "only the owner's server saw the connection"

# 3. MSS: the owner clamped its SYN-ACK, so the client never sends more than fits the mesh.
mss=$(st_r snd_mss)
((mss > 0 && mss <= MSS_MAX)) || fail "client send MSS $mss, want <= $MSS_MAX"
(($(st_c "$OWNER" mss_clamped) >= 1)) ||
    fail "the owner counted no clamped SYN-ACK"
pass "client send MSS $mss <= $MSS_MAX (clamped on the owner's SYN-ACK)"

# 4. Counters: every non-owner the route visited forwarded to the owner; the owner decapsulated
#    from each of them. No edge dropped anything.
for e in $ST_VISITED; do
    [ "$e" = "$OWNER" ] && continue
    fwd=$(st_c "$e" "fwd/$OWNER")
    f=$(st_c "$e" forward)
    rd=$(st_c "$e" tc_redirect)
    dec=$(st_c "$OWNER" "decap/$e")
    ((fwd > 0 && f > 0 && rd > 0)) ||
        fail "$e: forwarded_packets to $OWNER=$fwd, forward decisions=$f, tc redirect=$rd"
    ((dec > 0)) || fail "$OWNER decapsulated nothing from $e"
    pass "$e forwarded $fwd packets to $OWNER (forward decisions $f, tc redirect $rd); $OWNER decapsulated $dec from $e"
done
# 5. The hand-off: the hook that decided is the one this mode decides at, on every edge.
for e in "${ST_EDGES[@]}"; do
    eh=$(st_c "$e" handoff)
    xf=$(st_c "$e" xdp_forward) tf=$(st_c "$e" tc_forward) mf=$(st_c "$e" mark_failed)
    xd=$(st_c "$e" xdp_decided) td=$(st_c "$e" tc_decides)
    case "${XI_HANDOFF_MODE:-}" in
    tc) ok=$((xf == 0 && xd == 0 && mf == 0 && td > 0)) want="tc" ;;
    xdp-mark) ok=$((tf == 0 && td == 0 && mf == 0 && xf + xd > 0)) want="xdp-mark" ;;
    xdp-mark-fails) ok=$((xf == 0 && xd == 0 && td == 0 && mf > 0)) want="xdp-mark" ;;
    *) ok=1 want=$eh ;;
    esac
    { ((ok)) && [ "$eh" = "$want" ]; } || fail "$e: hand-off '$eh' (want '$want' for mode '${XI_HANDOFF_MODE:-default}'): xdp forward $xf, tc forward $tf, xdp_decided $xd, tc_decides $td, mark_failed $mf"
done
pass "hand-off ${XI_HANDOFF_MODE:-default ($(st_c edge1 handoff))}: every edge decided where this mode decides"
(($(st_c "$OWNER" mesh_decap) > 0)) || fail "owner: no mesh decap"
if [ "$START" != "$OWNER" ]; then
    # The handshake went through START: its SYN was forwarded (START's own server never saw
    # the connection, checked above, yet it was established before the first flip).
    pass "handshake via non-owner $START: the SYN itself was forwarded to $OWNER"
fi
for e in "${ST_EDGES[@]}"; do
    drops=$(st_c "$e" drops)
    [ -z "$drops" ] || fail "$e dropped packets: $drops"
done
pass "no drop counted on any edge"
pass "steering flip [$VARIANT] in $((SECONDS - T0)) s"
