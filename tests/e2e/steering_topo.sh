#!/bin/bash
# The anycast steering topology, shared by tests/e2e/steering_flip.sh and tools/demo (sourced
# after lib.sh, whose cleanup trap removes everything created here).
#
#   cl  eth0 203.0.113.2 ── to-cl   rt   to-edgeN 192.0.2.(4N-3)/30 ── pub0 192.0.2.(4N-2)  edgeN
#       2001:db8:c::2                    2001:db8:eN::1/64              2001:db8:eN::2
#            (rt holds the anycast route: VIP via one edge at a time, flipped by st_route)
#   edgeN: VIP 198.51.100.10/32 and 2001:db8:100::10/128 on lo, a TCP server on VIP:8080,
#          wg0 10.200.0.N/24 fd00:200::N/64 (MTU 1420), default route via rt.
#   underlay for WireGuard: one veth per pair of edges, edgeI "undJ" 172.16.IJ.1 ── edgeJ "undI"
#          172.16.IJ.2 (I < J); no bridge, no route through rt.
#
# Every edge runs `xdp-ingress attach` with the same fleet file (st_write_config). The router
# needs forwarding and no strict uRPF: while the route points at a non-owner, the owner's DSR
# replies (source = VIP) arrive on an interface the router does not route the VIP through.
# Edges get net.ipv4.conf.all.rp_filter=1 like a stock distribution; attach must loosen wg0
# (decapsulated packets arrive on wg0, the client is routed via pub0) and say so.

# Globals set here are read by the scripts that source this file.
# shellcheck disable=SC2034
ST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ST_EDGES=(edge1 edge2 edge3)
ST_VIP4=198.51.100.10
ST_VIP6=2001:db8:100::10
ST_PORT=8080
ST_CL4=203.0.113.2
ST_CL6=2001:db8:c::2
ST_MESH_MTU=1420
ST_CONFIG=$XI_TMP/fleet.yaml

st_idx() { echo "${1#edge}"; }                  # edge2 -> 2
st_inst() { echo "${XI_PFX}$1"; }                # xdp-ingress instance of an edge
st_pub4() { echo "192.0.2.$((4 * $1 - 2))"; }    # edge N's public IPv4 (rt's next hop)
st_rt4() { echo "192.0.2.$((4 * $1 - 3))"; }     # rt's side of edge N's link
st_vip() { if [ "$1" = 6 ]; then echo "$ST_VIP6"; else echo "$ST_VIP4"; fi; }
st_client() { if [ "$1" = 6 ]; then echo "$ST_CL6"; else echo "$ST_CL4"; fi; }

