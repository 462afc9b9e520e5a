#!/bin/bash
# Issue #5: a loader SIGKILLed at any point of a reload leaves a consistent, working datapath.
# Topology and helpers: reload_common.sh. Policy A allows senders -> rx udp 5000 by rule
# "a-allow"; policy B denies it by rule "b-deny" and has one more VIP port (so the VIP and rule
# tables both differ; the Maglev and identity tables are shared).
#
# 1. Each phase of a publish, made deterministic with the loader's test hook
#    (XI_TEST_PAUSE=PHASE: the reload prints "xi-test-pause PHASE pid=N" there and blocks):
#    compiled, catalog, mid-fill, filled, recorded (all before the flip: the old generation must
#    remain) and flipped (after it: the new one). After the SIGKILL: status and health --strict
#    work; the active generation is wholly old or wholly new as the phase demands - its number,
#    its record (config sha256 and table sha256 of that config), its verdict on 100 crafted
#    datagrams (exactly one reason and the matching rule counter, by name, moved; nothing else);
#    then a normal reload to the other policy succeeds and its verdict takes effect.
# 2. Random-delay kills under paced traffic: 12 reloads, each SIGKILLed 0-90 ms after it
#    started (wherever it is then), each followed by the same consistency checks; at the end
#    allow_rule + deny_rule == packets sent exactly and no other counter moved.
# Usage: reload_crash.sh (root; exit 77 = skipped without CAP_BPF/CAP_NET_ADMIN).
set -euo pipefail
XI_BUDGET=${XI_BUDGET:-150} # seconds: a hang detector; ~20-40 s here
# shellcheck source-path=SCRIPTDIR source=reload_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/reload_common.sh" # lib.sh, privileges

PHASES=(compiled catalog mid-fill filled recorded flipped)
# 6 inside a vmtest VM (every reload a process start under TCG; CI's time budget).
if [ "${VMTEST_GUEST:-}" = 1 ]; then RANDOM_KILLS=${RANDOM_KILLS:-6}; else RANDOM_KILLS=${RANDOM_KILLS:-12}; fi
A=$XI_TMP/policy-a.yaml
B=$XI_TMP/policy-b.yaml
rc_config "$A" "  - {name: a-allow, from: senders, to: edges, protocol: udp, ports: [5000], action: allow}"
rc_config "$B" "  - {name: b-deny, from: senders, to: edges, protocol: udp, ports: [5000], action: deny}"
sed -i 's/ports: \[53\]}/ports: [53, 54]}/' "$B"
declare -A CSHA TSHA VERDICT RULE OTHER
VERDICT[A]=allow_rule
VERDICT[B]=deny_rule
RULE[A]="a-allow"
RULE[B]="b-deny"
OTHER[A]=B
OTHER[B]=A
CN=0
file_of() { if [ "$1" = A ]; then echo "$A"; else echo "$B"; fi; }

# reload_ok A|B: a normal reload; remembers the config's and tables' sha256.
reload_ok() {
    xrun "$XI_BIN" --json reload --config "$(file_of "$1")" --instance "$INST"
    expect_rc 0 "reload to policy $1"
    cp "$XI_TMP/out" "$XI_TMP/reload.json"
    CSHA[$1]=$(json_get "$XI_TMP/out" 'j["config_sha256"]')
    TSHA[$1]=$(json_get "$XI_TMP/out" 'j["table_sha256"]')
}

# active TAG: which policy the snapshot's active generation record belongs to (A or B), or
# fail if the record (config sha256 + table sha256) is not wholly one of them.
active() {
    local c t p
    c=$(json_get "$XI_TMP/s-$1.json" 'j["config"]["sha256"]')
    t=$(json_get "$XI_TMP/s-$1.json" 'j["table_sha256"]')
    for p in A B; do
        if [ "$c" = "${CSHA[$p]}" ] && [ "$t" = "${TSHA[$p]}" ]; then
            echo "$p"
            return 0
        fi
    done
    fail "active record is neither A nor B: config $c tables $t"
}

# consistent WHAT [EXPECT_POLICY [EXPECT_GEN]]: status and health work, the record is wholly A
# or B (the expected one), the generation number is the expected one, and 100 crafted datagrams
# get exactly that policy's verdict and rule counter. Sets CUR (A|B) and CURGEN.
consistent() {
    local what=$1 want=${2:-} wantgen=${3:-} tag
    CN=$((CN + 1))
    tag=c$CN
    snap "$tag"
    CUR=$(active "$tag")
    CURGEN=$(gen "$tag")
    [ -z "$want" ] || [ "$CUR" = "$want" ] || fail "$what: policy $CUR is active, expected $want"
    [ -z "$wantgen" ] || [ "$CURGEN" = "$wantgen" ] ||
        fail "$what: generation $CURGEN is active, expected $wantgen"
    xrun "$XI_BIN" health --strict --instance "$INST"
    expect_rc 0 "$what: health --strict ($(cat "$XI_TMP/out"))"
    json_check "$XI_TMP/s-$tag.json" "$what: status: attached, generation $CURGEN (policy $CUR), rule ${RULE[$CUR]} named" \
        "j['state'] == 'attached' and '${RULE[$CUR]}' in [r['rule'] for r in j['rules']]"
    send 100 5000
    settle "$tag" "$tag.2" mesh/tc/ingress 100 allow_rule deny_rule
    expect_delta "$tag" "$tag.2" "$what: policy $CUR's verdict on 100 datagrams" \
        "mesh/tc/ingress ${VERDICT[$CUR]}=100" "rule ${RULE[$CUR]}=100"
}

