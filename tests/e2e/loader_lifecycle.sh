#!/bin/bash
# Loader lifecycle in throwaway network namespaces (issue #2): attach, status from a second
# process, the datapath running after the loaders exited, double attach, detach without residue,
# detach again. (Concurrent attach and vanished interfaces/namespaces: loader_faults.sh.)
#
#   edge: pub0 (veth, public interface and WireGuard underlay) + wg0 (wireguard-go: TUN, L3)
#   back: up0 (veth peer of pub0, underlay only)               + wg0 (wireguard-go)
#   l2:   mesh0 (veth: a mesh interface with an Ethernet header, L2 entries)
set -euo pipefail
XI_BUDGET=${XI_BUDGET:-90} # seconds: a hang detector; 5-40 s here, 50 s on a very busy host
# shellcheck source-path=SCRIPTDIR source=loader_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/loader_common.sh" # lib.sh, privileges, $CFG
# Runs in the VMs of make vmtest too (the clsact path of kernels < 6.6): lib.sh scales
# XI_BUDGET there, since TCG emulation makes its process-heavy steps ~5x slower.

EDGE=${XI_PFX}edge # instance names: unique per run, other tests share /sys/fs/bpf
BACK=${XI_PFX}back
L2=${XI_PFX}l2

setup_topology() {
    ns_add edge back l2
    veth edge pub0 back up0
    ip -n "$(ns edge)" addr add 192.168.77.1/24 dev pub0
    ip -n "$(ns back)" addr add 192.168.77.2/24 dev up0
    wg_up edge
    wg_up back
    wg_peer edge back 192.168.77.2 10.200.1.11/32
    wg_peer back edge 192.168.77.1 10.200.0.1/32
    ip -n "$(ns edge)" addr add 10.200.0.1/16 dev wg0
    ip -n "$(ns back)" addr add 10.200.1.11/16 dev wg0
    ip -n "$(ns edge)" link set wg0 up
    ip -n "$(ns back)" link set wg0 up
    veth l2 mesh0 l2 mesh0p
}

test_attach_and_status() {
    say "attach an edge, a backend and an L2-mesh backend; status from a second process"
    # A relative --config: status must still name the file from any directory.
    echo "$EDGE" >>"$XI_TMP/instances"
    xrun env -C "$XI_TMP" "$XI_BIN" attach --netns "$(ns edge)" --instance "$EDGE" \
        --node edge-a --config fleet.yaml
    expect_rc 0 "attach edge-a with a relative --config"
    expect_line out "attached instance $EDGE (generation 1)"
    expect_line out "  xi_xdp_public on pub0"
    expect_line out "  xi_mesh_in_l3 on wg0"
    attach_ok back "$BACK" app-1
    attach_ok l2 "$L2" app-l2

    local f=$XI_TMP/edge.json sha
    status_json "$EDGE" "$f"
    sha=$(sha256sum "$CFG" | cut -d' ' -f1)
    json_check "$f" "edge: state attached, node, netns, absolute config path and its sha256" \
        "j['state']=='attached' and j['node']=='edge-a' and j['netns']=='$(ns edge)'
         and j['config']=={'path': '$CFG', 'sha256': '$sha'}
         and j['pin_dir']=='$PIN_ROOT/$EDGE' and j['generation']['number']==1"
    expect_attachments "$f" "edge (wg0 is a TUN: L3 entries; native XDP on the veth)" "$EXPECT_EDGE"
    local links="'link_xdp_pub0'" # clsact filters have no link to pin
    if [ "$TC_METHOD" = tcx ]; then
        links+=",'link_tcx_egress_pub0','link_tcx_ingress_pub0','link_tcx_egress_wg0'"
        links+=",'link_tcx_ingress_wg0','link_tcx_guard_egress_pub0','link_tcx_guard_ingress_pub0'"
    fi
    json_check "$f" "edge: every link pinned under the instance directory by hook and interface" \
        "sorted(a['pin'] for a in j['attachments'] if 'pin' in a and (a['side'] != 'guard' or a['interface'] == 'pub0'))
         ==sorted('$PIN_ROOT/$EDGE/'+p for p in [$links])"
    kernel_agrees edge "$f"

    status_json "$BACK" "$XI_TMP/back.json"
    expect_attachments "$XI_TMP/back.json" "backend: wg0 (L3 entries), the guard on its underlay up0" "$EXPECT_BACK"
    kernel_agrees back "$XI_TMP/back.json"
    status_json "$L2" "$XI_TMP/l2.json"
    expect_attachments "$XI_TMP/l2.json" "backend on a veth mesh: L2 entries, the guard on the peer mesh0p" "$EXPECT_L2"
    kernel_agrees l2 "$XI_TMP/l2.json"

    # Plain status of all instances (others' instances may be listed too: this host is shared).
    xrun "$XI_BIN" status
    expect_rc 0 "plain status"
    expect_line out "instance $EDGE: attached"
    expect_line out "  node edge-a in netns $(ns edge)"
    # The ids status --json reported, which the kernel confirmed above.
    local xdp_id mesh_in_id
    xdp_id=$(json_get "$f" '[a["program_id"] for a in j["attachments"] if a["hook"]=="xdp/ingress"]')
    mesh_in_id=$(json_get "$f" '[a["program_id"] for a in j["attachments"]
                                 if a["interface"]=="wg0" and a["hook"]=="tc/ingress"]')
    expect_line out "  pub0 xdp/ingress xdp native handoff $AUTO_HANDOFF prog xi_xdp_public id $xdp_id"
    expect_line out "  wg0 tc/ingress $TC_METHOD prog xi_mesh_in_l3 id $mesh_in_id"
    expect_line out "instance $BACK: attached"
    expect_line out "instance $L2: attached"
}

