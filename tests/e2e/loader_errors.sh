#!/bin/bash
# Loader errors in throwaway network namespaces (issue #2): each failure exits 1 with one clear
# sentence (file:line:col for config errors), creates no pins, attaches nothing, and leaves a
# running instance untouched. Also the XDP fallback: --xdp-mode native fails on a TUN device,
# auto falls back to generic and says why; and the hand-off on a kernel that refuses XDP
# metadata: --handoff xdp-mark fails with one sentence, the default (tc) runs.
#
#   edge: pub0 (veth) + wg0 (wireguard-go)   running instance of node edge-a throughout
#   tun:  tun0 (TUN, no native XDP) + wg0 (wireguard-go)   node edge-tun
#   bare: only lo
set -euo pipefail
XI_BUDGET=${XI_BUDGET:-90} # seconds: a hang detector; 5-40 s here, 50 s on a very busy host
# shellcheck source-path=SCRIPTDIR source=loader_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/loader_common.sh" # lib.sh, privileges, $CFG
# Label hostonly: not in make vmtest (tests/e2e/CMakeLists.txt says why).

RUNNING=${XI_PFX}edge # instance names: unique per run, other tests share /sys/fs/bpf
NEW=${XI_PFX}new      # an instance the failing attaches would create
TUN=${XI_PFX}tun

write_config() {
    cat >"$CFG" <<'EOF'
version: 1
fleet:
  hash_seed: 0x5eed
nodes:
  - name: edge-a
    public_interface: pub0
    mesh_ipv4: 10.200.0.1
  - name: edge-tun
    public_interface: tun0
    mesh_ipv4: 10.200.0.2
  - name: app-1
    mesh_ipv4: 10.200.1.11
vips:
  - name: web
    address: 198.51.100.10
    protocol: tcp
    ports: [80]
identities:
  edges: [10.200.0.0/24]
  apps: [10.200.1.0/24]
default:
  ingress: deny
  egress: allow
EOF
}

setup_topology() {
    ns_add edge tun bare
    veth edge pub0 edge pub0peer
    wg_up edge
    wg_up tun
    ip -n "$(ns tun)" tuntap add dev tun0 mode tun
    ip -n "$(ns tun)" link set tun0 up
}

# no_pins INSTANCE: the failed attach created no pin directory.
no_pins() {
    [ ! -e "$PIN_ROOT/$1" ] || fail "a failed attach left $PIN_ROOT/$1: $(ls "$PIN_ROOT/$1")"
}

# nothing_attached NS IFACE...: no XDP, tcx or tc filter program on these interfaces.
nothing_attached() {
    hooks_empty "$@" || fail "a failed attach left programs on ${*:2} (above)"
}

start_running_instance() {
    say "a running instance that every failure below must leave alone"
    echo "$RUNNING" >>"$XI_TMP/instances"
    xrun "$XI_BIN" attach --netns "$(ns edge)" --instance "$RUNNING" --node edge-a --config "$CFG"
    expect_rc 0 "attach edge-a as $RUNNING"
    status_json "$RUNNING" "$XI_TMP/running.json"
    kernel_agrees edge "$XI_TMP/running.json"
}

# running_untouched: same programs, links, generation and config as when it started (so one
# check after several failures covers them all).
running_untouched() {
    status_json "$RUNNING" "$XI_TMP/running2.json"
    json_check "$XI_TMP/running2.json" "the running instance is untouched" \
        "(lambda a, b: [(x['program_id'], x.get('link_id'), x['attached']) for x in a['attachments']]
                    == [(x['program_id'], x.get('link_id'), x['attached']) for x in b['attachments']]
                    and a['generation'] == b['generation'] and a['config'] == b['config']
                    and a['table_sha256'] == b['table_sha256'])(j, json.load(open('$XI_TMP/running.json')))"
    kernel_agrees edge "$XI_TMP/running2.json"
}

