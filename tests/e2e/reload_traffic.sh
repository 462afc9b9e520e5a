#!/bin/bash
# Issue #5: reloads and program upgrades under traffic, measured at the BPF counters
# (status --json), never at sockets. Topology and helpers: reload_common.sh.
#
# 1. 100 reloads under paced traffic. Policies A and B give different verdicts to the same
#    datagrams (senders -> rx udp 5000, every one a new flow): A allows them by rule "gen-a",
#    B denies them by rule "gen-b" (both files have both rules, with the ports swapped, so the
#    two rule counters keep their names and slots). While a sender paces UDP at rx's mesh
#    interface, 100 `reload`s alternate A/B. Then: allow_rule + deny_rule at mesh ingress ==
#    packets sent, exactly; rule gen-a == allow_rule and rule gen-b == deny_rule (every verdict
#    is one generation's). The XDP path flips too: A gives rx all Maglev weight (a VIP flow is
#    "local"), B gives it to the sibling edge "sib" ("forward": encapsulated and redirected
#    into wg0), and a second sender paces UDP at the VIP: local + forward == sent at the hook
#    the hand-off decides at (XDP for xdp-mark, TC for tc), the other hook counted the hand-off
#    of each, TC redirect == mesh egress steer_out == peers[sib] forwarded == forward.
#    Nothing else was counted on any hook (no no_policy/no_table, no default, no drop); every
#    verdict occurred; the generation advanced by exactly 100.
# 2. attach --replace under traffic: an established reply-only flow (rx -> backend udp 7000,
#    tracked in xi_ct) and two paced senders (mesh policy path, public XDP path to a VIP rx
#    owns) while `attach --replace` runs 3 times. Then: every packet got its verdict (mesh
#    allow_rule == sent, local == sent at the deciding hook: no detach gap), the counters carried
#    on from their values before (not reset), every replace attached new programs (ids changed
#    in status and in the kernel, the links stayed: bpf_link_update), and the backend can still
#    answer on the tracked flow (allow_tracked) while an untracked backend packet is dropped
#    (reply_only).
# Usage: reload_traffic.sh (root; exit 77 = skipped without CAP_BPF/CAP_NET_ADMIN).
set -euo pipefail
XI_BUDGET=${XI_BUDGET:-150} # seconds: a hang detector; ~20-40 s here
# shellcheck source-path=SCRIPTDIR source=reload_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/reload_common.sh" # lib.sh, privileges

# 30 inside a vmtest VM: each reload is a process start under TCG (~1.5 s); the swaps under
# traffic are the kernel-specific part, and 30 of them cover it (CI's time budget).
if [ "${VMTEST_GUEST:-}" = 1 ]; then RELOADS=${RELOADS:-30}; else RELOADS=${RELOADS:-100}; fi
# Packets per second during the reloads. The sender stops when the reloads are done; its
# 64000 packets (one source port each) last 64 s at 1000/s, enough for 100 reloads here
# (~10 s), but a reload takes ~1 s under TCG: 400/s in a vmtest VM (160 s).
if [ "${VMTEST_GUEST:-}" = 1 ]; then RATE=${RATE:-400}; else RATE=${RATE:-1000}; fi
A=$XI_TMP/policy-a.yaml
B=$XI_TMP/policy-b.yaml
rc_config "$A" "  - {name: gen-a, from: senders, to: edges, protocol: udp, ports: [5000], action: allow}
  - {name: gen-b, from: senders, to: edges, protocol: udp, ports: [5001], action: deny}" 100 0
rc_config "$B" "  - {name: gen-a, from: senders, to: edges, protocol: udp, ports: [5001], action: allow}
  - {name: gen-b, from: senders, to: edges, protocol: udp, ports: [5000], action: deny}" 0 100

reload() {
    xrun "$XI_BIN" reload --config "$1" --instance "$INST"
    expect_rc 0 "reload $(basename "$1")"
}

test_policies() {
    say "each policy's verdict on the test traffic"
    snap p0
    send 300 5000
    settle p0 p1 mesh/tc/ingress 300 allow_rule deny_rule
    expect_delta p0 p1 "policy A: 300 datagrams" "mesh/tc/ingress allow_rule=300" "rule gen-a=300"
    reload "$B"
    send 300 5000
    settle p1 p2 mesh/tc/ingress 300 allow_rule deny_rule
    expect_delta p1 p2 "policy B: 300 datagrams" "mesh/tc/ingress deny_rule=300" "rule gen-b=300"
    reload "$A"
}

