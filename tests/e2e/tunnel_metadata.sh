#!/bin/bash
# Issue #12, end to end: a mesh member that may run a tunnel to another node cannot reach that
# node's metadata service through the tunnel the node terminates, while a local process on the
# node still can; two layers: the mesh hook looks into the tunnel, and the metadata guard drops
# what came in through the mesh once the kernel has unwrapped it. TUNNEL (first argument): vxlan
# (default; the host's kernel has it), gre or ipip (the VMs': the host kernel has neither).
#
#   member  wg0 10.201.0.1  tun 10.99.0.1 --VXLAN/GRE/IPIP over wg0--> tun 10.99.0.2  host
#   host    wg0 10.201.0.2, a fake metadata service on 169.254.169.254:80 (its lo: an on-node
#           agent, like EKS Pod Identity's), a veth meta0 to `cloud`, and `xdp-ingress attach`
#           (only the host: a compromised member runs no checks of ours)
#   cloud   169.254.170.2:80 behind meta0 (an off-node service, like IMDS): the host forwards
# Fleet: both apps; an ordinary overlay rule allows apps -> apps udp 4789 (VXLAN) or any
# protocol (GRE: rules name no protocol numbers); default ingress deny; metadata block on. The
# member routes 169.254.169.254 into the tunnel towards the host, whose kernel decapsulates it
# and delivers the inner packet to its own lo.
#
# Asserted, each with a real TCP connection (answered, or its connect timing out):
#   1. inspect: off, guard: off: the member reaches the host's metadata service through the
#      tunnel (the control: the path works, only the checks stand in the way);
#   2. inspect: enforce: the same attempt is dropped at the host's mesh ingress, counted as
#      vxlan_metadata / gre_metadata / ipip_metadata; plain traffic through the same tunnel
#      still answers; a local process on the host still reaches 169.254.169.254:80;
#   3. inspect: off, guard: enforce: dropped by the guard at the tunnel device's ingress (the
#      inner packet, marked, after the kernel unwrapped it), counted as mesh_to_metadata;
#      plain tunnel traffic and the local process still answer;
#   4. inspect: count, guard: count: answered, counted as tunnel_metadata_seen and
#      guard_metadata_seen;
#   5. forwarded: re-attached with the guard on meta0 only, the member's request for
#      169.254.170.2 is unwrapped on tun0 unguarded and forwarded: in count mode it answers and
#      is counted at meta0's egress; in enforce mode the guard there drops it
#      (mesh_to_metadata); a local process on the host still reaches 169.254.170.2;
#   6. meta0 deleted: `health` stays healthy (a guarded interface that goes away is no fault).
# IPIP is different: mesh ingress owns IP in IP (steering traffic), so the kernel never gets to
# unwrap it. Asserted for ipip instead, with the member attached too:
#   1. the member's inspect: enforce: its own process's IPIP to 169.254.169.254 is dropped at
#      the member's mesh egress (ipip_metadata);
#   2. the member's inspect: off (it might as well run nothing): the host's mesh ingress drops
#      it (decap_unknown_source: the member is not an edge); the host's own process still
#      reaches its metadata service.
# Usage: tunnel_metadata.sh [vxlan|gre|ipip] (root; exit 77 = skipped without CAP_BPF/NET_ADMIN).
set -euo pipefail
XI_BUDGET=${XI_BUDGET:-120}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

TUNNEL=${1:-vxlan}
case $TUNNEL in
vxlan) RULE="    protocol: udp
    ports: [4789]" ;;
gre | ipip) RULE="    protocol: any" ;;
*) fail "unknown tunnel '$TUNNEL' (vxlan, gre or ipip)" ;;
esac
PY=${XI_PY:-/usr/bin/python3}
TCP=$HERE/policy_tcp.py
NODES=(member host)
declare -A MESH=([member]=10.201.0.1 [host]=10.201.0.2)
declare -A UNDER=([member]=192.168.78.1 [host]=192.168.78.2)
declare -A VX=([member]=10.99.0.1 [host]=10.99.0.2)
META=169.254.169.254
OFFNODE=169.254.170.2
INST=${XI_PFX}host

write_config() { # write_config NAME INSPECT GUARD [GUARD_INTERFACES]
    cat >"$XI_TMP/fleet-$1.yaml" <<EOF
version: 1
fleet:
  hash_seed: 0x1f83d9abfb41bd6b
  mesh_mtu: 1420
nodes:
  - name: member
    mesh_ipv4: ${MESH[member]}
  - name: host
    mesh_ipv4: ${MESH[host]}
identities:
  apps: [10.201.0.0/24]
rules:
  - name: overlay
    from: apps
    to: apps
$RULE
    action: allow
default:
  ingress: deny
  egress: allow
metadata_block: true
tunnels:
  inspect: $2
metadata_guard:
  mode: $3
${4:+  interfaces: [$4]}
EOF
}