test_xdp_fallback() {
    say "XDP on a TUN device: native fails, auto falls back to generic and says why"
    echo "$TUN" >>"$XI_TMP/instances"
    xrun "$XI_BIN" attach --netns "$(ns tun)" --instance "$TUN" --node edge-tun --config "$CFG" \
        --xdp-mode native
    expect_rc 1 "--xdp-mode native on tun0"
    [ "$(cat "$XI_TMP/err")" = "Error: the driver of tun0 does not support native XDP: Operation not supported -- use --xdp-mode generic (slower) or --xdp-mode auto" ] ||
        fail "native on tun0: unexpected message: $(cat "$XI_TMP/err")"
    expect_empty out
    no_pins "$TUN"
    # The TC programs attached before XDP failed were rolled back.
    nothing_attached tun tun0 wg0
    pass "one sentence, nothing pinned, the TC programs attached before XDP were rolled back"

    xrun "$XI_BIN" --json attach --netns "$(ns tun)" --instance "$TUN" --node edge-tun \
        --config "$CFG" --xdp-mode auto
    expect_rc 0 "--xdp-mode auto on tun0"
    local warning="the driver of tun0 does not support native XDP: using generic XDP (slower, same behaviour)"
    expect_line err "warning: $warning"
    json_check "$XI_TMP/out" "attach --json: the note says why, XDP is generic" \
        "'$warning' in j['notes'] and [a['mode'] for a in j['attachments']
         if a['hook']=='xdp/ingress']==['generic'] and all(a['attached'] for a in j['attachments'])"
    local mode
    mode=$(hooks tun tun0 | json_get /dev/stdin 'j["interfaces"]["tun0"]["xdp"]["mode"]')
    [ "$mode" = generic ] || fail "the kernel has $mode XDP on tun0"
    kernel_agrees tun "$XI_TMP/out"
    pass "the kernel runs xi_xdp_public in generic mode on tun0"
    xrun "$XI_BIN" detach --instance "$TUN"
    expect_rc 0 "detach $TUN"
    nothing_attached tun tun0 wg0
}

test_handoff_refused() {
    say "a kernel whose verifier refuses bpf_xdp_adjust_meta in XDP (XI_TEST_XDP_META_REFUSED=1: the probe asks for a helper XDP may never call, so the refusal is real)"
    echo "$TUN" >>"$XI_TMP/instances"
    XI_TEST_XDP_META_REFUSED=1 xrun "$XI_BIN" attach --netns "$(ns tun)" --instance "$TUN" \
        --node edge-tun --config "$CFG" --handoff xdp-mark
    expect_rc 1 "--handoff xdp-mark where XDP may not mark"
    [ "$(cat "$XI_TMP/err")" = "Error: hand-off xdp-mark cannot run on tun0: this kernel's verifier refuses bpf_xdp_adjust_meta in XDP programs (\"program of this type cannot use helper bpf_skb_vlan_pop#19\") -- use --handoff tc (the default)" ] ||
        fail "unexpected message: $(cat "$XI_TMP/err")"
    expect_empty out
    no_pins "$TUN"
    nothing_attached tun tun0 wg0
    pass "one sentence naming the refused helper and the way out; nothing pinned or attached"

    XI_TEST_XDP_META_REFUSED=1 xrun "$XI_BIN" --json attach --netns "$(ns tun)" --instance "$TUN" \
        --node edge-tun --config "$CFG"
    expect_rc 0 "the default hand-off where XDP may not mark"
    json_check "$XI_TMP/out" "attach --json: hand-off tc on both public hooks, no note about it" \
        "not any('hand-off' in n for n in j['notes']) and sorted(a['handoff'] for a in j['attachments']
         if 'handoff' in a and a['interface']=='tun0')==['tc', 'tc'] and all(a['attached'] for a in j['attachments'])"
    xrun "$XI_BIN" status --instance "$TUN"
    expect_in out "  tun0 tc/ingress $TC_METHOD handoff tc prog xi_tc_pub_in id"
    xrun "$XI_BIN" metrics --instance "$TUN"
    expect_line out "xdp_ingress_handoff_info{instance=\"$TUN\",interface=\"tun0\",mode=\"tc\"} 1"
    xrun "$XI_BIN" --json health --instance "$TUN"
    expect_rc 0 "health: TC-only is healthy"
    json_check "$XI_TMP/out" "health: healthy, and says which hand-off runs" \
        "j['status']=='healthy' and any(c['name']=='handoff' and c['ok'] and
         c['detail']=='hand-off tc on tun0: TC ingress makes the steering decisions' for c in j['checks'])"
    pass "status, metrics and health say hand-off tc"
    xrun "$XI_BIN" detach --instance "$TUN"
    expect_rc 0 "detach $TUN"
    nothing_attached tun tun0 wg0
}

