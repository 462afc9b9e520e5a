#!/bin/bash
# serve: every way a config file gets replaced is seen, and /metrics passes promtool (issue #5).
#
# The real binary runs `serve` as root in a throwaway network namespace (veths eth0/wg0 named
# like the config's interfaces), with the config mounted the way the kubelet mounts a
# ConfigMap volume:
#   cm/..2026_12_04_14_00_00.000000001/fleet.yaml
#   cm/..data -> ..2026_12_04_14_00_00.000000001
#   cm/fleet.yaml -> ..data/fleet.yaml            (serve --config cm/fleet.yaml)
# and --poll-interval 3600, so that every reload below comes from the inotify watch (the
# periodic content check would hide a missed event).
#
# Asserted:
#   /metrics through `promtool check metrics` (no error, no lint warning) with 220 rules and 5
#     siblings, and the families of issue #5: per-reason counters per interface and hook, per
#     rule, per sibling, generation, config_info{config_sha256,table_sha256} 1, reloads by
#     result, attach mode (native XDP on veth)
#   ConfigMap swap the kubelet way (new timestamped dir, ..data_tmp, rename over ..data, old dir
#     removed): generation +1, the file's sha256 in config_info, audit line old->new hashes
#   five swaps in quick succession (some during a reload): the last one wins
#   a swap to an invalid config: generation and hash unchanged, reloads{failure} +1,
#     /healthz?strict=1 503 (/healthz 200), a later good swap recovers
#   editor saves on the file: rename-on-save, vim-style (backup rename + new file), in-place
#     truncate + write
#   the file deleted (nothing happens, still healthy) and recreated (reloaded)
#   the watched directory replaced by another one (rename over it), and deleted and
#     recreated: reloaded, and later edits in the new directory are still seen
XI_BUDGET=${XI_BUDGET:-150}
source "$(dirname "$0")/lib.sh"
require_privileges
for tool in curl promtool sha256sum; do
    command -v "$tool" >/dev/null || fail "$tool is missing (Makefile DEPS installs it)"
done

ns_add edge
NS=$(ns edge)
ip -n "$NS" link add eth0 type veth peer name eth0p
ip -n "$NS" link add wg0 type veth peer name wg0p
for i in eth0 eth0p wg0 wg0p; do ip -n "$NS" link set "$i" up; done
ip -n "$NS" addr add 10.200.0.1/24 dev wg0
ip -n "$NS" addr add 192.0.2.2/24 dev eth0p # pings from it reach XDP on eth0 (as ARP)

INST=${XI_PFX}edge
echo "$INST" >>"$XI_TMP/instances"
CM=$XI_TMP/cm
CONF=$CM/fleet.yaml

# gen_config OUT PORT [BROKEN]: the fleet config: edge-a (this node) and 5 sibling edges, 220
# rules between 20 generated roles (one role pair each), VIP port PORT. BROKEN: plus a rule
# from an unknown role (rejected by validate).
cat >"$XI_TMP/gen.py" <<'PY'
import sys
out, port = sys.argv[1], sys.argv[2]
broken = len(sys.argv) > 3
y = ["version: 1",
     "fleet: {hash_seed: 0x6a09e667f3bcc908, maglev_table_size: 65537, mesh_mtu: 1420}",
     "nodes:"]
for i, n in enumerate("abcdef"):
    y.append("  - {name: edge-%s, public_interface: eth0, mesh_interface: wg0, "
             "mesh_ipv4: 10.200.0.%d}" % (n, i + 1))
y.append("  - {name: app-1, mesh_ipv4: 10.201.0.11}")
y += ["vips:", "  - {name: web, address: 198.51.100.10, protocol: tcp, ports: [%s]}" % port,
      "identities:", "  edges: [10.200.0.0/24]", "  backends: [10.201.0.0/24]"]
roles = ["r%02d" % i for i in range(20)]
for i, r in enumerate(roles):
    y.append("  %s: [10.50.%d.0/24, 10.51.%d.0/24]" % (r, i, i))
y += ["rules:",
      "  - {name: edges-to-backends, from: edges, to: backends, protocol: tcp, ports: [8080], "
      "action: allow}"]
