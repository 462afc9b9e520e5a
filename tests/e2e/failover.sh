#!/bin/bash
# Issue #14, health-driven failover, end to end: 4 edges running `serve` (which probes every
# sibling through wg0), the anycast route on edge1, a transfer owned by edge2 running throughout.
# edge4 is broken three ways, one after the other; each time new connections to edge4's slots
# must work again within the probe window (measured), through each slot's fallback owner:
#
#   A  edge4's wireguard hangs (SIGSTOP of wireguard-go; kernel WireGuard: wg0 down). During the
#      outage a transfer M starts in a slot of edge4 whose fallback is edge2, and one in a slot
#      whose fallback is edge1 (delivered at edge1). Then wireguard comes back: edge4 is up
#      again, new flows go to it, and M survives the return (edge1 sends M's packets to edge4,
#      whose recovery window sends them on to edge2, which holds M).
#   B  edge4's agent is killed (SIGKILL): its datapath still runs but answers no probe, so its
#      siblings fail it over. The agent starts again and learns from the probes that it was
#      seen down.
#   C  edge4's namespace is deleted with everything in it.
#   Partition: edge1 and edge3 lose their tunnel to each other only. edge1 fails edge3's slots
#   over, edge2 still sees edge3 up; a new connection in a slot of edge3 whose fallback is edge2
#   goes edge1 -> edge2 and is delivered there (no loop: edge2 sends nothing on).
#
# Asserted throughout: the edge2-owned transfer S completes (sha256 equal, no reset); no edge
# drops a packet; `health` of the survivors stays healthy; transitions are logged and reach
# `monitor`. Root (exit 77 without CAP_BPF/CAP_NET_ADMIN); ~60 s here; host only (label
# hostonly): wireguard-go.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/e2e/steering_topo.sh
source "$HERE/steering_topo.sh"
ST_EDGES=(edge1 edge2 edge3 edge4)
V=edge4
INTERVAL=200 TIMEOUT=100 DOWN_AFTER=3 UP_AFTER=2
ST_FLEET_EXTRA="  failover: {probe_interval: $INTERVAL, probe_timeout: $TIMEOUT, down_after: $DOWN_AFTER, up_after: $UP_AFTER, jitter: 20}"
# The longest a sibling can take to see a dead edge down: down_after probes, each up to
# interval + 20 % apart, the last one's timeout; plus a new client's connect attempts (0.25 s
# each) and a second of slack for a loaded machine.
WINDOW_MAX=$("$XI_PY" -c "print($DOWN_AFTER * $INTERVAL * 1.2 / 1000 + $TIMEOUT / 1000 + 1.5)")

# fo_serve EDGE [RUN]: start EDGE's agent (it attaches if needed); log serve-EDGE-RUN.log.
fo_serve() {
    local e=$1 ho
    read -r -a ho <<<"$(handoff_args)"
    grep -qx "$(st_inst "$e")" "$XI_TMP/instances" 2>/dev/null || st_inst "$e" >>"$XI_TMP/instances"
    bg_run "serve-$e-${2:-1}" "$XI_BIN" serve --netns "$(ns "$e")" --instance "$(st_inst "$e")" \
        --config "$ST_CONFIG" --node "$e" "${ho[@]}" --metrics-addr 127.0.0.1:9470 --poll-interval 1
}

# fo_state OBSERVER NODE: NODE's state as OBSERVER's probes see it (up, down, unknown, none).
fo_state() {
    status_json "$(st_inst "$1")" 2>/dev/null | "$XI_PY" -c 'import json,sys
j=json.load(sys.stdin)
print(next((p["state"] for p in j.get("failover",{}).get("siblings",[]) if p["node"]==sys.argv[1]),"none"))' "$2"
}
# fo_all_see STATE NODE OBSERVER...: every OBSERVER sees NODE in STATE.
fo_all_see() {
    local want=$1 node=$2 o
    shift 2
    for o in "$@"; do [ "$(fo_state "$o" "$node")" = "$want" ] || return 1; done
}