test_missing_interface() {
    say "missing interface: one sentence naming the interface and the node, nothing pinned"
    # In "tun" wg0 exists but pub0 does not; in "bare" neither (the mesh one is checked first).
    xrun "$XI_BIN" attach --netns "$(ns tun)" --instance "$NEW" --node edge-a --config "$CFG"
    expect_rc 1 "attach edge-a where pub0 is missing"
    [ "$(cat "$XI_TMP/err")" = "Error: interface 'pub0' (public_interface of node edge-a) does not exist in this network namespace: No such device -- create it, fix the config, or pass --netns NAME" ] ||
        fail "unexpected message: $(cat "$XI_TMP/err")"
    no_pins "$NEW"
    nothing_attached tun wg0
    xrun "$XI_BIN" --json attach --netns "$(ns tun)" --instance "$NEW" --node edge-a --config "$CFG"
    expect_rc 1 "the same with --json"
    json_check "$XI_TMP/out" "--json: the same sentence as {\"error\": ...} on stdout" \
        "j=={'error': \"interface 'pub0' (public_interface of node edge-a) does not exist in this network namespace: No such device -- create it, fix the config, or pass --netns NAME\"}"
    xrun "$XI_BIN" attach --netns "$(ns bare)" --instance "$NEW" --node app-1 --config "$CFG"
    expect_rc 1 "attach app-1 where wg0 is missing"
    [ "$(cat "$XI_TMP/err")" = "Error: interface 'wg0' (mesh_interface of node app-1) does not exist in this network namespace: No such device -- create it, fix the config, or pass --netns NAME" ] ||
        fail "unexpected message: $(cat "$XI_TMP/err")"
    no_pins "$NEW"
    # The same instance name as the running one, in the wrong namespace: refused before the
    # "already attached" check could even matter, and nothing of the running one changes.
    xrun "$XI_BIN" attach --netns "$(ns bare)" --instance "$RUNNING" --node edge-a --config "$CFG"
    expect_rc 1 "attach the running instance's node where its interfaces are missing"
    expect_line err "Error: interface 'wg0' (mesh_interface of node edge-a) does not exist in this network namespace: No such device -- create it, fix the config, or pass --netns NAME"
}

test_missing_netns() {
    say "--netns on a namespace that does not exist"
    local gone=${XI_PFX}nosuch
    xrun "$XI_BIN" attach --netns "$gone" --instance "$NEW" --node edge-a --config "$CFG"
    expect_rc 1 "attach --netns $gone"
    [ "$(cat "$XI_TMP/err")" = "Error: cannot open network namespace '$gone' (/var/run/netns/$gone): No such file or directory -- list them with \`ip netns list\`" ] ||
        fail "unexpected message: $(cat "$XI_TMP/err")"
    no_pins "$NEW"
    # An explicit --netns on detach is obeyed, not guessed around: refused, nothing removed.
    xrun "$XI_BIN" detach --netns "$gone" --instance "$RUNNING"
    expect_rc 1 "detach --netns $gone"
    expect_line err "Error: cannot open network namespace '$gone' (/var/run/netns/$gone): No such file or directory -- list them with \`ip netns list\`"
}

