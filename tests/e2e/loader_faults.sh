#!/bin/bash
# Loader lifecycle under faults, in throwaway network namespaces (issue #2): two attaches of
# the same instance at once, an attached interface deleted, an instance's network namespace
# deleted, detach --all across namespaces, and status with no instances at all. (The ordinary
# lifecycle: loader_lifecycle.sh.)
#
#   edge: pub0 (veth; its peer stays in the namespace) + wg0 (wireguard-go: TUN, L3 entries)
#   l2:   mesh0 (veth: a mesh interface with an Ethernet header, L2 entries)
#   l2b:  the same, for detach --all
set -euo pipefail
XI_BUDGET=${XI_BUDGET:-90} # seconds: a hang detector; 5-40 s here, 50 s on a very busy host
# shellcheck source-path=SCRIPTDIR source=loader_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/loader_common.sh" # lib.sh, privileges, $CFG
# Label hostonly: not in make vmtest (tests/e2e/CMakeLists.txt says why).

EDGE=${XI_PFX}edge # instance names: unique per run, other tests share /sys/fs/bpf
L2=${XI_PFX}l2

setup_topology() {
    ns_add edge l2
    veth edge pub0 edge pub0peer
    wg_up edge
    veth l2 mesh0 l2 mesh0p
}

test_concurrent_attach() {
    say "two processes attach the same instance at once"
    local i pids=()
    echo "$EDGE" >>"$XI_TMP/instances"
    # Both wait for the same file, so they start within milliseconds of each other.
    for i in 1 2; do
        (
            while [ ! -e "$XI_TMP/go" ]; do sleep 0.01; done
            set +e
            timeout 40 "$XI_BIN" attach --netns "$(ns edge)" --instance "$EDGE" --node edge-a \
                --config "$CFG" >"$XI_TMP/c$i.out" 2>"$XI_TMP/c$i.err"
            echo $? >"$XI_TMP/c$i.rc"
        ) &
        pids+=($!)
    done
    sleep 0.2
    touch "$XI_TMP/go"
    wait "${pids[@]}" # not a bare wait: wireguard-go runs in the background too
    local rcs winner loser
    rcs="$(cat "$XI_TMP/c1.rc") $(cat "$XI_TMP/c2.rc")"
    case $rcs in
    "0 1") winner=1 loser=2 ;;
    "1 0") winner=2 loser=1 ;;
    *)
        cat "$XI_TMP"/c[12].err >&2
        fail "exit codes $rcs: expected exactly one 0 and one 1"
        ;;
    esac
    pass "exactly one attach succeeded (exit codes $rcs)"
    grep -qxF "attached instance $EDGE (generation 1)" "$XI_TMP/c$winner.out" ||
        fail "the winner did not report the attach"
    # The loser either waited for the lock and found the instance attached, or gave up on the
    # lock; either way one sentence and nothing done.
    if ! grep -qE "^Error: (instance '$EDGE' \(node edge-a, config $CFG\) is attached: xi_mesh_in_l3@wg0 xi_mesh_out_l3@wg0 xi_tc_pub_out@pub0 xi_tc_pub_in@pub0 xi_xdp_public@pub0 and the metadata guard on 2 interfaces: File exists -- nothing changed|cannot lock $PIN_ROOT: )" "$XI_TMP/c$loser.err"; then
        cat "$XI_TMP/c$loser.err" >&2
        fail "the losing attach did not say why"
    fi
    pass "the other failed cleanly: $(head -c 90 "$XI_TMP/c$loser.err")..."
    status_json "$EDGE" "$XI_TMP/conc.json"
    # pub0peer, the veth's other end, is in the edge's namespace too: guarded like pub0.
    expect_attachments "$XI_TMP/conc.json" "one complete set" "${EXPECT_EDGE%%wg0 *}pub0peer tc/egress $TC_METHOD - - xi_guard_out_l2 true
pub0peer tc/ingress $TC_METHOD - - xi_guard_in_l2 true
wg0 ${EXPECT_EDGE#*wg0 }"
    kernel_agrees edge "$XI_TMP/conc.json"
    detach_clean edge "$EDGE" pub0 wg0
}