# killed_reload PHASE: a reload to the other policy, paused at PHASE and SIGKILLed there.
killed_reload() {
    local phase=$1 pid
    bg_run "reload-$phase" env XI_TEST_PAUSE="$phase" "$XI_BIN" reload --config "$(file_of "${OTHER[$CUR]}")" --instance "$INST"
    wait_log "reload-$phase" "^xi-test-pause $phase pid=" 15
    pid=$(<"$XI_TMP/reload-$phase.pid")
    grep -q "pid=$pid\$" "$XI_TMP/reload-$phase.log" || fail "the paused process is not the one started"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    pass "reload $CUR -> ${OTHER[$CUR]} paused at '$phase', SIGKILLed"
}

test_phases() {
    local phase old oldgen
    for phase in "${PHASES[@]}"; do
        say "SIGKILL at phase '$phase'"
        old=$CUR
        oldgen=$CURGEN
        killed_reload "$phase"
        if [ "$phase" = flipped ]; then
            consistent "after the kill" "${OTHER[$old]}" $((oldgen + 1))
        else
            consistent "after the kill" "$old" "$oldgen"
        fi
        reload_ok "${OTHER[$CUR]}"
        consistent "next reload" "${OTHER[$CUR]}" $((CURGEN + 1))
        json_check "$XI_TMP/reload.json" "next reload reports generation $CURGEN" "j['generation'] == $CURGEN"
        snap "clean-$phase"
        json_check "$XI_TMP/s-clean-$phase.json" "after a clean reload status names exactly the rules of policy $CUR" \
            "sorted(r['rule'] for r in j['rules']) == ['${RULE[$CUR]}']"
    done
}

test_random_kills() {
    say "$RANDOM_KILLS reloads SIGKILLed after a random 0-90 ms, under 1000 packets/s"
    local i pid delay max=60000 sent kills_after_flip=0 before
    alloc "$max"
    snap k0
    bg_run pace ip netns exec "$(ns tx)" "$RC_PY" "$PACE" "$SRC" "$MESH_RX" 5000 "$SPORT" "$max" 1000
    wait_log pace '^started' 10
    for ((i = 1; i <= RANDOM_KILLS; i++)); do
        before=$CURGEN
        delay=$((RANDOM % 91))
        "$XI_BIN" reload --config "$(file_of "${OTHER[$CUR]}")" --instance "$INST" >/dev/null 2>&1 &
        pid=$!
        sleep "$(printf '0.%03d' "$delay")"
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        snap "k$i"
        CUR=$(active "k$i")
        CURGEN=$(gen "k$i")
        ((CURGEN == before || CURGEN == before + 1)) || fail "kill $i: generation $before -> $CURGEN"
        ((CURGEN == before)) || kills_after_flip=$((kills_after_flip + 1))
        xrun "$XI_BIN" health --strict --instance "$INST"
        expect_rc 0 "kill $i after $delay ms: generation $CURGEN, policy $CUR, health --strict"
    done
    pass "$((RANDOM_KILLS - kills_after_flip)) kills left the old generation, $kills_after_flip the new one"
    sleep 0.2
    bg_stop pace || fail "the sender ignored SIGTERM"
    grep -q '^sent ' "$XI_TMP/pace.log" || fail "sender: $(tail -3 "$XI_TMP/pace.log")"
    sent=$(awk '/^sent / {print $2}' "$XI_TMP/pace.log")
    settle k0 kend mesh/tc/ingress "$sent" allow_rule deny_rule
    "$RC_PY" - "$(delta k0 kend)" "$sent" <<'EOF' || fail "verdicts under the kills do not add up"
import json, sys
d, sent = json.loads(sys.argv[1]), int(sys.argv[2])
allow, deny = d.pop("mesh/tc/ingress allow_rule", 0), d.pop("mesh/tc/ingress deny_rule", 0)
rest = {k: v for k, v in d.items() if not k.startswith("rule ")}
print("  %s allow_rule %d + deny_rule %d == %d sent; other counters moved: %s"
      % ("ok  " if allow + deny == sent and not rest else "FAIL", allow, deny, sent, rest or "none"))
sys.exit(0 if allow + deny == sent and not rest else 1)
EOF
    consistent "after the random kills"
    reload_ok "${OTHER[$CUR]}"
    consistent "final reload" "${OTHER[$CUR]}" $((CURGEN + 1))
}

main() {
    local t_start=$SECONDS
    rc_topology
    rc_attach "$A"
    rc_sink rx 5000
    # Both policies' record hashes, from clean reloads (A is active afterwards).
    reload_ok B
    reload_ok A
    CUR=A
    consistent "start" A 3
    test_phases
    test_random_kills
    say "PASS reload_crash in $((SECONDS - t_start)) s"
}

main "$@"