# bad_config NAME OLD NEW POS_TEXT MESSAGE [--node NODE]: a copy of the config with OLD
# replaced by NEW must fail attach (as edge-a unless --node is given), for a new instance and
# for the running one, with "Error: FILE:LINE:COL: MESSAGE" first, where LINE:COL is where
# POS_TEXT starts in the copy.
bad_config() {
    local name=$1 old=$2 new=$3 at=$4 msg=$5 f pos inst node=(--node edge-a)
    shift 5
    (($#)) && node=("$@")
    f=$XI_TMP/bad-$name.yaml
    pos=$(file_edit "$CFG" "$f" "$old" "$new" "$at")
    for inst in "$NEW" "$RUNNING"; do
        xrun "$XI_BIN" attach --netns "$(ns edge)" --instance "$inst" "${node[@]}" --config "$f"
        if [ "$RC" != 1 ] || [ "$(head -1 "$XI_TMP/err")" != "Error: $f:$pos: $msg" ]; then
            show_output
            fail "$name: expected exit 1 and: Error: $f:$pos: $msg"
        fi
        expect_empty out
    done
    no_pins "$NEW"
    pass "$name: exit 1, $(basename "$f"):$pos: $msg"
}

test_bad_configs() {
    say "bad configs, one per error class: exit 1 with file:line:col, nothing pinned"
    bad_config yaml-syntax "    mesh_ipv4: 10.200.0.1" $'\tmesh_ipv4: 10.200.0.1' $'\tmesh_ipv4' \
        "a tab in the indentation: YAML indents with spaces only"
    bad_config unknown-key "    mesh_ipv4: 10.200.1.11" $'    mesh_ipv4: 10.200.1.11\n    mesh_ip: 10.200.1.12' \
        "mesh_ip:" "unknown key 'mesh_ip' in node (known: mesh_interface, mesh_ipv4, mesh_ipv6, mesh_mtu, name, public_interface, state, weight)"
    bad_config bad-prefix "apps: [10.200.1.0/24]" "apps: [10.200.1.0/33]" "10.200.1.0/33" \
        "identity 'apps': prefix length '33' is not in 0..32"
    bad_config host-bits "apps: [10.200.1.0/24]" "apps: [10.200.1.1/24]" "10.200.1.1/24" \
        "identity 'apps': '10.200.1.1/24' has host bits set (did you mean 10.200.1.0/24?)"
    bad_config duplicate-name "name: edge-tun" "name: edge-a" $'name: edge-a\n    public_interface: tun0' \
        "duplicate node name 'edge-a' (first at line 5)"
    bad_config out-of-range "hash_seed: 0x5eed" $'hash_seed: 0x5eed\n  mesh_mtu: 576' "576" \
        "fleet.mesh_mtu 576 is out of range 1280..65535"
    bad_config port-range "ports: [80]" "ports: [70000]" "70000" \
        "vip port: '70000' is not a port (1..65535) or a range LOW-HIGH"
    bad_config no-identity "mesh_ipv4: 10.200.1.11" "mesh_ipv4: 10.209.1.11" "name: app-1" \
        "mesh address 10.209.1.11 of node 'app-1' is in no identity: add it to the node's role"
    bad_config two-identities "apps: [10.200.1.0/24]" "apps: [10.200.1.0/24, 10.200.0.0/16]" "name: edge-a" \
        "mesh address 10.200.0.1 of node 'edge-a' is in two identities ('edges' and 'apps'): a node has exactly one role"
    bad_config mixed-family "address: 198.51.100.10" "address: 2001:db8::10" "name: web" \
        "IPv6 vip 'web' cannot be steered to edge 'edge-a': it has no mesh_ipv6 (IPv6-in-IPv4 steering is not supported; give every edge a mesh address of each VIP family)"
    # Not a broken file but a --node the file does not list: reported at the node list.
    bad_config unknown-node "version: 1" "version: 1" "- name: edge-a" \
        "node 'edge-z' is not in the config (nodes: edge-a, edge-tun, app-1): pass --node NAME with one of them" \
        --node edge-z

    # Every error, not only the first: both edges lack an IPv6 mesh address.
    xrun "$XI_BIN" attach --netns "$(ns edge)" --instance "$NEW" --node edge-a \
        --config "$XI_TMP/bad-mixed-family.yaml"
    [ "$(grep -c "^Error: $XI_TMP/bad-mixed-family.yaml:" "$XI_TMP/err")" = 2 ] ||
        fail "expected 2 errors: $(cat "$XI_TMP/err")"
    expect_in err "IPv6 vip 'web' cannot be steered to edge 'edge-tun'"
    pass "mixed-family: both offending edges reported"

    # JSON: the same errors, machine-readable.
    local f=$XI_TMP/bad-unknown-key.yaml
    xrun "$XI_BIN" --json attach --netns "$(ns edge)" --instance "$NEW" --node edge-a --config "$f"
    expect_rc 1 "attach --json with an unknown key"
    json_check "$XI_TMP/out" "attach --json: {error, errors: [{file, line, column, message}]}" \
        "j=={'error': 'invalid config', 'errors': [{'file': '$f', 'line': $(pos_of "$f" mesh_ip: | cut -d: -f1),
             'column': 5, 'message': \"unknown key 'mesh_ip' in node (known: mesh_interface, mesh_ipv4, mesh_ipv6, mesh_mtu, name, public_interface, state, weight)\"}]}"
    no_pins "$NEW"
    running_untouched
}

test_other_errors() {
    say "no bpffs, bad instance name, usage errors"
    mkdir -p "$XI_TMP/plain"
    xrun "$XI_BIN" --bpffs "$XI_TMP/plain" attach --netns "$(ns tun)" --instance "$NEW" \
        --node edge-tun --config "$CFG"
    expect_rc 1 "attach with --bpffs on a directory that is not a BPF filesystem"
    [ "$(cat "$XI_TMP/err")" = "Error: no BPF filesystem at $XI_TMP/plain -- mount it: mount -t bpf bpf $XI_TMP/plain" ] ||
        fail "unexpected message: $(cat "$XI_TMP/err")"
    nothing_attached tun tun0 wg0
    [ -z "$(ls -A "$XI_TMP/plain")" ] || fail "attach wrote into $XI_TMP/plain"
    xrun "$XI_BIN" --bpffs "$XI_TMP/plain" status
    expect_rc 1 "status without a BPF filesystem"
    expect_line err "Error: no BPF filesystem at $XI_TMP/plain -- mount it: mount -t bpf bpf $XI_TMP/plain"

    xrun "$XI_BIN" attach --netns "$(ns edge)" --instance "../x" --node edge-a --config "$CFG"
    expect_rc 1 "attach --instance ../x"
    expect_line err "Error: invalid instance name '../x' -- use letters, digits, '-', '_' and '.' (at most 63)"

    xrun "$XI_BIN" attach --instance "$NEW" --node edge-a --config "$XI_TMP/missing.yaml"
    expect_rc 1 "attach with a config file that does not exist (as validate and owner)"
    expect_line err "Error: $XI_TMP/missing.yaml: cannot read: No such file or directory"
    xrun "$XI_BIN" attach --instance "$NEW" --config "$CFG" --xdp-mode fast
    expect_rc 2 "attach --xdp-mode fast (usage error)"
    no_pins "$NEW"
    running_untouched
}

test_detach_running() {
    say "detach the running instance: nothing left"
    local objs
    objs=$(objects "$RUNNING")
    xrun "$XI_BIN" detach --instance "$RUNNING"
    expect_rc 0 "detach $RUNNING"
    no_residue edge "$RUNNING" "$objs" pub0 wg0
}

main() {
    write_config
    setup_topology
    start_running_instance
    test_xdp_fallback
    test_handoff_refused
    test_missing_interface
    test_missing_netns
    test_bad_configs
    test_other_errors
    test_detach_running
    say "loader_errors: all passed in $SECONDS s"
}
main