test_interface_deleted() {
    say "an attached interface is deleted: status degraded, detach still cleans up"
    attach_ok edge "$EDGE" edge-a
    local objs f=$XI_TMP/deg.json
    objs=$(objects "$EDGE")
    ip -n "$(ns edge)" link del pub0
    # The kernel tears a deleted device's hooks down asynchronously (clsact filters after an
    # RCU grace period): give status a bounded moment to see it.
    for _ in $(seq 50); do
        timeout 30 "$XI_BIN" --json status --instance "$EDGE" >"$f"
        [ "$(json_get "$f" "j['state']")" = degraded ] && break
        sleep 0.1
    done
    json_check "$f" "state degraded (status from a second process)" "j['state']=='degraded'"
    expect_attachments "$f" "pub0 hooks not attached, wg0 hooks still attached" \
        "pub0 tc/egress $TC_METHOD - - xi_guard_out_l2 false
pub0 tc/egress $TC_METHOD - - xi_tc_pub_out false
pub0 tc/ingress $TC_METHOD - - xi_guard_in_l2 false
pub0 tc/ingress $TC_METHOD - $AUTO_HANDOFF xi_tc_pub_in false
pub0 xdp/ingress xdp native $AUTO_HANDOFF xi_xdp_public false
pub0peer tc/egress $TC_METHOD - - xi_guard_out_l2 false
pub0peer tc/ingress $TC_METHOD - - xi_guard_in_l2 false
wg0 tc/egress $TC_METHOD - - xi_mesh_out_l3 true
wg0 tc/ingress $TC_METHOD - - xi_mesh_in_l3 true"
    xrun "$XI_BIN" status --instance "$EDGE"
    expect_rc 0 "plain status of the degraded instance"
    expect_line out "instance $EDGE: degraded"
    expect_in out "  pub0 xdp/ingress xdp native handoff $AUTO_HANDOFF prog xi_xdp_public id"
    [ "$(grep -c ' NOT ATTACHED$' "$XI_TMP/out")" = 3 ] || {
        show_output
        fail "expected 3 attachments marked NOT ATTACHED"
    }
    pass "plain status marks the 3 pub0 hooks NOT ATTACHED"
    [ "$(grep -c ' (interface gone)$' "$XI_TMP/out")" = 4 ] || {
        show_output
        fail "expected the metadata guard's 4 hooks on pub0 and its peer marked (interface gone)"
    }
    pass "and the metadata guard's 4 (pub0 and its veth peer) as gone with their interfaces"
    xrun "$XI_BIN" detach --instance "$EDGE"
    expect_rc 0 "detach the degraded instance"
    no_residue edge "$EDGE" "$objs" wg0
}

test_namespace_deleted() {
    say "the instance's network namespace is deleted: detach still cleans up"
    attach_ok l2 "$L2" app-l2
    local objs
    objs=$(objects "$L2")
    ip netns del "$(ns l2)"
    xrun "$XI_BIN" detach --instance "$L2"
    expect_rc 0 "detach after its namespace is gone"
    expect_line out "detached instance $L2"
    expect_line err "warning: network namespace '$(ns l2)' of instance $L2 no longer exists: removing its links and pins from here"
    no_residue l2-gone "$L2" "$objs"
}

# In a private bpffs, so that --all cannot reach other tests' instances on this machine. Pins
# outside /sys stay visible under `ip netns exec`, which runs the loader inside a namespace
# without --netns (recorded: none) - as on a host attached from its own namespace.
test_detach_all() {
    say "detach --all: each instance in its own namespace"
    local fs=$XI_TMP/bpffs-all
    bpffs_private "$fs"
    ns_add l2b
    veth l2b mesh0 l2b mesh0p
    # pub0 went in test_interface_deleted.
    ip -n "$(ns edge)" link show pub0 >/dev/null 2>&1 || veth edge pub0 edge pub0peer
    xrun ip netns exec "$(ns l2b)" "$XI_BIN" --bpffs "$fs" attach --instance b-l2 --node app-l2 --config "$CFG"
    expect_rc 0 "attach app-l2 from inside $(ns l2b), no --netns"
    xrun "$XI_BIN" --bpffs "$fs" attach --netns "$(ns edge)" --instance a-edge --node edge-a --config "$CFG"
    expect_rc 0 "attach edge-a with --netns $(ns edge)"
    # From inside l2b: a-edge first (sorted), joining edge; then b-l2, which recorded no
    # namespace, must be detached back in l2b, where the loader started.
    xrun ip netns exec "$(ns l2b)" "$XI_BIN" --bpffs "$fs" --json detach --all
    expect_rc 0 "detach --all"
    json_check "$XI_TMP/out" "both instances detached" \
        "[(d['instance'], d['was_attached']) for d in j]==[('a-edge', True), ('b-l2', True)]"
    hooks_empty l2b mesh0 || fail "b-l2 left programs on mesh0 in $(ns l2b)"
    hooks_empty edge pub0 wg0 || fail "a-edge left programs in $(ns edge)"
    [ -z "$(ls -A "$fs/xdp-ingress")" ] || fail "pins left: $(ls "$fs/xdp-ingress")"
    pass "nothing left in either namespace, no pins"
}

test_status_no_instances() {
    say "status with no instances (a private, empty bpffs)"
    local fs=$XI_TMP/bpffs
    bpffs_private "$fs"
    xrun "$XI_BIN" --bpffs "$fs" status
    expect_rc 0 "status with no instances"
    [ "$(cat "$XI_TMP/out")" = "no instances attached" ] || fail "plain: $(cat "$XI_TMP/out")"
    xrun "$XI_BIN" --bpffs "$fs" --json status
    expect_rc 0 "status --json with no instances"
    json_check "$XI_TMP/out" "an empty list" "j==[]"
    xrun "$XI_BIN" --bpffs "$fs" status --instance "$EDGE"
    expect_rc 1 "status of an instance that does not exist"
    expect_line err "Error: no instance '$EDGE' under $fs/xdp-ingress: No such file or directory -- see \`xdp-ingress status\` for the attached ones"
}

main() {
    write_fleet_config "$CFG"
    setup_topology
    test_concurrent_attach
    test_interface_deleted
    test_namespace_deleted
    test_detach_all
    test_status_no_instances
    say "loader_faults: all passed in $SECONDS s"
}
main
