#!/bin/bash
# Issue #12, end to end: a mesh member that may run a tunnel to another node cannot reach that
# node's metadata service through the tunnel the node terminates, while a local process on the
# node still can. TUNNEL (first argument): vxlan (default; the host's kernel has it) or gre
# (the VMs': the host kernel has no ip_gre).
#
#   member  wg0 10.201.0.1  tun 10.99.0.1 --VXLAN/GRE over wg0--> tun 10.99.0.2  host
#   host    wg0 10.201.0.2, a fake metadata service on 169.254.169.254:80 (its lo), and
#           `xdp-ingress attach` (only the host: a compromised member runs no checks of ours)
# Fleet: both apps; an ordinary overlay rule allows apps -> apps udp 4789 (VXLAN) or any
# protocol (GRE: rules name no protocol numbers); default ingress deny; metadata block on. The
# member routes 169.254.169.254 into the tunnel towards the host, whose kernel decapsulates it
# and delivers the inner packet to its own lo.
#
# Asserted, each with a real TCP connection (answered, or its connect timing out):
#   1. tunnels: {inspect: off}: the member reaches the host's metadata service through the
#      tunnel (the control: the path works, only the check stands in the way);
#   2. reload to inspect: enforce: the same attempt is dropped at the host's mesh ingress,
#      counted as vxlan_metadata / gre_metadata; plain traffic through the same tunnel still
#      answers; a local process on the host still reaches 169.254.169.254:80;
#   3. reload to inspect: count: answered again, counted as tunnel_metadata_seen.
# Usage: tunnel_metadata.sh [vxlan|gre] (root; exit 77 = skipped without CAP_BPF/CAP_NET_ADMIN).
set -euo pipefail
XI_BUDGET=${XI_BUDGET:-120}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

TUNNEL=${1:-vxlan}
case $TUNNEL in
vxlan) RULE="    protocol: udp
    ports: [4789]" ;;
gre) RULE="    protocol: any" ;;
*) fail "unknown tunnel '$TUNNEL' (vxlan or gre)" ;;
esac
PY=${XI_PY:-/usr/bin/python3}
TCP=$HERE/policy_tcp.py
NODES=(member host)
declare -A MESH=([member]=10.201.0.1 [host]=10.201.0.2)
declare -A UNDER=([member]=192.168.78.1 [host]=192.168.78.2)
declare -A VX=([member]=10.99.0.1 [host]=10.99.0.2)
META=169.254.169.254
INST=${XI_PFX}host

write_config() { # write_config INSPECT
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
  inspect: $1
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
        else
            modprobe -q ip_gre 2>/dev/null || true # where request_module cannot autoload it
            ip -n "$(ns "$n")" link add tun0 type gre local "${MESH[$n]}" remote "${MESH[$p]}" \
                dev wg0
        fi
        ip -n "$(ns "$n")" addr add "${VX[$n]}/24" dev tun0
        ip -n "$(ns "$n")" link set tun0 mtu 1350 up
    done
    ip -n "$(ns host)" addr add "$META/32" dev lo
    ip -n "$(ns member)" route add "$META/32" via "${VX[host]}" dev tun0
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
    expect_rc 0 "reload to tunnels.inspect: $1"
}

main() {
    require_privileges
    say "topology: member and host over wg0, $TUNNEL between them over wg0"
    build
    local i
    for i in off enforce count; do write_config "$i"; done
    xi_attach host "$INST" --config "$XI_TMP/fleet-off.yaml" --node host >"$XI_TMP/attach.log" 2>&1 ||
        fail "attach host: $(cat "$XI_TMP/attach.log")"
    pass "attached the host (the member runs nothing of ours)"
    bg_run srv ip netns exec "$(ns host)" "$PY" "$TCP" serve host "$META:80" "${VX[host]}:8080"
    wait_log srv '^ready' 10
    for _ in $(seq 50); do # the WireGuard handshake, then the tunnel's first packets
        probe member "${VX[host]}" 8080 1 >/dev/null 2>&1 && break
        sleep 0.2
    done

    say "inspect: off (the control): the tunnel carries the metadata request"
    expect_answered member "$META" 80 "member -> $META:80 through $TUNNEL, unchecked"

    say "inspect: enforce: dropped at the host's mesh ingress"
    reload_to enforce
    local before after
    before=$(counter "$INST" mesh/tc/ingress "${TUNNEL}_metadata")
    expect_dropped member "$META" 80 "member -> $META:80 through $TUNNEL"
    after=$(counter "$INST" mesh/tc/ingress "${TUNNEL}_metadata")
    ((after > before)) || fail "${TUNNEL}_metadata did not move ($before -> $after)"
    pass "${TUNNEL}_metadata counted at the host's mesh ingress: $before -> $after"
    expect_answered member "${VX[host]}" 8080 "member -> host:8080 through the same tunnel"
    expect_answered host "$META" 80 "a local process on the host -> $META:80"

    say "inspect: count: passed, and counted"
    reload_to count
    before=$(counter "$INST" mesh/tc/ingress tunnel_metadata_seen)
    expect_answered member "$META" 80 "member -> $META:80 through $TUNNEL, counted only"
    after=$(counter "$INST" mesh/tc/ingress tunnel_metadata_seen)
    ((after > before)) || fail "tunnel_metadata_seen did not move ($before -> $after)"
    pass "tunnel_metadata_seen counted: $before -> $after"
    say "PASS tunnel_metadata $TUNNEL"
}

main "$@"