test_reloads() {
    say "$RELOADS reloads alternating B/A under $RATE packets/s on the mesh and on the public side"
    local max=64000 i t0 t1 ms=() sent sent_pub
    snap r0
    alloc "$max"
    sender_start pace "$SRC" "$MESH_RX" 5000 "$max" "$RATE"
    alloc "$max"
    sender_start pub 192.0.2.1 "$VIP" 53 "$max" "$RATE"
    sleep 0.2 # some packets under A first
    : >"$XI_TMP/reloads.jsonl"
    for ((i = 1; i <= RELOADS; i++)); do
        t0=$EPOCHREALTIME
        "$XI_BIN" --json reload --config "$([ $((i % 2)) = 1 ] && echo "$B" || echo "$A")" \
            --instance "$INST" >>"$XI_TMP/reloads.jsonl" 2>"$XI_TMP/reload.err" ||
            fail "reload $i failed: $(cat "$XI_TMP/reload.err")"
        t1=$EPOCHREALTIME
        ms+=($(((${t1/./} - ${t0/./}) / 1000)))
        grep -q '^sent ' "$XI_TMP/pace.log" && fail "the sender finished ($max packets) before reload $i"
    done
    sleep 0.2 # and some under the last generation
    sent=$(sender_stop pace)
    sent_pub=$(sender_stop pub)
    settle r0 r1 mesh/tc/ingress "$sent" allow_rule deny_rule
    settle r0 r1 "$(decision_hook)" "$sent_pub" local forward
    local g0 g1
    g0=$(gen r0)
    g1=$(gen r1)
    ((g1 - g0 == RELOADS)) || fail "generation $g0 -> $g1, expected +$RELOADS"
    pass "generation $g0 -> $g1 (+$RELOADS)"
    printf '%s\n' "${ms[@]}" | sort -n | awk '{a[NR]=$1} END {printf "  reload wall time ms: min %d median %d p90 %d max %d\n", a[1], a[int((NR+1)/2)], a[int(NR*0.9)], a[NR]}'
    "$RC_PY" -c 'import json,sys
f=sorted(json.loads(l)["fill_ms"] for l in open(sys.argv[1]))
print("  reload fill_ms: min %.1f median %.1f max %.1f (%d reloads)" % (f[0], f[len(f)//2], f[-1], len(f)))' "$XI_TMP/reloads.jsonl"
    local d
    d=$(delta r0 r1)
    "$RC_PY" - "$d" "$sent" "$sent_pub" "$(handoff_of r1)" <<'EOF' || fail "verdicts under reloads do not add up (above)"
import json, sys
d, sent, sent_pub, handoff = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
allow, deny = d.get("mesh/tc/ingress allow_rule", 0), d.get("mesh/tc/ingress deny_rule", 0)
ok = True
def check(cond, what):
    global ok
    print("  %s %s" % ("ok  " if cond else "FAIL", what), file=sys.stdout if cond else sys.stderr)
    ok = ok and cond
check(allow + deny == sent, "allow_rule %d (A) + deny_rule %d (B) == %d sent" % (allow, deny, sent))
check(d.get("rule gen-a", 0) == allow, "rule gen-a counted %d == allow_rule" % d.get("rule gen-a", 0))
check(d.get("rule gen-b", 0) == deny, "rule gen-b counted %d == deny_rule" % d.get("rule gen-b", 0))
check(allow > 0 and deny > 0, "both generations' verdicts occurred under traffic")
# The decision is counted where the hand-off takes it; the other hook counts the hand-off.
at, other, passed = (("public/xdp/ingress", "public/tc/ingress xdp_decided", "local")
                     if handoff == "xdp-mark" else
                     ("public/tc/ingress", "public/xdp/ingress tc_decides", "local + forward"))
local, fwd = d.get(at + " local", 0), d.get(at + " forward", 0)
check(local + fwd == sent_pub, "%s (hand-off %s) local %d (A: rx owns the VIP) + forward %d (B: sib owns it) == %d sent"
      % (at, handoff, local, fwd, sent_pub))
check(d.get(other, 0) == (local if handoff == "xdp-mark" else local + fwd),
      "%s %d == %s" % (other, d.get(other, 0), passed))
check(d.get("public/tc/ingress redirect", 0) == fwd, "TC public redirect %d == forward"
      % d.get("public/tc/ingress redirect", 0))
check(d.get("mesh/tc/egress steer_out", 0) == fwd, "mesh egress steer_out %d == forward"
      % d.get("mesh/tc/egress steer_out", 0))
check(d.get("peer sib forwarded", 0) == fwd, "peers[sib].forwarded_packets %d == forward"
      % d.get("peer sib forwarded", 0))
check(local > 0 and fwd > 0, "both owners' verdicts occurred under traffic")
rest = {k: v for k, v in d.items() if k not in ("mesh/tc/ingress allow_rule",
        "mesh/tc/ingress deny_rule", "rule gen-a", "rule gen-b", at + " local",
        at + " forward", other, "public/tc/ingress redirect",
        "mesh/tc/egress steer_out", "peer sib forwarded")}
check(not rest, "no other counter moved on any hook (no no_policy, no default verdict): %s" % (rest or "none"))
sys.exit(0 if ok else 1)
EOF
}

test_replace() {
    say "attach --replace under traffic, with a tracked reply-only flow"
    # rx opens udp 10.200.0.2:6000 -> backend:7000 (egress default allow: tracked); the backend
    # (a reply-only role) may answer on it, and only on it.
    snap t0
    bg_run opener ip netns exec "$(ns rx)" "$RC_PY" -c 'import socket,sys,time
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind((sys.argv[1], 6000)); s.sendto(b"hello", (sys.argv[2], 7000))
print("ready", flush=True); time.sleep(3600)' "$MESH_RX" "$BACKEND"
    wait_log opener '^ready' 10
    nsx tx "$RC_PY" "$PACE" "$BACKEND" "$MESH_RX" 6000 7000 1 0 >/dev/null
    settle t0 t1 mesh/tc/ingress 1 allow_tracked
    expect_delta t0 t1 "tracked flow opened by rx, the backend answers" \
        "mesh/tc/egress allow_default=1" "mesh/tc/ingress allow_tracked=1"

    local ids0 ids i sent_mesh sent_pub
    ids0=$(json_get "$XI_TMP/s-t1.json" '["%s:%d:%d" % (a["interface"] + "/" + a["side"] + "/" + a["hook"], a["program_id"], a.get("link_id", 0)) for a in j["attachments"]]')
    alloc 20000
    sender_start mesh "$SRC" "$MESH_RX" 5000 20000 500
    alloc 20000
    sender_start pub 192.0.2.1 "$VIP" 53 20000 500
    sleep 0.3
    # Where the kernel can run both hand-offs, the replaces also switch between them (an
    # operator's --handoff change, or an upgrade from a release that always marked): mode of
    # replace #1, #2, #3.
    local prev=$ids0 t0 t1 modes=(tc tc tc)
    "$XI_BIN" -j features | grep -q '"xdp-mark"' && modes=(xdp-mark tc xdp-mark)
    for i in 1 2 3; do
        t0=$EPOCHREALTIME
        xrun "$XI_BIN" attach --replace --netns "$(ns rx)" --instance "$INST" --config "$A" --node rx \
            --handoff "${modes[i - 1]}"
        t1=$EPOCHREALTIME
        expect_rc 0 "attach --replace #$i ($(((${t1/./} - ${t0/./}) / 1000)) ms)"
        snap "rep$i"
        ids=$(json_get "$XI_TMP/s-rep$i.json" '["%s:%d:%d" % (a["interface"] + "/" + a["side"] + "/" + a["hook"], a["program_id"], a.get("link_id", 0)) for a in j["attachments"]]')
        "$RC_PY" - "$prev" "$ids" <<'EOF' || fail "attach --replace #$i: programs not replaced ($prev -> $ids)"
import sys
old = {x.split(":")[0]: x.split(":")[1:] for x in sys.argv[1].split()}
new = {x.split(":")[0]: x.split(":")[1:] for x in sys.argv[2].split()}
bad = [h for h in old if h not in new or new[h][0] == old[h][0] or new[h][1] != old[h][1]]
sys.exit(1 if bad or len(new) != len(old) else 0)
EOF
        pass "every hook runs a new program id, on the same link: $ids"
        prev=$ids
        sleep 0.3
    done
    # The kernel's own view: the programs on the hooks are the ones status reports.
    hooks rx wg0 pub0 >"$XI_TMP/hooks.json"
    "$RC_PY" - "$XI_TMP/s-rep3.json" "$XI_TMP/hooks.json" <<'EOF' || fail "the kernel runs other programs than status reports"
import json, sys
st, h = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
want, got = {}, {}
for a in st["attachments"]:  # the metadata guard shares hooks with the public programs
    if a["interface"] not in h["interfaces"]:
        continue  # the guard on another interface (a fallback tunnel device in a VM)
    i = h["interfaces"][a["interface"]]
    d = a["hook"].split("/")[1]
    where = a["interface"] + " " + a["hook"]
    # tcx links, or clsact filters (kernels < 6.6: tc filter replace keeps the filter)
    got[where] = [i["xdp"]["id"]] if a["method"] == "xdp" else i["tcx" if a["method"] == "tcx" else "tc"][d]
    want.setdefault(where, []).append(a["program_id"])
for where in want:
    if sorted(got[where]) != sorted(want[where]):
        sys.exit("%s: kernel %s, status %s" % (where, got[where], want[where]))
EOF
    pass "the kernel runs exactly the new program ids"
    sent_mesh=$(sender_stop mesh)
    sent_pub=$(sender_stop pub)
    settle t1 t2 mesh/tc/ingress "$sent_mesh" allow_rule allow_tracked
    settle t1 t2 public/tc/ingress "$sent_pub" xdp_decided local
    # Every public packet decided once - at XDP (marked) or at TC - and handed over once.
    local d
    d=$(delta t1 t2)
    "$RC_PY" - "$d" "$sent_mesh" "$sent_pub" <<'EOF' || fail "packets lost or counted twice across the replaces: $d"
import json, sys
d, mesh, pub = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
xl, tl = d.pop("public/xdp/ingress local", 0), d.pop("public/tc/ingress local", 0)
xd, td = d.pop("public/tc/ingress xdp_decided", 0), d.pop("public/xdp/ingress tc_decides", 0)
ok = xl + tl == pub and xd == xl and td == tl
ok = ok and d == {"mesh/tc/ingress allow_rule": mesh, "rule gen-a": mesh}
print("  %s public: decided at XDP %d + at TC %d == %d sent; mesh allow_rule == %d sent; nothing else: %s"
      % ("ok  " if ok else "FAIL", xl, tl, pub, mesh, d))
sys.exit(0 if ok else 1)
EOF
    pass "no packet lost to the replaces ($sent_mesh mesh + $sent_pub public sent)"
    local before after
    before=$(json_get "$XI_TMP/s-t1.json" "[c['packets'] for c in j['counters'] if c['hook']=='mesh/tc/ingress' and c['reason']=='allow_rule'][0]")
    after=$(json_get "$XI_TMP/s-t2.json" "[c['packets'] for c in j['counters'] if c['hook']=='mesh/tc/ingress' and c['reason']=='allow_rule'][0]")
    ((before > 0 && after == before + sent_mesh)) || fail "allow_rule $before -> $after: not carried over"
    pass "counters carried over: mesh allow_rule $before -> $after"

    snap t3
    nsx tx "$RC_PY" "$PACE" "$BACKEND" "$MESH_RX" 6000 7000 1 0 >/dev/null
    nsx tx "$RC_PY" "$PACE" "$BACKEND" "$MESH_RX" 6000 7001 1 0 >/dev/null
    settle t3 t4 mesh/tc/ingress 2 allow_tracked reply_only
    expect_delta t3 t4 "after the replaces: the tracked flow still answers, an untracked one is dropped" \
        "mesh/tc/ingress allow_tracked=1" "mesh/tc/ingress reply_only=1"
}

main() {
    local t_start=$SECONDS
    rc_topology
    rc_attach "$A"
    ip -n "$(ns rx)" addr add "$VIP/32" dev lo
    rc_sink rx 5000 5001 53
    rc_sink tx 7000
    test_policies
    test_reloads
    test_replace
    xrun "$XI_BIN" health --strict --instance "$INST"
    expect_rc 0 "health --strict at the end"
    say "PASS reload_traffic in $((SECONDS - t_start)) s"
}

main "$@"