build() {
    local n p
    ns_add sw "${NODES[@]}"
    star_underlay sw "member=${UNDER[member]}/24" "host=${UNDER[host]}/24"
    for n in "${NODES[@]}"; do
        wg_up "$n"
        ip -n "$(ns "$n")" addr add "${MESH[$n]}/24" dev wg0
        ip -n "$(ns "$n")" link set wg0 mtu 1420 up
    done
    wg_peer member host "${UNDER[host]}" "${MESH[host]}/32"
    wg_peer host member "${UNDER[member]}" "${MESH[member]}/32"
    for n in "${NODES[@]}"; do
        p=$([ "$n" = member ] && echo host || echo member)
        if [ "$TUNNEL" = vxlan ]; then
            ip -n "$(ns "$n")" link add tun0 type vxlan id 42 dstport 4789 local "${MESH[$n]}" \
                remote "${MESH[$p]}" dev wg0
        else # where request_module cannot autoload the module
            modprobe -q "ip_$TUNNEL" 2>/dev/null || modprobe -q "$TUNNEL" 2>/dev/null || true
            ip -n "$(ns "$n")" link add tun0 type "$TUNNEL" local "${MESH[$n]}" \
                remote "${MESH[$p]}" dev wg0
        fi
        ip -n "$(ns "$n")" addr add "${VX[$n]}/24" dev tun0
        ip -n "$(ns "$n")" link set tun0 mtu 1350 up
    done
    ip -n "$(ns host)" addr add "$META/32" dev lo
    ip -n "$(ns member)" route add "$META/32" via "${VX[host]}" dev tun0
    # The off-node service: cloud behind the host's meta0; the host forwards to it.
    ns_add cloud
    ip -n "$(ns host)" link add meta0 type veth peer name up0 netns "$(ns cloud)"
    ip -n "$(ns host)" addr add 192.168.79.1/24 dev meta0
    ip -n "$(ns host)" link set meta0 up
    ip -n "$(ns cloud)" addr add 192.168.79.2/24 dev up0
    ip -n "$(ns cloud)" link set up0 up
    ip -n "$(ns cloud)" addr add "$OFFNODE/32" dev lo
    ip -n "$(ns cloud)" route add default via 192.168.79.1
    ip -n "$(ns host)" route add "$OFFNODE/32" via 192.168.79.2 dev meta0
    # The inner packet arrives on tun0 and leaves by meta0: forwarding, loose reverse paths.
    ip netns exec "$(ns host)" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.conf.tun0.rp_filter=0
    ip -n "$(ns member)" route add "$OFFNODE/32" via "${VX[host]}" dev tun0
}

probe() { # probe NODE ADDR PORT TIMEOUT: one TCP attempt, its output
    timeout 20 ip netns exec "$(ns "$1")" "$PY" "$TCP" probe "$2" "$3" --timeout "$4"
}

expect_answered() { # expect_answered NODE ADDR PORT WHAT
    local out rc=0
    out=$(probe "$1" "$2" "$3" 5) || rc=$?
    [ $rc -eq 0 ] || fail "$4: rc=$rc '$out'"
    pass "$4: $out"
}

expect_dropped() { # expect_dropped NODE ADDR PORT WHAT
    local out rc=0
    out=$(probe "$1" "$2" "$3" 2 2>&1) || rc=$?
    [ $rc -eq 2 ] || fail "$4: expected the connect to time out (exit 2), got $rc: $out"
    pass "$4: the connect timed out"
}

reload_to() {
    xrun "$XI_BIN" reload --config "$XI_TMP/fleet-$1.yaml" --instance "$INST"
    expect_rc 0 "reload to $1"
}

expect_counted() { # expect_counted HOOK REASON CMD...: CMD moves the counter
    local hook=$1 reason=$2 before after
    shift 2
    before=$(counter "$INST" "$hook" "$reason")
    "$@"
    after=$(counter "$INST" "$hook" "$reason")
    ((after > before)) || fail "$reason at $hook did not move ($before -> $after)"
    pass "$reason counted at $INST's $hook: $before -> $after"
}

still_works() { # plain traffic through the tunnel, and the host's own process, still answer
    expect_answered member "${VX[host]}" 8080 "member -> host:8080 through the same tunnel"
    expect_answered host "$META" 80 "a local process on the host -> $META:80"
}

main_ipip() {
    local member=${XI_PFX}member
    require_privileges
    say "topology: member and host over wg0, IPIP between them over wg0"
    build
    write_config inspect enforce enforce
    write_config control off enforce
    xi_attach host "$INST" --config "$XI_TMP/fleet-inspect.yaml" --node host \
        >"$XI_TMP/attach.log" 2>&1 || fail "attach host: $(cat "$XI_TMP/attach.log")"
    xi_attach member "$member" --config "$XI_TMP/fleet-inspect.yaml" --node member \
        >"$XI_TMP/attach-member.log" 2>&1 || fail "attach member: $(cat "$XI_TMP/attach-member.log")"
    pass "attached the host and the member"
    bg_run srv ip netns exec "$(ns host)" "$PY" "$TCP" serve host "$META:80"
    wait_log srv '^ready' 10

    say "the member's own mesh egress looks into the IPIP it sends"
    INST=$member expect_counted mesh/tc/egress ipip_metadata \
        expect_dropped member "$META" 80 "member -> $META:80 through IPIP"

    say "unchecked at the member: the host's mesh ingress takes IP in IP for steering traffic"
    xrun "$XI_BIN" reload --config "$XI_TMP/fleet-control.yaml" --instance "$member"
    expect_rc 0 "reload the member to inspect: off"
    expect_counted mesh/tc/ingress decap_unknown_source \
        expect_dropped member "$META" 80 "member -> $META:80 through IPIP, unchecked at the member"
    expect_answered host "$META" 80 "a local process on the host -> $META:80"
    say "PASS tunnel_metadata ipip"
}