# fo_pick OWNER FALLBACK FIRST COUNT: COUNT client ports >= FIRST (IPv4) whose flow OWNER owns
# and whose fallback is FALLBACK ('!X': anything but X), one per line.
fo_pick() {
    "$XI_PY" - "$XI_BIN" "$ST_CONFIG" "$@" "$ST_CL4" "$ST_VIP4:$ST_PORT" <<'PY'
import json, subprocess, sys
xi, cfg, owner, fb, first, count, src, dst = sys.argv[1:]
first, count = int(first), int(count)
q = "".join("tcp %s:%d %s\n" % (src, p, dst) for p in range(first, first + 4000))
out = subprocess.run([xi, "--json", "owner", "--config", cfg, "--stdin"], input=q,
                     capture_output=True, text=True, check=True).stdout.splitlines()
got = []
for i, line in enumerate(out):
    j = json.loads(line)
    f = j.get("fallback", "-")
    if j["owner"] == owner and (f != fb[1:] if fb.startswith("!") else f == fb):
        got.append(str(first + i))
    if len(got) == count:
        break
if len(got) < count:
    sys.exit("only %d ports owned by %s with fallback %s" % (len(got), owner, fb))
print("\n".join(got))
PY
}

# fo_new_conn NAME T0: new connections from fresh ports of VPORTS until one works
# (connect_until.py); sets FO_ELAPSED (since T0) and FO_PORT, advances `next` past the ports it
# used; fails the test if none worked within 15 s.
fo_new_conn() {
    local name=$1 t0=$2 out
    out=$XI_TMP/conn-$name.json
    ((next + 60 <= ${#VPORTS[@]})) || fail "$name: out of fresh client ports"
    nsx cl "$XI_PY" "$HERE/connect_until.py" --dst "$ST_VIP4" --port "$ST_PORT" --src "$ST_CL4" \
        --t0 "$t0" --max-seconds 15 "${VPORTS[@]:next:60}" >"$out" || fail "$name: no new connection worked within 15 s: $(<"$out")"
    FO_ELAPSED=$("$XI_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["elapsed_s"])' "$out")
    FO_PORT=$("$XI_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["sport"])' "$out")
    next=$((next + $("$XI_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["attempts"])' "$out")))
}

# fo_served_by SPORT: the edge whose server saw the connection from SPORT (last record wins).
fo_served_by() {
    local e
    for e in "${ST_EDGES[@]}"; do
        [ -f "$XI_TMP/server-$e.log" ] || continue
        grep -q "\"peer\": \[\"$ST_CL4\", $1\]" "$XI_TMP/server-$e.log" && echo "$e"
    done
    return 0
}

fo_check_window() { # NAME: the measured window against its bound
    "$XI_PY" -c "import sys; sys.exit(0 if $FO_ELAPSED <= $WINDOW_MAX + 2 else 1)" ||
        fail "$1: new connections took $FO_ELAPSED s (bound $WINDOW_MAX s + 2 s of connect attempts)"
}

require_privileges
T0=$SECONDS
say "failover: 4 edges run serve, probes every $INTERVAL ms (timeout $TIMEOUT ms, down after $DOWN_AFTER, up after $UP_AFTER)"
st_build
st_mesh
st_write_config
# One after the other: attaches take the pin lock, and a serve that finds it busy exits.
for e in "${ST_EDGES[@]}"; do
    fo_serve "$e"
    wait_until 300 0.1 status_json "$(st_inst "$e")" || fail "serve on $e did not attach: $(cat "$XI_TMP/serve-$e-1.log")"
done
st_servers
t_up=$EPOCHREALTIME
for e in "${ST_EDGES[@]}"; do
    others=()
    for o in "${ST_EDGES[@]}"; do [ "$o" = "$e" ] || others+=("$o"); done
    wait_until 100 0.1 fo_all_see up "$e" "${others[@]}" ||
        fail "the siblings of $e do not see it up: $(grep failover "$XI_TMP"/serve-*-1.log | tail -5)"
done
pass "every edge sees its 3 siblings up after $(((${EPOCHREALTIME/./} - ${t_up/./}) / 1000)) ms (probes through the mesh, where the rules allow only ICMP)"

mapfile -t VPORTS < <(fo_pick "$V" '!edge1' 40000 300)
read -r -a MPORT < <(fo_pick "$V" edge2 48000 1)
read -r -a LPORT < <(fo_pick "$V" edge1 49000 1)
read -r -a SPORT_ < <(fo_pick edge2 '!edge2' 50000 1)
read -r -a P3 < <(fo_pick edge3 edge2 52000 1)
echo "  $(st_owner_line 4 "${MPORT[0]}" | tail -1) (M)"
echo "  $(st_owner_line 4 "${LPORT[0]}" | tail -1) (L)"
pass "ports picked with xdp-ingress owner: 300 in edge4's slots, M and L in two of them, S owned by edge2"

st_route 4 edge1
rm -f "$XI_TMP/S.ready"
nsx cl "$XI_PY" "$ST_DIR/xfer.py" client --dst "$ST_VIP4" --port "$ST_PORT" --src "$ST_CL4" \
    --sport "${SPORT_[0]}" --ready "$XI_TMP/S.ready" --until "$XI_TMP/S.until" --rate 8 \
    --bytes $((256 << 20)) --seconds 150 >"$XI_TMP/S.json" &
echo $! >>"$XI_TMP/pids"
pid_S=$!
wait_until 100 0.1 test -f "$XI_TMP/S.ready" || fail "transfer S did not connect"
rsts0=$(nsx cl nstat -asz TcpEstabResets | awk '/TcpEstabResets/ {print $2}')
pass "route on edge1; transfer S (owned by edge2, steered by edge1) running"
next=0 # VPORTS used so far: every attempt gets a fresh port

# ---- A: wireguard hangs on edge4
say "A: edge4's wireguard hangs"
wg_pid=
[ -f "$XI_TMP/wg-$V.pid" ] && wg_pid=$(<"$XI_TMP/wg-$V.pid")
t0=$(date +%s.%N)
if [ -n "$wg_pid" ]; then kill -STOP "$wg_pid"; else ip -n "$(ns "$V")" link set wg0 down; fi
fo_new_conn A "$t0"
fo_check_window A
served=$(fo_served_by "$FO_PORT")
pass "A: a new connection to edge4's slots worked $FO_ELAPSED s after wireguard hung (port $FO_PORT, served by $served; bound $WINDOW_MAX s)"
wait_until 50 0.1 fo_all_see down "$V" edge1 edge2 edge3 || fail "A: not every sibling sees edge4 down"
# Transfers that start during the outage, in edge4's slots: M (fallback edge2) long, L (fallback
# edge1) short.
rm -f "$XI_TMP/M.ready" "$XI_TMP/M.until"
nsx cl "$XI_PY" "$ST_DIR/xfer.py" client --dst "$ST_VIP4" --port "$ST_PORT" --src "$ST_CL4" \
    --sport "${MPORT[0]}" --ready "$XI_TMP/M.ready" --until "$XI_TMP/M.until" --rate 8 \
    --bytes $((256 << 20)) --seconds 120 >"$XI_TMP/M.json" &
echo $! >>"$XI_TMP/pids"
pid_M=$!
wait_until 100 0.1 test -f "$XI_TMP/M.ready" || fail "A: transfer M did not connect during the outage"
nsx cl "$XI_PY" "$ST_DIR/xfer.py" client --dst "$ST_VIP4" --port "$ST_PORT" --src "$ST_CL4" \
    --sport "${LPORT[0]}" --bytes $((2 << 20)) --seconds 20 >"$XI_TMP/L.json" ||
    fail "A: transfer L (fallback edge1) failed: $(<"$XI_TMP/L.json")"
[ "$(fo_served_by "${LPORT[0]}")" = edge1 ] || fail "A: L was not served by edge1 (its fallback)"
pass "A: during the outage M started, and L completed at its fallback edge1"
st_snapshot
(($(st_c edge1 fo_out) > 0)) || fail "A: edge1 counted no failover_out"
(($(st_c edge1 fo_local) > 0)) || fail "A: edge1 counted no failover_local"
(($(st_c edge2 sc_in) > 0)) || fail "A: edge2 received nothing marked"
pass "A: edge1 failover_out $(st_c edge1 fo_out), failover_local $(st_c edge1 fo_local); edge2 delivered $(st_c edge2 sc_in) marked packets"
for e in edge1 edge2 edge3; do
    xrun "$XI_BIN" health --instance "$(st_inst "$e")"
    expect_rc 0 "health of $e while edge4 is down"
done
pass "A: health of edge1-3 stays healthy: a down sibling is not this edge's fault"

t1=$(date +%s.%N)
if [ -n "$wg_pid" ]; then kill -CONT "$wg_pid"; else ip -n "$(ns "$V")" link set wg0 up; fi
wait_until 100 0.1 fo_all_see up "$V" edge1 edge2 edge3 || fail "A: edge4 is not seen up again"
back=$("$XI_PY" -c "import time; print(round(time.time() - $t1, 2))")
pass "A: wireguard back: every sibling sees edge4 up after $back s"
# New flows in edge4's slots go to edge4 again.
fo_new_conn A-back "$(date +%s.%N)"
[ "$(fo_served_by "$FO_PORT")" = "$V" ] || fail "A: a new connection after the return was served by $(fo_served_by "$FO_PORT"), not edge4"
pass "A: a new connection after the return is served by edge4"
sleep 2 # M keeps running while its slot points at edge4 again
touch "$XI_TMP/M.until"
rc_M=0
wait "$pid_M" || rc_M=$?
ST_RESULT=$XI_TMP/M.json
st_load_result "${MPORT[0]}"
{ [ "$rc_M" = 0 ] && [ "$(st_r result)" = pass ] && [ "$(st_r sha256_match)" = True ]; } ||
    fail "A: M did not survive edge4's return: $(<"$XI_TMP/M.json")"
[ "$(fo_served_by "${MPORT[0]}")" = edge2 ] || fail "A: M was served by $(fo_served_by "${MPORT[0]}"), not edge2 alone"
st_snapshot
(($(st_c "$V" sc_out) > 0)) || fail "A: edge4 sent no second chance for M after its return"
pass "A: M ($(st_r sent) bytes) survived edge4's return, sha256 equal, served by edge2 only; edge4 sent $(st_c "$V" sc_out) of its packets on to edge2"
status_json "$(st_inst "$V")" >"$XI_TMP/v.json"
json_check "$XI_TMP/v.json" "edge4's recovery window is open" "j['failover']['recovering_seconds_left'] > 500"

# ---- B: edge4's agent is killed
say "B: edge4's agent is killed (its datapath keeps running)"
t0=$(date +%s.%N)
pid=$(<"$XI_TMP/serve-$V-1.pid")
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
# edge4's datapath still delivers what reaches it, so the window here is the probes' own: until
# every sibling sends edge4's slots elsewhere.
wait_until 100 0.05 fo_all_see down "$V" edge1 edge2 edge3 || fail "B: not every sibling sees edge4 down"
FO_ELAPSED=$("$XI_PY" -c "import time; print(round(time.time() - $t0, 3))")
fo_check_window B
window_B=$FO_ELAPSED
fo_new_conn B "$(date +%s.%N)"
served=$(fo_served_by "$FO_PORT")
[ -n "$served" ] && [ "$served" != "$V" ] || fail "B: a new connection in edge4's slots was served by '$served', not a fallback"
pass "B: every sibling sees edge4 down $window_B s after the kill; a new connection in its slots is served by its fallback $served"
fo_serve "$V" 2
wait_until 100 0.1 fo_all_see up "$V" edge1 edge2 edge3 || fail "B: edge4 is not seen up after its agent restarted"
wait_until 30 0.1 file_has "$XI_TMP/serve-$V-2.log" "sees this edge down" ||
    fail "B: the restarted agent did not learn that it was seen down: $(tail -5 "$XI_TMP/serve-$V-2.log")"
pass "B: the agent restarted; its siblings see edge4 up, and it learned from their probes that they had seen it down"

# ---- C: edge4's namespace is deleted
say "C: edge4's namespace is deleted with everything in it"
t0=$(date +%s.%N)
for pid in $(ip netns pids "$(ns "$V")"); do
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
done
ip netns del "$(ns "$V")"
fo_new_conn C "$t0"
fo_check_window C
pass "C: a new connection to edge4's slots worked $FO_ELAPSED s after the namespace went (served by $(fo_served_by "$FO_PORT"))"
wait_until 50 0.1 fo_all_see down "$V" edge1 edge2 edge3 || fail "C: not every sibling sees edge4 down"

# ---- Partition: edge1 and edge3 lose each other only
say "partition: the tunnel between edge1 and edge3 breaks, the others see both"
wg_set edge1 set wg0 peer "$(<"$XI_TMP/edge3.pub")" remove
wait_until 50 0.1 fo_all_see down edge3 edge1 || fail "partition: edge1 does not see edge3 down"
wait_until 50 0.1 fo_all_see down edge1 edge3 || fail "partition: edge3 does not see edge1 down"
fo_all_see up edge3 edge2 && fo_all_see up edge1 edge2 || fail "partition: edge2 should see both up"
pass "partition: edge1 and edge3 see each other down, edge2 sees both up"
st_snapshot
sc_out2=$(st_c edge2 sc_out) fo_out2=$(st_c edge2 fo_out) in2=$(st_c edge2 sc_in)
nsx cl "$XI_PY" "$ST_DIR/xfer.py" client --dst "$ST_VIP4" --port "$ST_PORT" --src "$ST_CL4" \
    --sport "${P3[0]}" --bytes $((2 << 20)) --seconds 20 >"$XI_TMP/P.json" ||
    fail "partition: a new connection in edge3's slot failed: $(<"$XI_TMP/P.json")"
[ "$(fo_served_by "${P3[0]}")" = edge2 ] || fail "partition: served by $(fo_served_by "${P3[0]}"), not edge2"
st_snapshot
(($(st_c edge2 sc_in) > in2)) || fail "partition: edge2 did not receive the marked packets"
{ [ "$(st_c edge2 sc_out)" = "$sc_out2" ] && [ "$(st_c edge2 fo_out)" = "$fo_out2" ]; } ||
    fail "partition: edge2 sent packets on (a loop)"
pass "partition: a new flow in edge3's slot went edge1 -> edge2 (fallback) and stayed there although edge2 sees edge3 up: $(($(st_c edge2 sc_in) - in2)) marked packets delivered, 0 sent on"

# ---- the transfer owned by a survivor, and the rest
# Every "down" verdict each agent logged (a false one about a live edge shows here: under TCG,
# agents sharing one emulated CPU miss 100 ms timeouts together).
for f in "$XI_TMP"/serve-*.log; do
    n=$(grep -c "is down:" "$f" || true)
    echo "    $(basename "$f" .log): $n down verdicts$( ((n)) && grep -o "sibling edge[0-9] ([^)]*) is down" "$f" | sort | uniq -c | awk '{printf " [%s x%d]", $3, $1}')"
done
touch "$XI_TMP/S.until"
rc_S=0
wait "$pid_S" || rc_S=$?
ST_RESULT=$XI_TMP/S.json
st_load_result "${SPORT_[0]}"
{ [ "$rc_S" = 0 ] && [ "$(st_r result)" = pass ] && [ "$(st_r sha256_match)" = True ]; } ||
    fail "S (owned by edge2) was disturbed: $(<"$XI_TMP/S.json")"
[ "$(fo_served_by "${SPORT_[0]}")" = edge2 ] || fail "S was not served by edge2 alone"
rsts=$(($(nsx cl nstat -asz TcpEstabResets | awk '/TcpEstabResets/ {print $2}') - rsts0))
((rsts == 0)) || fail "the client saw $rsts connection reset(s)"
pass "S: $(st_r sent) bytes through all of it, sha256 equal, served by edge2 only, no reset"
ST_EDGES=(edge1 edge2 edge3)
st_snapshot
st_counter_table
for e in "${ST_EDGES[@]}"; do
    [ -z "$(st_c "$e" drops)" ] || fail "$e dropped packets: $(st_c "$e" drops)"
done
pass "no surviving edge dropped a packet"
"$XI_BIN" --json monitor --instance "$(st_inst edge1)" -d 1 >"$XI_TMP/monitor.json" || true
grep -q '"event":"peer_down".*"node":"edge4"\|"node":"edge4".*"event":"peer_down"' "$XI_TMP/monitor.json" ||
    fail "monitor on edge1 shows no peer_down of edge4: $(head -c 600 "$XI_TMP/monitor.json")"
grep -q '"event":"peer_up"' "$XI_TMP/monitor.json" || fail "monitor on edge1 shows no peer_up"
pass "monitor on edge1: $(grep -c '"source":"agent"' "$XI_TMP/monitor.json") agent events (peer_down/peer_up of edge4, edge3)"
grep -q "sibling edge4 .* is down" "$XI_TMP/serve-edge1-1.log" || fail "edge1's log does not say edge4 went down"
pass "failover end to end in $((SECONDS - T0)) s"
