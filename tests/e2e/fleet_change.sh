#!/bin/bash
# Issue #13, end to end: a TCP transfer through the anycast VIP survives a fleet change made
# mid-stream, with the route flipping between edges before and after it, because the edge that
# holds the flow keeps getting its packets through second chance.
#
#   fleet_change.sh VARIANT   (4 edges: edge1-3 active, edge4 inactive at the start)
#     drain     (drain6: the same over IPv6, IP6IP6 in the mesh) the flow's owner is set draining mid-stream: its slots move to the others, the
#               new owner holds no socket for the flow and sends each packet on, once, marked,
#               to the draining edge; the route keeps visiting every edge, the draining one
#               included (BGP withdrawal is not instant)
#     join      edge4 joins mid-stream and takes the flow's slot from its owner
#     negative  the drain made the old way (weight 0: no previous owners): the flow's packets
#               reach an edge without its socket, and the connection breaks (reset or stall).
#               Proves the test can fail.
# Asserted (drain, join): the transfer completes, sha256 equal on both ends, no reset; only the
# flow's original owner served it; second chances were sent (by the new owner) and received (by
# the original owner), which never sent one on (no loops); no edge dropped anything; a new
# connection made after the change succeeds and lands on the new owner; a draining edge's
# `health` says draining and exits 1 (withdraw its route), the others' 0.
#
# Topology and helpers: steering_topo.sh (ST_EDGES set to four edges). Root (exit 77 without
# CAP_BPF/CAP_NET_ADMIN). ~20-30 s here.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/e2e/steering_topo.sh
source "$HERE/steering_topo.sh"
ST_EDGES=(edge1 edge2 edge3 edge4)
AFTER=$XI_TMP/after.yaml

VARIANT=${1:-}
FAM=4
case "$VARIANT" in
drain | negative) PORT0=46000 ;;
drain6) PORT0=48000 FAM=6 ;;
join) PORT0=47000 ;;
*)
    echo "usage: $0 drain|drain6|join|negative" >&2
    exit 2
    ;;
esac

# The fleet after the step, written beside the one attached now.
write_after() {
    local -A keep_state keep_weight
    local e
    for e in "${!ST_STATE[@]}"; do keep_state[$e]=${ST_STATE[$e]}; done
    for e in "${!ST_WEIGHT[@]}"; do keep_weight[$e]=${ST_WEIGHT[$e]}; done
    case "$VARIANT" in
    drain | drain6) ST_STATE[$OWNER]=draining ;;
    join) ST_STATE[edge4]=joining ;;
    negative) ST_WEIGHT[$OWNER]=0 ;;
    esac
    st_write_config "$AFTER"
    ST_STATE=() ST_WEIGHT=()
    for e in "${!keep_state[@]}"; do ST_STATE[$e]=${keep_state[$e]}; done
    for e in "${!keep_weight[@]}"; do ST_WEIGHT[$e]=${keep_weight[$e]}; done
}

# The step, run by the flipper mid-stream: every edge reloads the fleet file after it.
st_step() { st_reload_all "$AFTER"; }

# owner_in FILE SPORT: the flow's owner (and previous owner) in the fleet file FILE.
owner_in() {
    if [ "$FAM" = 6 ]; then
        "$XI_BIN" --json owner --config "$1" tcp "[$ST_CL6]:$2" "[$ST_VIP6]:$ST_PORT"
    else
        "$XI_BIN" --json owner --config "$1" tcp "$ST_CL4:$2" "$ST_VIP4:$ST_PORT"
    fi
}

require_privileges
T0=$SECONDS
say "fleet change [$VARIANT]: 4 edges (edge4 inactive), WireGuard mesh, route flips"
st_build
st_mesh
pass "namespaces, veth underlay and a full wg0 mesh between the 4 edges"
ST_STATE=([edge4]=inactive)
st_write_config
for e in "${ST_EDGES[@]}"; do st_attach "$e"; done
pass "attached on every edge with one fleet file"
st_servers

# The flow: for drain and negative one that edge2 owns now; for join one whose slot edge4
# takes when it joins.
if [ "$VARIANT" = join ]; then
    OWNER=
    write_after
    save=$ST_CONFIG
    ST_CONFIG=$AFTER
    SPORT=$(st_pick_port edge4 "$FAM" "$PORT0")
    ST_CONFIG=$save
    OWNER=$(owner_in "$ST_CONFIG" "$SPORT" | "$XI_PY" -c 'import json,sys; print(json.load(sys.stdin)["owner"])')
else
    OWNER=edge2
    SPORT=$(st_pick_port "$OWNER" "$FAM" "$PORT0")
    write_after
fi
NEW=$(owner_in "$AFTER" "$SPORT" | "$XI_PY" -c 'import json,sys; print(json.load(sys.stdin)["owner"])')
st_owner_line "$FAM" "$SPORT"
echo "  after the change: $(owner_in "$AFTER" "$SPORT")"
[ "$NEW" != "$OWNER" ] || fail "the change does not move the flow's slot: nothing to prove"
pass "client port $SPORT: owned by $OWNER now, by $NEW after the change"