# wait_until TRIES SLEEP CMD...: run CMD until it succeeds, at most TRIES times.
wait_until() {
    local tries=$1 pause=$2 i
    shift 2
    for ((i = 0; i < tries; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep "$pause"
    done
    return 1
}

# file_has FILE STRING: FILE exists and contains STRING (bash only: no exec per try).
file_has() {
    [ -f "$1" ] && [[ "$(<"$1")" == *"$2"* ]]
}

st_build() {
    local e n i j
    ns_add cl rt "${ST_EDGES[@]}"
    # Sysctls before the interfaces exist, so that "default" covers them too. No IPv6 DAD:
    # a tentative link-local address delays the first neighbour discovery by a second.
    local nodad=(net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0)
    nsx cl sysctl -qw "${nodad[@]}"
    nsx rt sysctl -qw "${nodad[@]}" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    for e in "${ST_EDGES[@]}"; do
        nsx "$e" sysctl -qw "${nodad[@]}" \
            net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1
    done

    veth cl eth0 rt to-cl
    for e in "${ST_EDGES[@]}"; do veth rt "to-$e" "$e" pub0; done
    for ((i = 1; i <= ${#ST_EDGES[@]}; i++)); do
        for ((j = i + 1; j <= ${#ST_EDGES[@]}; j++)); do
            veth "edge$i" "und$j" "edge$j" "und$i"
        done
    done

    nsip cl <<EOF
addr add $ST_CL4/24 dev eth0
addr add $ST_CL6/64 dev eth0 nodad
route add default via 203.0.113.1
route add ::/0 via 2001:db8:c::1
EOF
    {
        echo "addr add 203.0.113.1/24 dev to-cl"
        echo "addr add 2001:db8:c::1/64 dev to-cl nodad"
        for e in "${ST_EDGES[@]}"; do
            n=$(st_idx "$e")
            echo "addr add $(st_rt4 "$n")/30 dev to-$e"
            echo "addr add 2001:db8:e$n::1/64 dev to-$e nodad"
        done
    } | nsip rt
    for e in "${ST_EDGES[@]}"; do
        n=$(st_idx "$e")
        {
            echo "addr add $(st_pub4 "$n")/30 dev pub0"
            echo "addr add 2001:db8:e$n::2/64 dev pub0 nodad"
            echo "route add default via $(st_rt4 "$n")"
            echo "route add ::/0 via 2001:db8:e$n::1"
            # Anycast: every edge has the VIP as a local address; rt reaches it via a next hop.
            echo "addr add $ST_VIP4/32 dev lo"
            echo "addr add $ST_VIP6/128 dev lo nodad"
            # Underlay for WireGuard: edgeI undJ 172.16.IJ.1 -- edgeJ undI 172.16.IJ.2 (I < J).
            for ((j = 1; j <= ${#ST_EDGES[@]}; j++)); do
                ((j == n)) && continue
                if ((n < j)); then
                    echo "addr add 172.16.$n$j.1/30 dev und$j"
                else
                    echo "addr add 172.16.$j$n.2/30 dev und$j"
                fi
            done
        } | nsip "$e"
    done
    st_route 4 edge1
    st_route 6 edge1
    # The client reaches every edge through rt (also resolves rt's neighbours, so the first
    # flip to an edge does not wait for ARP/ND).
    for e in "${ST_EDGES[@]}"; do
        n=$(st_idx "$e")
        wait_until 20 0.2 nsx cl ping -c1 -W1 "$(st_pub4 "$n")" ||
            fail "client cannot reach $e at $(st_pub4 "$n")"
        wait_until 20 0.2 nsx cl ping -6 -c1 -W1 "2001:db8:e$n::2" ||
            fail "client cannot reach $e at 2001:db8:e$n::2"
    done
}

# st_mesh: wg0 on every edge, every edge a peer of every other. AllowedIPs = the peer's mesh
# addresses only: WireGuard routes and checks the OUTER header of steered packets; the inner
# client and VIP addresses never appear there.
st_mesh() {
    local e p n m ep
    for e in "${ST_EDGES[@]}"; do wg_up "$e"; done
    for e in "${ST_EDGES[@]}"; do
        n=$(st_idx "$e")
        for p in "${ST_EDGES[@]}"; do
            [ "$p" = "$e" ] && continue
            m=$(st_idx "$p")
            if ((n < m)); then ep=172.16.$n$m.2; else ep=172.16.$m$n.1; fi
            wg_peer "$e" "$p" "$ep" "10.200.0.$m/32,fd00:200::$m/128"
        done
        nsip "$e" <<EOF
link set wg0 mtu $ST_MESH_MTU
addr add 10.200.0.$n/24 dev wg0
addr add fd00:200::$n/64 dev wg0 nodad
link set wg0 up
EOF
    done
    # One ping per pair and family: its reply proves both directions, and the first one
    # completes the pair's WireGuard handshake before any steered packet needs it.
    for e in "${ST_EDGES[@]}"; do
        n=$(st_idx "$e")
        for p in "${ST_EDGES[@]}"; do
            m=$(st_idx "$p")
            ((n < m)) || continue
            wait_until 25 0.2 nsx "$e" ping -c1 -W1 "10.200.0.$m" ||
                fail "mesh: $e cannot reach $p over wg0 (10.200.0.$m)"
            wait_until 25 0.2 nsx "$e" ping -6 -c1 -W1 "fd00:200::$m" ||
                fail "mesh: $e cannot reach $p over wg0 (fd00:200::$m)"
        done
    done
}

# st_write_config [FILE]: the one fleet file every edge attaches with ($ST_CONFIG by default);
# ST_STATE[EDGE] / ST_WEIGHT[EDGE], when set, give an edge's state (issue #13) and weight;
# ST_FLEET_EXTRA, when set, is written under fleet: as it is (e.g. a failover: line).
declare -gA ST_STATE=() ST_WEIGHT=()
st_write_config() {
    local e n out=${1:-$ST_CONFIG}
    {
        echo "# written by tests/e2e/steering_topo.sh: identical on every edge"
        echo "version: 1"
        echo "fleet:"
        echo "  hash_seed: 0x9e3779b97f4a7c15"
        echo "  mesh_mtu: $ST_MESH_MTU"
        [ -z "${ST_FLEET_EXTRA:-}" ] || echo "$ST_FLEET_EXTRA"
        echo "nodes:"
        for e in "${ST_EDGES[@]}"; do
            n=$(st_idx "$e")
            echo "  - name: $e"
            echo "    public_interface: pub0"
            echo "    mesh_interface: wg0"
            echo "    mesh_ipv4: 10.200.0.$n"
            echo "    mesh_ipv6: fd00:200::$n"
            echo "    weight: ${ST_WEIGHT[$e]:-100}"
            [ -z "${ST_STATE[$e]:-}" ] || echo "    state: ${ST_STATE[$e]}"
        done
        echo "vips:"
        echo "  - name: web"
        echo "    address: $ST_VIP4"
        echo "    protocol: tcp"
        echo "    ports: [$ST_PORT]"
        echo "  - name: web6"
        echo "    address: $ST_VIP6"
        echo "    protocol: tcp"
        echo "    ports: [$ST_PORT]"
        echo "identities:"
        echo "  edges: [10.200.0.0/24, fd00:200::/64]"
        echo "rules:"
        echo "  - name: mesh-ping"
        echo "    from: edges"
        echo "    to: edges"
        echo "    protocol: icmp"
        echo "    action: allow"
        echo "default:"
        echo "  ingress: deny"
        echo "  egress: allow"
    } >"$out"
}

# st_attach EDGE: attach EDGE's instance; the output goes to $XI_TMP/attach-EDGE.log and
# ST_ATTACH_NOTES holds the warnings it printed (e.g. the rp_filter it set).
st_attach() {
    local e=$1 log=$XI_TMP/attach-$1.log
    xi_attach "$e" "$(st_inst "$e")" --config "$ST_CONFIG" --node "$e" >"$log" 2>&1 ||
        fail "attach $e: $(cat "$log")"
    ST_ATTACH_NOTES=$(sed -n 's/^warning: //p' "$log")
}

# st_reload_all FILE: every edge reloads the fleet file FILE (a fleet change's step; run by the
# flipper mid-stream, so a failed reload is reported, not fatal: the checks after it fail).
st_reload_all() {
    local e t0=$EPOCHREALTIME
    for e in "${ST_EDGES[@]}"; do
        "$XI_BIN" reload --config "$1" --instance "$(st_inst "$e")" >>"$XI_TMP/step.log" 2>&1 ||
            echo "    step: reload of $e FAILED (step.log)"
    done
    printf '    step: every edge reloaded the fleet after the change (%d ms)\n' \
        $(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
}

# st_servers: a VIP server (both families) on every edge; each logs to server-EDGE.log.
st_servers() {
    local e
    for e in "${ST_EDGES[@]}"; do
        ip netns exec "$(ns "$e")" "$XI_PY" "$ST_DIR/xfer.py" server --port "$ST_PORT" \
            --log "$XI_TMP/server-$e.log" --max-seconds 300 "$ST_VIP4" "$ST_VIP6" \
            >>"$XI_TMP/server-$e.out" 2>&1 &
        echo $! >>"$XI_TMP/pids"
    done
    for e in "${ST_EDGES[@]}"; do
        wait_until 100 0.1 file_has "$XI_TMP/server-$e.log" listening ||
            fail "server on $e did not start: $(cat "$XI_TMP/server-$e.out")"
    done
}

# st_route FAMILY EDGE: the router's anycast route for the VIP now points at EDGE.
# st_route_cmd prints the same as a line for `ip -batch` (the flipper feeds a running one).
st_route_cmd() {
    local n
    n=$(st_idx "$2")
    if [ "$1" = 6 ]; then
        echo "route replace $ST_VIP6/128 via 2001:db8:e$n::2 dev to-$2"
    else
        echo "route replace $ST_VIP4/32 via $(st_pub4 "$n") dev to-$2"
    fi
}
st_route() {
    st_route_cmd "$@" | nsip rt
}

# st_pick_port OWNER FAMILY FIRST: the first client source port >= FIRST whose flow to the VIP
# `xdp-ingress owner` says OWNER owns (one batch call over 500 candidates).
st_pick_port() {
    local owner=$1 fam=$2 first=$3 src dst port
    if [ "$fam" = 6 ]; then src="[$ST_CL6]" dst="[$ST_VIP6]:$ST_PORT"; else src=$ST_CL4 dst="$ST_VIP4:$ST_PORT"; fi
    local i=0 line re='"owner":"([^"]*)"'
    port=
    # One JSON object per input line, in order; read them all (no early exit: SIGPIPE).
    while read -r line; do
        if [ -z "$port" ] && [[ "$line" =~ $re ]] && [ "${BASH_REMATCH[1]}" = "$owner" ]; then
            port=$((first + i))
        fi
        i=$((i + 1))
    done < <(for ((p = first; p < first + 500; p++)); do echo "tcp $src:$p $dst"; done |
        "$XI_BIN" --json owner --config "$ST_CONFIG" --stdin)
    ((i == 500)) || fail "owner --stdin answered $i of 500 flows"
    [ -n "$port" ] || fail "no source port in $first..$((first + 499)) is owned by $owner"
    echo "$port"
}

# st_owner_line FAMILY SPORT: the human `owner` answer for the client's flow.
st_owner_line() {
    local src dst
    if [ "$1" = 6 ]; then src="[$ST_CL6]:$2" dst="[$ST_VIP6]:$ST_PORT"; else src="$ST_CL4:$2" dst="$ST_VIP4:$ST_PORT"; fi
    echo "xdp-ingress owner --config fleet.yaml tcp $src $dst"
    echo "  -> $("$XI_BIN" owner --config "$ST_CONFIG" tcp "$src" "$dst")"
}

# st_transfer NAME FAMILY SPORT START "EDGE..." INTERVAL CLIENT_ARGS...
# (an entry @FUNCTION instead of an EDGE runs FUNCTION at that point, one INTERVAL after the
# flip before it: a fleet change mid-stream)
# Route the VIP to START, start the client (xfer.py client CLIENT_ARGS) from SPORT, and once
# its handshake is done flip the route to each EDGE in turn, INTERVAL seconds apart. One
# INTERVAL after the last flip the flipper tells the client to finish (--until), so every flip
# happens mid-stream however slow the machine (a VM under TCG); CLIENT_ARGS bound the transfer
# (--bytes/--seconds caps). Prints each flip as it happens (with ST_OWNER set, also whether
# that edge owns the flow). Sets ST_RC (client exit status), ST_RESULT (client JSON file),
# ST_FLIPS (flips done while the client ran) and ST_VISITED (edges the route pointed at,
# START included).
st_transfer() {
    local name=$1 fam=$2 sport=$3 start=$4 interval=$6
    local -a flips visited
    read -r -a flips <<<"$5"
    shift 6
    local ready=$XI_TMP/$name.ready done=$XI_TMP/$name.done flog=$XI_TMP/$name.flips
    local flipped=$XI_TMP/$name.flipped
    ST_RESULT=$XI_TMP/$name.json
    rm -f "$ready" "$done" "$flipped"
    : >"$flog"
    st_route "$fam" "$start"

    # The flipper: bounded by the number of flips and by a 30 s wait for the handshake. No
    # exec per flip (a VM under TCG pays up to seconds per exec on a loaded host): it sleeps
    # with `read -t` on a pipe nobody writes to, and feeds the route changes to one `ip -batch`
    # reading a FIFO.
    local rtfifo=$XI_TMP/$name.rt
    rm -f "$rtfifo"
    mkfifo "$rtfifo"
    (
        exec {tick}<> <(:)
        nap() { read -rt "$1" -u "$tick" _ || true; }
        for _ in $(seq 300); do [ -f "$ready" ] || [ -f "$done" ] && break; nap 0.1; done
        [ -f "$ready" ] || exit 0
        ip -n "$(ns rt)" -force -batch "$rtfifo" &
        echo $! >>"$XI_TMP/pids"
        exec {rt}>"$rtfifo"
        t0=$EPOCHREALTIME
        k=0
        for e in "${flips[@]}"; do
            nap "$interval"
            [ -f "$done" ] && exit 0
            if [[ $e == @* ]]; then # an event between flips: the caller's function
                "${e#@}"
                continue
            fi
            st_route_cmd "$fam" "$e" >&"$rt"
            k=$((k + 1))
            echo "$e" >>"$flog"
            note=
            if [ -n "${ST_OWNER:-}" ] && [ "$e" = "$ST_OWNER" ]; then
                note="  (the owner: delivers locally)"
            elif [ -n "${ST_OWNER:-}" ]; then
                note="  (not the owner: forwards to $ST_OWNER through wg0)"
            fi
            ms=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
            printf '    flip %2d at +%d.%02ds: %s via %s%s\n' "$k" $((ms / 1000)) \
                $((ms % 1000 / 10)) "$(st_vip "$fam")" "$e" "$note"
        done
        nap "$interval"
        touch "$flipped"
        exec {rt}>&- # ip -batch sees EOF and exits
        wait
    ) &
    local fpid=$!
    echo "$fpid" >>"$XI_TMP/pids"

    ST_RC=0
    nsx cl "$XI_PY" "$ST_DIR/xfer.py" client --dst "$(st_vip "$fam")" --port "$ST_PORT" \
        --src "$(st_client "$fam")" --sport "$sport" --ready "$ready" --until "$flipped" "$@" \
        >"$ST_RESULT" ||
        ST_RC=$?
    touch "$done"
    wait "$fpid" || true
    mapfile -t visited <"$flog"
    ST_FLIPS=${#visited[@]}
    ST_VISITED=$(printf '%s\n' "$start" "${visited[@]}" | sort -u | tr '\n' ' ')
    st_load_result "$sport"
}

# st_load_result SPORT: load the client's JSON result and each edge server's record of the
# connection from client port SPORT into ST_R, in one python run (see st_r).
declare -A ST_R
st_load_result() {
    ST_R=()
    "$XI_PY" - "$ST_RESULT" "$1" "$XI_TMP/result.sh" "${ST_EDGES[@]}" <<'EOF'
import json, os, shlex, sys
result, sport, out, edges = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
kv = {}
try:
    kv.update(json.load(open(result)))
except (OSError, ValueError) as e:
    kv["result"] = "no result (%s)" % e
for e in edges:
    log = os.path.join(os.path.dirname(out), "server-%s.log" % e)
    recs = [json.loads(line) for line in open(log)] if os.path.exists(log) else []
    recs = [r for r in recs if "peer" in r and r["peer"][1] == sport]
    kv["server/" + e] = json.dumps(recs[-1]) if recs else ""
    if recs:
        kv.update({"server/%s/%s" % (e, k): v for k, v in recs[-1].items() if k != "peer"})
with open(out, "w") as f:
    for k, v in kv.items():
        f.write("ST_R[%s]=%s\n" % (shlex.quote(k), shlex.quote("" if v is None else str(v))))
EOF
    # shellcheck disable=SC1091
    source "$XI_TMP/result.sh"
}
# st_r KEY: a field of the client's result (result, sent, server_bytes, sha256_match (True or
# False), sha256, snd_mss, total_retrans, mbit_s, error...) or of an edge's server record
# (server/EDGE: the whole record, "" if that server never saw the connection;
# server/EDGE/bytes, server/EDGE/sha256, server/EDGE/error).
st_r() {
    echo "${ST_R[$1]:-}"
}

# Counters of every edge at a moment (st_snapshot, st_c, st_counter_table): steering_counters.sh.
# shellcheck source-path=SCRIPTDIR source=steering_counters.sh
source "$ST_DIR/steering_counters.sh"