for k in range(219):
    y.append("  - {name: rule-%03d, from: %s, to: %s, protocol: %s, ports: [%d], action: %s}" % (
        k, roles[k // 20], roles[k % 20], "udp" if k % 5 == 0 else "tcp", 1000 + k,
        "deny" if k % 7 == 0 else "allow"))
if broken:
    y.append("  - {name: broken, from: nobody, to: edges, protocol: tcp, ports: [1], action: allow}")
y.append("default: {ingress: deny, egress: allow}")
open(out, "w").write("\n".join(y) + "\n")
PY
gen_config() { "$XI_PY" "$XI_TMP/gen.py" "$@"; }

# --- The ConfigMap volume, written the way the kubelet's AtomicWriter does it -------------------
CM_SEQ=0
cm_dir_name() { printf '..2026_12_04_14_00_%02d.%09d' $((CM_SEQ % 60)) $((1000 + CM_SEQ)); }
cm_init() { # SOURCE_FILE
    local d
    d=$(cm_dir_name)
    mkdir -p "$CM/$d"
    cp "$1" "$CM/$d/fleet.yaml"
    ln -s "$d" "$CM/..data"
    ln -s ..data/fleet.yaml "$CM/fleet.yaml"
}
cm_swap() { # SOURCE_FILE: new timestamped dir, ..data_tmp, rename over ..data, old dir removed
    local old new
    old=$(readlink "$CM/..data")
    CM_SEQ=$((CM_SEQ + 1))
    new=$(cm_dir_name)
    mkdir "$CM/$new"
    cp "$1" "$CM/$new/fleet.yaml"
    chmod 0444 "$CM/$new/fleet.yaml"
    ln -s "$new" "$CM/..data_tmp"
    mv -T "$CM/..data_tmp" "$CM/..data" # rename(2): atomic replacement of the symlink
    rm -rf "${CM:?}/$old"
}

# --- Reading serve's endpoints ----------------------------------------------------------------
# nsenter, not ip netns exec: that one remounts /sys, and with it hides /sys/fs/bpf.
nsx_net() { nsenter --net="/run/netns/$NS" -- "$@"; }
ncurl() { nsx_net curl -s --max-time 10 "$@"; }
scrape() { ncurl -f -o "$XI_TMP/metrics" http://127.0.0.1:9470/metrics; }
# sample NAME [LABEL-SUBSTRING...]: value of the first sample of the last scrape that matches
sample() {
    local n=$1
    shift
    awk -v n="$n" -v l1="${1:-}" -v l2="${2:-}" \
        '!done && index($0, n "{") == 1 && index($0, l1) && index($0, l2) { print $NF; done = 1 }' \
        "$XI_TMP/metrics"
}
running_sha() { sed -n 's/^xdp_ingress_config_info{.*config_sha256="\([0-9a-f]*\)".*} 1$/\1/p' "$XI_TMP/metrics"; }
generation() { sample xdp_ingress_generation; }
failures() { sample xdp_ingress_reloads_total 'result="failure"'; }
health_code() { ncurl -o "$XI_TMP/health" -w '%{http_code}' "http://127.0.0.1:9470/healthz${1:-}"; }
# applied FILE: serve runs the content of FILE (config_info carries its sha256).
applied() {
    local want
    want=$(sha256sum <"$1" | cut -d' ' -f1)
    scrape && [ "$(running_sha)" = "$want" ]
}
# expect_reload WHAT FILE: FILE's content gets applied (bounded), as exactly the next generation,
# with an audit line naming the old and the new hash.
GEN=0
SHA=
expect_reload() {
    local what=$1 file=$2 want
    want=$(sha256sum <"$file" | cut -d' ' -f1)
    wait_for 20 applied "$file" ||
        fail "$what: not reloaded within 20 s (running $(running_sha), want $want): $(tail -n 5 "$XI_TMP/serve.log")"
    [ "$(generation)" = $((GEN + 1)) ] || fail "$what: generation $(generation), expected $((GEN + 1)): $(grep audit "$XI_TMP/serve.log" | tail -n 3)"
    grep -qF "config_sha256=${SHA:0:16}->${want:0:16} " "$XI_TMP/serve.log" ||
        fail "$what: no audit line with config_sha256=${SHA:0:16}->${want:0:16}: $(grep audit "$XI_TMP/serve.log" | tail -n 3)"
    [ "$(health_code '?strict=1')" = 200 ] || fail "$what: not healthy after the reload: $(cat "$XI_TMP/health")"
    GEN=$((GEN + 1))
    SHA=$want
    pass "$what: reloaded, generation $GEN, config_sha256 ${SHA:0:16}..., audit line old->new"
}
# expect_unchanged WHAT: for a second: same generation and content hash, healthy.
expect_unchanged() {
    sleep 1
    scrape || fail "$1: /metrics"
    if [ "$(generation)" != "$GEN" ] || [ "$(running_sha)" != "$SHA" ]; then
        fail "$1: generation $(generation) config $(running_sha), expected $GEN $SHA"
    fi
    [ "$(health_code '?strict=1')" = 200 ] || fail "$1: not healthy: $(cat "$XI_TMP/health")"
    pass "$1: nothing reloaded, still generation $GEN and healthy"
}

v=0
next_config() { # [BROKEN]: c = a new config file, with a VIP port of its own
    v=$((v + 1))
    c=$XI_TMP/c$v.yaml
    gen_config "$c" $((8000 + v)) "$@"
}

say "serve on a ConfigMap-style mount (220 rules, 6 edges), inotify only (--poll-interval 3600)"
next_config
first=$c
cm_init "$first"
bg_run serve nsenter --net="/run/netns/$NS" -- "$XI_BIN" serve --config "$CONF" --node edge-a \
    --instance "$INST" --metrics-addr 127.0.0.1:9470 --poll-interval 3600 --xdp-mode native
wait_for 60 sh -c "[ \"\$(nsenter --net=/run/netns/$NS -- curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:9470/healthz?strict=1')\" = 200 ]" ||
    fail "serve never became healthy: $(tail -n 5 "$XI_TMP/serve.log")"
scrape || fail "/metrics"
GEN=$(generation)
SHA=$(running_sha)
[ "$SHA" = "$(sha256sum <"$first" | cut -d' ' -f1)" ] || fail "config_info does not carry the file's sha256"
pass "serve attached and healthy: generation $GEN, config_sha256 ${SHA:0:16}..."

say "/metrics: promtool check metrics, and the families of issue #5"
# Some traffic first, so that counters are not all zero: frames into eth0 from its peer.
nsx_net ping -c 3 -i 0.2 -W 1 192.0.2.1 >/dev/null 2>&1 || true
scrape || fail "/metrics"
if ! promtool check metrics <"$XI_TMP/metrics" >"$XI_TMP/promtool.out" 2>&1; then
    fail "promtool check metrics: $(head -n 20 "$XI_TMP/promtool.out")"
fi
[ ! -s "$XI_TMP/promtool.out" ] || fail "promtool check metrics warns: $(head -n 20 "$XI_TMP/promtool.out")"
pass "promtool check metrics: no error, no lint warning ($(wc -l <"$XI_TMP/metrics") lines, $(wc -c <"$XI_TMP/metrics") bytes)"
for fam in xdp_ingress_packets_total:counter xdp_ingress_rule_packets_total:counter \
    xdp_ingress_rule_bytes_total:counter xdp_ingress_peer_packets_total:counter \
    xdp_ingress_peer_bytes_total:counter xdp_ingress_generation:gauge \
    xdp_ingress_config_info:gauge xdp_ingress_reloads_total:counter \
    xdp_ingress_attached:gauge xdp_ingress_up:gauge xdp_ingress_health_status:gauge; do
    grep -qxF "# TYPE ${fam%%:*} ${fam#*:}" "$XI_TMP/metrics" || fail "no '# TYPE ${fam%%:*} ${fam#*:}'"
    grep -q "^# HELP ${fam%%:*} ." "$XI_TMP/metrics" || fail "no HELP for ${fam%%:*}"
done
pass "families present with TYPE and HELP"
count() { grep -c "^$1{" "$XI_TMP/metrics" || true; }
rules=$(count xdp_ingress_rule_packets_total)
((rules >= 220)) || fail "only $rules per-rule series (220 rules)"
[ "$(count xdp_ingress_rule_bytes_total)" = "$rules" ] || fail "rule bytes and packets series differ"
[ -n "$(sample xdp_ingress_rule_packets_total 'rule="rule-218"')" ] || fail "no series for rule-218"
pass "per rule: $rules series each for packets and bytes"
for s in b c d e f; do
    for d in forwarded decapsulated; do
        [ -n "$(sample xdp_ingress_peer_packets_total "peer=\"edge-$s\"" "direction=\"$d\"")" ] ||
            fail "no xdp_ingress_peer_packets_total for edge-$s $d"
        [ -n "$(sample xdp_ingress_peer_bytes_total "peer=\"edge-$s\"" "direction=\"$d\"")" ] ||
            fail "no xdp_ingress_peer_bytes_total for edge-$s $d"
    done
done
[ -z "$(sample xdp_ingress_peer_packets_total 'peer="edge-a"')" ] || fail "a peer series for this node itself"
pass "per sibling edge: 5 siblings x forwarded/decapsulated, none for this node"
for h in 'interface="eth0",hook="xdp"' 'interface="eth0",hook="tc"' 'interface="wg0",hook="tc"'; do
    [ -n "$(sample xdp_ingress_packets_total "$h" 'reason="')" ] || fail "no per-reason counters for $h"
done
reasons=$(grep '^xdp_ingress_packets_total{' "$XI_TMP/metrics" | grep -o 'reason="[a-z0-9_]*"' | sort -u | wc -l)
((reasons >= 10)) || fail "only $reasons distinct reason labels"
xdp_seen=$(grep '^xdp_ingress_packets_total{.*interface="eth0",hook="xdp"' "$XI_TMP/metrics" | awk '{s += $NF} END {print s + 0}')
((xdp_seen > 0)) || fail "XDP on eth0 counted nothing after the pings"
pass "per interface and hook: eth0 xdp, eth0 tc, wg0 tc; $reasons reasons; XDP counted $xdp_seen packets"
[ "$(sample xdp_ingress_attached 'interface="eth0"' 'hook="xdp"')" = 1 ] || fail "XDP not attached"
grep -q '^xdp_ingress_attached{.*hook="xdp".*mode="native".*} 1$' "$XI_TMP/metrics" ||
    fail "attach mode: no xdp_ingress_attached{hook=\"xdp\",mode=\"native\"} 1: $(grep '^xdp_ingress_attached' "$XI_TMP/metrics")"
grep -q '^xdp_ingress_config_info{.*config_sha256="[0-9a-f]\{64\}".*table_sha256="[0-9a-f]\{64\}".*} 1$' "$XI_TMP/metrics" ||
    fail "config_info: $(grep '^xdp_ingress_config_info' "$XI_TMP/metrics")"
if [ -z "$(sample xdp_ingress_reloads_total 'result="success"')" ] || [ -z "$(failures)" ]; then
    fail "reloads_total by result"
fi
pass "attach mode native, config_info{config_sha256,table_sha256} 1, reloads_total{result=success|failure}, generation $GEN"

say "ConfigMap swaps the kubelet way"
next_config
cm_swap "$c"
expect_reload "ConfigMap swap (..data_tmp renamed over ..data, old dir removed)" "$c"
[ "$(find "$CM" -mindepth 1 -maxdepth 1 -name '..2026*' | wc -l)" = 1 ] || fail "the swap left old dirs"

# Five swaps, 0-300 ms apart: some land during the debounce, some during a reload.
f0=$(sample xdp_ingress_reloads_total 'result="failure"')
for gap in 0 0.05 0.15 0.3 0; do
    next_config
    cm_swap "$c"
    sleep "$gap"
done
wait_for 20 applied "$c" || fail "quick swaps: the last config was not applied (running $(running_sha))"
sleep 1.5 # anything still pending would show now
scrape
[ "$(running_sha)" = "$(sha256sum <"$c" | cut -d' ' -f1)" ] || fail "quick swaps: an older config won"
g=$(generation)
((g > GEN && g <= GEN + 5)) || fail "quick swaps: generation $GEN -> $g"
[ "$(failures)" = "$f0" ] || fail "quick swaps: a reload failed ($(failures))"
pass "5 swaps in quick succession: the last config runs, generation $GEN -> $g ($((g - GEN)) reloads)"
GEN=$g
SHA=$(running_sha)

say "a swap to an invalid config keeps the old policy"
f0=$(failures)
next_config broken
cm_swap "$c"
wait_for 20 sh -c "[ \"\$(nsenter --net=/run/netns/$NS -- curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:9470/healthz?strict=1')\" = 503 ]" ||
    fail "invalid config: /healthz?strict=1 never 503: $(tail -n 5 "$XI_TMP/serve.log")"
scrape
[ "$(failures)" = $((f0 + 1)) ] || fail "invalid config: reloads{failure} $(failures), expected $((f0 + 1))"
[ "$(generation)" = "$GEN" ] || fail "invalid config: generation changed to $(generation)"
[ "$(running_sha)" = "$SHA" ] || fail "invalid config: config_info changed"
[ "$(health_code)" = 200 ] || fail "/healthz must stay 200 when degraded: $(cat "$XI_TMP/health")"
grep -q degraded "$XI_TMP/health" || fail "/healthz does not say degraded: $(cat "$XI_TMP/health")"
grep -q "reload rejected, previous policy kept: .*nobody" "$XI_TMP/serve.log" || fail "no rejection in the log"
pass "rejected: generation $GEN kept, reloads{failure} $f0 -> $((f0 + 1)), /healthz?strict=1 503, /healthz 200 degraded"
sleep 1
scrape
[ "$(failures)" = $((f0 + 1)) ] || fail "the invalid config was retried ($(failures) failures)"
next_config
cm_swap "$c"
expect_reload "a good swap after the invalid one recovers" "$c"

say "a reload that fails for a reason outside the file is retried (backoff 1, 2, 4 ... 60 s)"
f0=$(failures)
ip -n "$NS" link set wg0 down
ip -n "$NS" link set wg0 name wg0-away
more_failures() { scrape && [ "$(failures)" -gt "$f0" ]; }
next_config
cm_swap "$c"
wait_for 20 more_failures || fail "mesh interface gone: the reload did not fail: $(tail -n 5 "$XI_TMP/serve.log")"
[ "$(generation)" = "$GEN" ] || fail "mesh interface gone: generation changed to $(generation)"
grep -q "reload failed, previous policy kept, retrying in 1 s: .*wg0" "$XI_TMP/serve.log" ||
    fail "no retry announced: $(grep 'reload failed' "$XI_TMP/serve.log" | tail -n 2)"
pass "mesh interface gone: reload failed ($(failures) failures), generation $GEN kept, retry announced"
ip -n "$NS" link set wg0-away name wg0
ip -n "$NS" link set wg0 up
expect_reload "interface back: the same content retried without a file change" "$c"

say "editor saves (the file itself replaced: the ConfigMap symlink goes away)"
next_config
cp "$c" "$CM/.fleet.yaml.swp" && mv "$CM/.fleet.yaml.swp" "$CONF"
expect_reload "rename-on-save (write a temp file, rename over)" "$c"
next_config
mv "$CONF" "$CONF~" && cp "$c" "$CONF" && rm "$CONF~"
expect_reload "vim-style save (rename to a backup, write a new file, remove the backup)" "$c"
next_config
cat "$c" >"$CONF" # O_TRUNC + write on the same inode
expect_reload "in-place truncate + write" "$c"

say "the file deleted, then recreated"
rm "$CONF"
expect_unchanged "file deleted"
next_config
cp "$c" "$CONF"
expect_reload "file recreated" "$c"

say "the watched directory replaced"
next_config
mkdir "$XI_TMP/cm.new"
cp "$c" "$XI_TMP/cm.new/fleet.yaml"
mv -T "$CM" "$XI_TMP/cm.old" && mv -T "$XI_TMP/cm.new" "$CM"
expect_reload "directory renamed away and another renamed in its place (old one kept)" "$c"
next_config
cp "$c" "$CM/.new" && mv "$CM/.new" "$CONF"
expect_reload "an edit in the new directory" "$c"
next_config
rm -rf "$CM" "$XI_TMP/cm.old"
sleep 0.5
mkdir "$CM"
cp "$c" "$CONF"
expect_reload "directory deleted and recreated" "$c"
next_config
cat "$c" >"$CONF"
expect_reload "an edit in the recreated directory" "$c"
# And back to a ConfigMap layout in the recreated directory.
rm "$CONF"
next_config
CM_SEQ=$((CM_SEQ + 1))
cm_init "$c"
expect_reload "ConfigMap layout set up again in the recreated directory" "$c"
next_config
cm_swap "$c"
expect_reload "and swapped" "$c"

say "SIGTERM"
bg_stop serve || fail "serve ignored SIGTERM"
grep -q "leaving instance $INST attached" "$XI_TMP/serve.log" || fail "no clean stop: $(tail -n 3 "$XI_TMP/serve.log")"
pass "serve stopped cleanly"
say "serve_watch: all checks passed"