others=()
for e in "${ST_EDGES[@]}"; do [ "$e" = "$OWNER" ] || [ "$e" = edge4 ] || others+=("$e"); done
FLIPS="${others[0]} $OWNER @st_step ${others[1]} $NEW $OWNER ${others[0]} $NEW edge4 $OWNER $NEW"
CLIENT=(--rate 64 --bytes $((256 << 20)) --seconds 120)
[ "$VARIANT" != negative ] || CLIENT+=(--stall 5)
rsts0=$(nsx cl nstat -asz TcpEstabResets | awk '/TcpEstabResets/ {print $2}')
say "transfer from $OWNER; flips every 0.4 s and the change mid-stream: $FLIPS"
st_transfer "$VARIANT" "$FAM" "$SPORT" "$OWNER" "$FLIPS" 0.4 "${CLIENT[@]}"
echo "  client: $(<"$ST_RESULT")"
echo "  route visited: $ST_VISITED; $ST_FLIPS flips while the transfer ran"
st_snapshot
st_counter_table
for e in "${ST_EDGES[@]}"; do
    echo "    $e second chance: out $(st_c "$e" sc_out), in $(st_c "$e" sc_in), held $(st_c "$e" sc_held)"
done
rsts=$(($(nsx cl nstat -asz TcpEstabResets | awk '/TcpEstabResets/ {print $2}') - rsts0))
result=$(st_r result)

if [ "$VARIANT" = negative ]; then
    case "$result" in
    reset) pass "without previous owners the change broke the connection: reset (TcpEstabResets +$rsts)" ;;
    stalled) pass "without previous owners the change broke the connection: stalled 5 s" ;;
    *) fail "without previous owners the connection survived the change (result: $result): the test proves nothing" ;;
    esac
    pass "negative control in $((SECONDS - T0)) s"
    exit 0
fi

{ [ "$ST_RC" = 0 ] && [ "$result" = pass ]; } || fail "transfer failed: $result (exit $ST_RC)"
sent=$(st_r sent)
[ "$(st_r server_bytes)" = "$sent" ] && [ "$(st_r sha256_match)" = True ] ||
    fail "bytes or sha256 differ"
((rsts == 0)) || fail "the client saw $rsts connection reset(s)"
pass "$sent bytes across the change, sha256 equal on both ends, no reset ($(st_r total_retrans) retransmits)"
((ST_FLIPS >= 8)) || fail "only $ST_FLIPS flips happened before the transfer ended"
pass "$ST_FLIPS route flips, the change among them"

{ [ "$(st_r "server/$OWNER/bytes")" = "$sent" ] && [ -z "$(st_r "server/$OWNER/error")" ]; } ||
    fail "the original owner's record: $(st_r "server/$OWNER")"
for e in "${ST_EDGES[@]}"; do
    [ "$e" = "$OWNER" ] || [ -z "$(st_r "server/$e")" ] || fail "$e's server saw the connection"
done
pass "only $OWNER, which held the flow before the change, served it"

sc_new=$(st_c "$NEW" sc_out) sc_in=$(st_c "$OWNER" sc_in)
((sc_new > 0)) || fail "$NEW (the new owner) sent no second chance"
((sc_in > 0)) || fail "$OWNER received no second chance"
(($(st_c "$OWNER" sc_out) == 0)) || fail "$OWNER sent a second chance on: a loop"
pass "$NEW sent $sc_new packets to $OWNER by second chance; $OWNER delivered $sc_in marked packets and sent none on (no loops)"
for e in "${ST_EDGES[@]}"; do
    [ -z "$(st_c "$e" drops)" ] || fail "$e dropped packets: $(st_c "$e" drops)"
done
pass "no edge dropped a packet"

if [ "$VARIANT" != join ]; then
    # The BGP health check withdraws the draining edge's route; the others stay announced.
    xrun "$XI_BIN" --json health --instance "$(st_inst "$OWNER")"
    expect_rc 1 "health of the draining $OWNER"
    json_check "$XI_TMP/out" "$OWNER reports draining" "j['status']=='draining'"
    xrun "$XI_BIN" health --instance "$(st_inst "$NEW")"
    expect_rc 0 "health of $NEW"
    # drain_timeout (600 s) counts from the step's first publication; reloading the same step
    # keeps the deadline.
    left() { "$XI_BIN" --json status --instance "$(st_inst "$NEW")" |
        "$XI_PY" -c 'import json,sys; print(int(json.load(sys.stdin)["second_chance"]["seconds_left"]))'; }
    l1=$(left)
    ((l1 > 500 && l1 <= 600)) || fail "second chances end in $l1 s, want 500-600"
    sleep 2
    "$XI_BIN" reload --config "$AFTER" --instance "$(st_inst "$NEW")" >/dev/null
    l2=$(left)
    ((l2 < l1)) || fail "a reload of the same step restarted drain_timeout ($l1 -> $l2 s)"
    pass "status: second chances end in $l1 s; a reload of the same step keeps the deadline ($l2 s)"
fi

# A new connection after the change: the new table decides, second chance or not.
ST_CONFIG=$AFTER # what every edge runs now
SPORT2=$(st_pick_port "$NEW" "$FAM" $((PORT0 + 600)))
st_transfer "$VARIANT-new" "$FAM" "$SPORT2" "$NEW" "" 0.2 --bytes $((1 << 20)) --seconds 30
[ "$(st_r result)" = pass ] && [ "$(st_r sha256_match)" = True ] || fail "a new connection after the change failed: $(<"$ST_RESULT")"
[ -n "$(st_r "server/$NEW")" ] || fail "the new connection did not land on $NEW"
pass "a new connection after the change (port $SPORT2) completed on $NEW"
pass "fleet change [$VARIANT] in $((SECONDS - T0)) s"