main() {
    [ "$TUNNEL" != ipip ] || {
        main_ipip
        return
    }
    require_privileges
    say "topology: member and host over wg0, $TUNNEL between them over wg0, cloud behind host"
    build
    write_config control off off
    write_config inspect enforce off
    write_config guard off enforce
    write_config count count count
    write_config fwd-enforce off enforce meta0
    write_config fwd-count off count meta0
    xi_attach host "$INST" --config "$XI_TMP/fleet-control.yaml" --node host \
        >"$XI_TMP/attach.log" 2>&1 || fail "attach host: $(cat "$XI_TMP/attach.log")"
    grep -q "metadata guard on .*tun0" "$XI_TMP/attach.log" ||
        fail "attach did not put the guard on tun0: $(cat "$XI_TMP/attach.log")"
    pass "attached the host, guard on tun0 and meta0 (the member runs nothing of ours)"
    bg_run srv ip netns exec "$(ns host)" "$PY" "$TCP" serve host "$META:80" "${VX[host]}:8080"
    bg_run cloudsrv ip netns exec "$(ns cloud)" "$PY" "$TCP" serve cloud "$OFFNODE:80"
    wait_log srv '^ready' 10
    wait_log cloudsrv '^ready' 10
    for _ in $(seq 50); do # the WireGuard handshake, then the tunnel's first packets
        probe member "${VX[host]}" 8080 1 >/dev/null 2>&1 && break
        sleep 0.2
    done

    say "inspect: off, guard: off (the control): the tunnel carries the metadata request"
    expect_answered member "$META" 80 "member -> $META:80 through $TUNNEL, unchecked"

    say "inspect: enforce: dropped at the host's mesh ingress"
    reload_to inspect
    expect_counted mesh/tc/ingress "${TUNNEL}_metadata" \
        expect_dropped member "$META" 80 "member -> $META:80 through $TUNNEL"
    still_works

    say "inspect: off, guard: enforce: dropped after the kernel unwrapped it"
    reload_to guard
    expect_counted guard/tc/ingress mesh_to_metadata \
        expect_dropped member "$META" 80 "member -> $META:80 through $TUNNEL, unwrapped on tun0"
    still_works

    say "inspect: count, guard: count: passed, and counted by both"
    reload_to count
    expect_counted mesh/tc/ingress tunnel_metadata_seen \
        expect_counted guard/tc/ingress guard_metadata_seen \
        expect_answered member "$META" 80 "member -> $META:80 through $TUNNEL, counted only"

    say "forwarded off the node: the guard on meta0 alone, at its egress"
    xi_detach "$INST" >/dev/null
    xi_attach host "$INST" --config "$XI_TMP/fleet-fwd-count.yaml" --node host \
        >"$XI_TMP/attach2.log" 2>&1 || fail "re-attach host: $(cat "$XI_TMP/attach2.log")"
    grep -q "metadata guard on meta0$" "$XI_TMP/attach2.log" ||
        fail "the guard is not on meta0 alone: $(cat "$XI_TMP/attach2.log")"
    for _ in $(seq 50); do # the tunnel again, now nothing of ours is on tun0
        probe member "${VX[host]}" 8080 1 >/dev/null 2>&1 && break
        sleep 0.2
    done
    expect_counted guard/tc/egress guard_metadata_seen \
        expect_answered member "$OFFNODE" 80 "member -> $OFFNODE:80, forwarded, counted only"
    reload_to fwd-enforce
    expect_counted guard/tc/egress mesh_to_metadata \
        expect_dropped member "$OFFNODE" 80 "member -> $OFFNODE:80, unwrapped and forwarded"
    expect_answered host "$OFFNODE" 80 "a local process on the host -> $OFFNODE:80"

    say "a guarded interface goes away (a pod's veth): the node stays healthy"
    ip -n "$(ns host)" link del meta0
    xrun "$XI_BIN" --json health --instance "$INST"
    expect_rc 0 "health after meta0 was deleted"
    json_check "$XI_TMP/out" "health: healthy, and says the guard went with meta0" \
        "j['status']=='healthy' and any(c['ok'] and c['detail'].endswith(
         'on meta0: the interface is gone, and its guard with it') for c in j['checks'])"
    say "PASS tunnel_metadata $TUNNEL"
}

main "$@"
