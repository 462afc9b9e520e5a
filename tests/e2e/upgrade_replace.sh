#!/bin/bash
# Issue #9: existing users upgrade with `attach --replace`. From the last release (it always
# handed the steering decision over in XDP metadata; tests/e2e/upgrade_from names it and
# tools/build-baseline builds its binary, XI_BASELINE_BIN) to this build, under traffic,
# nothing is lost.
#
# The release's binary attaches edge rx (reload_common.sh; rx and "sib" share the VIP's flows,
# so rx delivers some locally and forwards the others, encapsulated, into its mesh), a backend
# flow gets tracked, and two paced senders run: new UDP flows to the VIP on the public side,
# new flows to rx across the mesh policy. This build's `attach --replace` (default hand-off)
# swaps every program while they run, then replaces them again with itself. Then, per datagram:
#   - public: rx's VIP socket received exactly the flows rx owns, and rx's per-peer counter for
#     sib counted exactly the flows sib owns (`xdp-ingress owner` says which, flow by flow);
#   - mesh: rx's socket received every datagram, and rule gen-a counted each;
#   - no drop counter moved on any hook; every hook runs this build's program on the same link,
#     the hand-off is recorded, the tracked flow still answers;
#   - the release's binary state record (xi_loader) became this build's JSON one (xi_state).
# Registered by handoff_tests.cmake.in where XI_BASELINE_BIN exists and the kernel can run the
# release's XDP program (it calls bpf_xdp_adjust_meta). ~30 s here.
set -euo pipefail
XI_BUDGET=${XI_BUDGET:-150} # seconds: a hang detector
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"
# shellcheck source-path=SCRIPTDIR source=reload_common.sh
source "$HERE/reload_common.sh"
require_privileges
[ -x "${XI_BASELINE_BIN:-}" ] || {
    echo "XI_BASELINE_BIN is not an executable: build it with tools/build-baseline" >&2
    exit 2
}
OLD_BIN=$XI_TMP/xdp-ingress-release
printf '#!/bin/sh\nexec "%s" --bpffs "%s" "$@"\n' "$XI_BASELINE_BIN" "$BPFFS" >"$OLD_BIN"
chmod +x "$OLD_BIN"
if [ "${VMTEST_GUEST:-}" = 1 ]; then RATE=${RATE:-300}; else RATE=${RATE:-1000}; fi
CFG=$XI_TMP/fleet.yaml
rc_config "$CFG" "  - {name: gen-a, from: senders, to: edges, protocol: udp, ports: [5000], action: allow}" 100 100
# The same fleet in a change (issue #13): sib draining. The release's programs cannot run it.
STEP=$XI_TMP/step.yaml
sed 's/\(mesh_ipv4: 10.200.0.3, weight: 100\)}/\1, state: draining}/' "$CFG" >"$STEP"
grep -q "state: draining" "$STEP" || fail "could not write the fleet change config"

# owned_by_rx SPORT COUNT: how many of the public flows 192.0.2.1:SPORT+i -> VIP:53 rx owns.
owned_by_rx() {
    local i
    for ((i = 0; i < $2; i++)); do echo "udp 192.0.2.1:$(($1 + i)) $VIP:53"; done |
        "$REAL_BIN" --json owner --stdin -c "$CFG" |
        "$RC_PY" -c 'import json,sys; print(sum(json.loads(l)["owner"] == "rx" for l in sys.stdin))'
}

main() {
    local t_start=$SECONDS
    say "upgrade from release $(cut -c1-12 "$HERE/upgrade_from") with attach --replace, under traffic"
    rc_topology
    ip -n "$(ns rx)" addr add "$VIP/32" dev lo
    echo "$INST" >>"$XI_TMP/instances"
    xrun "$OLD_BIN" attach --netns "$(ns rx)" --instance "$INST" --config "$CFG" --node rx
    expect_rc 0 "the release attaches rx"
    snap s0
    json_check "$XI_TMP/s-s0.json" "the release's programs run, without a recorded hand-off" \
        "j['state']=='attached' and not any('handoff' in a for a in j['attachments'])"
    bg_run sink ip netns exec "$(ns rx)" "$RC_PY" "$XI_E2E_DIR/count_udp.py" 53 5000
    wait_log sink '^ready' 10
    rc_sink tx 7000

    # A tracked reply-only flow (rx -> backend), opened under the release.
    bg_run opener ip netns exec "$(ns rx)" "$RC_PY" -c 'import socket,sys,time
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 6000)); s.sendto(b"hello", (sys.argv[2], 7000))
print("ready", flush=True); time.sleep(3600)' "$MESH_RX" "$BACKEND"
    wait_log opener '^ready' 10

    local sport_pub sent_mesh sent_pub ids0 ids1
    snap s1
    ids0=$(json_get "$XI_TMP/s-s1.json" '["%s:%d:%d" % (a["interface"] + "/" + a["side"] + "/" + a["hook"], a["program_id"], a.get("link_id", 0)) for a in j["attachments"] if a["side"] != "guard"]')
    alloc 30000
    sender_start mesh "$SRC" "$MESH_RX" 5000 30000 "$RATE"
    alloc 30000
    sport_pub=$SPORT
    sender_start pub 192.0.2.1 "$VIP" 53 30000 "$RATE"
    sleep 0.5
    [ -e "$BPFFS/xdp-ingress/$INST/xi_loader" ] || fail "the release recorded no binary state (xi_loader)"
    xrun "$XI_BIN" reload --instance "$INST" --config "$STEP"
    expect_rc 1 "this build's reload of a fleet change onto the release's programs is refused"
    expect_in err "predate"
    expect_in err "attach --replace"
    xrun "$XI_BIN" attach --replace --netns "$(ns rx)" --instance "$INST" --config "$CFG" --node rx
    expect_rc 0 "this build's attach --replace over the release's programs"
    [ -e "$BPFFS/xdp-ingress/$INST/xi_state" ] && [ ! -e "$BPFFS/xdp-ingress/$INST/xi_loader" ] ||
        fail "the release's state record was not migrated to JSON (xi_state)"
    pass "the release's binary state record became this build's JSON record"
    sleep 0.5
    xrun "$XI_BIN" attach --replace --netns "$(ns rx)" --instance "$INST" --config "$CFG" --node rx
    expect_rc 0 "and over itself"
    sleep 0.5
    sent_mesh=$(sender_stop mesh)
    sent_pub=$(sender_stop pub)
    sleep 0.5 # the last datagrams out of the backlog queues
    bg_stop sink || fail "the sink ignored SIGTERM"
    snap s2

    local want_local got
    want_local=$(owned_by_rx "$sport_pub" "$sent_pub")
    got=$(tail -1 "$XI_TMP/sink.log")
    "$RC_PY" - "$got" "$XI_TMP/s-s1.json" "$XI_TMP/s-s2.json" "$sent_mesh" "$sent_pub" "$want_local" <<'EOF' ||