# mesh_ip_packets INSTANCE HOOK: packets the program at HOOK ("mesh/tc/ingress") parsed as IP
# and let through, whatever the policy verdict; "DROPS" if it dropped any.
mesh_ip_packets() {
    "$XI_BIN" --json status --instance "$1" | "$XI_PY" -c 'import json,sys
c=[c for c in json.load(sys.stdin)["counters"] if c["hook"]==sys.argv[1]]
if any(x["drop"] and x["packets"] for x in c): print("DROPS", c)
else: print(sum(x["packets"] for x in c if x["reason"]!="pass_not_ip"))' "$2"
}

# The loaders exited long ago: the pinned links keep the programs running, and the L3 entries
# parse wg0's packets as IP (an L2 parser on a TUN misparses: not IP, or a bad header).
test_datapath_runs_without_loader() {
    say "traffic across wg0 after the attaching processes exited"
    local ok=0 n
    for _ in $(seq 20); do
        if nsx edge ping -c1 -W1 -q 10.200.1.11 >/dev/null 2>&1; then
            ok=1
            break
        fi
    done
    ((ok)) || fail "no ping reply across wg0 in 20 tries"
    n=$(mesh_ip_packets "$EDGE" mesh/tc/egress)
    if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then fail "edge wg0 egress: $n"; fi
    n=$(mesh_ip_packets "$BACK" mesh/tc/ingress)
    if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then fail "backend wg0 ingress: $n"; fi
    pass "ping crossed wg0 through xi_mesh_out_l3 and xi_mesh_in_l3, parsed as IP, no drops"
}

test_double_attach() {
    say "double attach changes nothing"
    local before=$XI_TMP/edge.json after=$XI_TMP/edge2.json pins
    pins=$(ls "$PIN_ROOT/$EDGE")
    xrun "$XI_BIN" attach --netns "$(ns edge)" --instance "$EDGE" --node edge-a --config "$CFG"
    expect_rc 1 "second attach of $EDGE"
    # The guard's interface count: pub0, and the fallback tunnel devices where their modules are
    # loaded (a VM after tunnel_metadata).
    expect_in err "Error: instance '$EDGE' (node edge-a, config $CFG) is attached: xi_mesh_in_l3@wg0 xi_mesh_out_l3@wg0 xi_tc_pub_out@pub0 xi_tc_pub_in@pub0 xi_xdp_public@pub0 and the metadata guard on "
    expect_in err ": File exists -- nothing changed; use \`reload\` to apply a new config, \`attach --replace\` to upgrade the programs, or \`detach\` first"
    expect_empty out
    status_json "$EDGE" "$after"
    json_check "$after" "same programs, links and generation as before" \
        "[(a['program_id'], a.get('link_id')) for a in j['attachments']]==
         [(a['program_id'], a.get('link_id')) for a in json.load(open('$before'))['attachments']]
         and j['generation']==json.load(open('$before'))['generation']"
    kernel_agrees edge "$after"
    [ "$(ls "$PIN_ROOT/$EDGE")" = "$pins" ] || fail "the pin directory changed"

    # The same node under another instance name: the interfaces are taken. XDP refuses; the tcx
    # programs attached before it are rolled back, so the kernel runs the first instance's only.
    echo "${XI_PFX}dup" >>"$XI_TMP/instances"
    xrun "$XI_BIN" attach --netns "$(ns edge)" --instance "${XI_PFX}dup" --node edge-a --config "$CFG"
    expect_rc 1 "attach edge-a again as a second instance"
    expect_line err "Error: another XDP program is already attached to pub0: Device or resource busy -- remove it first (ip link set dev pub0 xdp off) or run xdp-ingress detach"
    [ ! -e "$PIN_ROOT/${XI_PFX}dup" ] || fail "the refused instance left $PIN_ROOT/${XI_PFX}dup"
    kernel_agrees edge "$after"
}

test_detach() {
    say "detach leaves nothing behind; detach again is a no-op"
    detach_clean edge "$EDGE" pub0 wg0
    detach_clean back "$BACK" wg0
    detach_clean l2 "$L2" mesh0
    # JSON shape of a no-op detach.
    xrun "$XI_BIN" --json detach --instance "$EDGE"
    expect_rc 0 "detach --json of a detached instance"
    json_check "$XI_TMP/out" "detach --json says was_attached false" \
        "j==[{'instance': '$EDGE', 'was_attached': False, 'detached': []}]"
}

main() {
    write_fleet_config "$CFG"
    setup_topology
    test_attach_and_status
    test_datapath_runs_without_loader
    test_double_attach
    test_detach
    say "loader_lifecycle: all passed in $SECONDS s"
}
main