import json, sys
got, s1, s2 = json.loads(sys.argv[1]), json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
mesh, pub, local = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
def peer(s):
    return sum(p["forwarded_packets"] for p in s["peers"] if p["node"] == "sib")
def rule(s):
    return sum(r["packets"] for r in s["rules"] if r["rule"] == "gen-a")
drops = {}
for c in s2["counters"]:
    if c["drop"]:
        before = sum(x["packets"] for x in s1["counters"] if x["hook"] == c["hook"] and x["reason"] == c["reason"])
        if c["packets"] != before:
            drops[c["hook"] + " " + c["reason"]] = c["packets"] - before
checks = [
    (got["53"] == local, "public: rx's VIP socket received %d == the %d of %d flows rx owns" % (got["53"], local, pub)),
    (peer(s2) - peer(s1) == pub - local, "public: forwarded to sib %d == the %d flows sib owns" % (peer(s2) - peer(s1), pub - local)),
    (got["5000"] == mesh, "mesh: rx's socket received %d == %d sent" % (got["5000"], mesh)),
    (rule(s2) - rule(s1) == mesh, "mesh: rule gen-a counted %d == %d sent" % (rule(s2) - rule(s1), mesh)),
    (0 < local < pub, "both paths ran: %d local, %d forwarded" % (local, pub - local)),
    (not drops, "no drop counter moved: %s" % (drops or "none")),
]
for ok, what in checks:
    print("  %s %s" % ("ok  " if ok else "FAIL", what), file=sys.stdout if ok else sys.stderr)
sys.exit(0 if all(ok for ok, _ in checks) else 1)
EOF
        fail "packets lost across the upgrade (above)"

    ids1=$(json_get "$XI_TMP/s-s2.json" '["%s:%d:%d" % (a["interface"] + "/" + a["side"] + "/" + a["hook"], a["program_id"], a.get("link_id", 0)) for a in j["attachments"] if a["side"] != "guard"]')
    "$RC_PY" - "$ids0" "$ids1" <<'EOF' || fail "programs not replaced in place: $ids0 -> $ids1"
import sys
old = {x.split(":")[0]: x.split(":")[1:] for x in sys.argv[1].split()}
new = {x.split(":")[0]: x.split(":")[1:] for x in sys.argv[2].split()}
sys.exit(1 if len(new) != len(old) or any(h not in new or new[h][0] == old[h][0] or new[h][1] != old[h][1] for h in old) else 0)
EOF
    pass "every hook runs a new program, on the same link: $ids1"
    json_check "$XI_TMP/s-s2.json" "attach --replace added the metadata guard the release had not" \
        "sorted(a['hook'] for a in j['attachments'] if a['side']=='guard' and a['interface']=='pub0')==
         ['tc/egress', 'tc/ingress'] and
         not any(a['side']=='guard' for a in json.load(open('$XI_TMP/s-s1.json'))['attachments'])"
    json_check "$XI_TMP/s-s2.json" "the hand-off is recorded on the public hooks" \
        "sorted(a['hook'] for a in j['attachments'] if a.get('handoff') in ('tc', 'xdp-mark'))==['tc/ingress', 'xdp/ingress']"

    snap s3
    nsx tx "$RC_PY" "$PACE" "$BACKEND" "$MESH_RX" 6000 7000 1 0 >/dev/null
    settle s3 s4 mesh/tc/ingress 1 allow_tracked
    expect_delta s3 s4 "the flow tracked under the release still answers" "mesh/tc/ingress allow_tracked=1"
    xrun "$XI_BIN" reload --instance "$INST" --config "$STEP"
    expect_rc 0 "after attach --replace the same fleet change reloads"
    xrun "$XI_BIN" health --strict --instance "$INST"
    expect_rc 0 "health --strict after the upgrade"
    say "PASS upgrade_replace in $((SECONDS - t_start)) s"
}

main "$@"
