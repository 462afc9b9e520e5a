#!/bin/bash
# The systemd unit's privileges are enough for the agent, and none of them is superfluous.
#
# The real binary runs under setpriv with exactly the CapabilityBoundingSet= of
# deploy/systemd/xdp-ingress.service (uid 0, every other capability out of the bounding set,
# no_new_privs: what systemd does for that unit), in a throwaway network namespace joined
# from outside (what the unit's NetworkNamespacePath= does), against veths named like the
# config's interfaces:
#   attach --replace (the unit's ExecStartPre; a first start is a plain attach), status,
#   health, serve (/healthz, /metrics, reload on rename-on-save, SIGHUP, a rejected config
#   makes it degraded, SIGTERM leaves the datapath attached), attach --replace (upgrade),
#   detach.
# Then: without any one of the unit's capabilities the attach fails with a clear error and
# leaves nothing attached; --netns (setns) needs CAP_SYS_ADMIN on top, and says so.
# With strace (Makefile DEPS): every syscall the agent made is allowed by the unit's SystemCallFilter=, every
# socket family by RestrictAddressFamilies=, every path it wrote is under ReadWritePaths=.
source "$(dirname "$0")/lib.sh"
require_privileges
for tool in setpriv nsenter curl python3; do
    command -v "$tool" >/dev/null || fail "$tool is missing (Makefile DEPS installs it)"
done

src=${XI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
unit=$src/deploy/systemd/xdp-ingress.service
# Unit directive values (several lines of the same directive are joined).
unit_value() { sed -n "s/^$1=//p" "$unit" | tr '\n' ' '; }
read -ra unit_caps <<<"$(unit_value CapabilityBoundingSet)"
((${#unit_caps[@]})) || fail "no CapabilityBoundingSet= in $unit"
say "unit capabilities: ${unit_caps[*]}"

# "CAP_BPF CAP_NET_ADMIN" -> "-all,+bpf,+net_admin" (setpriv's syntax)
setpriv_set() {
    local out=-all c
    for c in "$@"; do out+=",+$(tr '[:upper:]' '[:lower:]' <<<"${c#CAP_}")"; done
    echo "$out"
}
# capability names -> CapEff mask as /proc/PID/status prints it
cap_mask() {
    local c mask=0 n
    for c in "$@"; do
        n=$(python3 -c "import sys; print({'CAP_NET_ADMIN':12,'CAP_SYS_ADMIN':21,'CAP_BPF':39,'CAP_PERFMON':38,'CAP_SYS_RESOURCE':24,'CAP_DAC_OVERRIDE':1,'CAP_NET_RAW':13}[sys.argv[1]])" "$c") ||
            fail "unknown capability $c"
        mask=$((mask | (1 << n)))
    done
    printf '%016x' "$mask"
}

ns_add edge
NS=$(ns edge)
NSPATH=/run/netns/$NS
# Public and mesh interfaces: veths (the loader takes the L2 entry on an Ethernet mesh device).
ip -n "$NS" link add eth0 type veth peer name eth0p
ip -n "$NS" link add wg0 type veth peer name wg0p
for i in eth0 eth0p wg0 wg0p; do ip -n "$NS" link set "$i" up; done
ip -n "$NS" addr add 10.200.0.1/24 dev wg0
# Strict reverse-path filtering on the mesh: the agent must be able to loosen it (CAP_NET_ADMIN).
nsx edge sysctl -qw net.ipv4.conf.wg0.rp_filter=1

INST=${XI_PFX}edge
echo "$INST" >>"$XI_TMP/instances"
CONF_DIR=$XI_TMP/etc
mkdir -p "$CONF_DIR"
CONF=$CONF_DIR/fleet.yaml
write_config() { # PORT [extra YAML] -> fleet config, replaced by rename (like an editor/CM)
    cat >"$CONF_DIR/.new" <<EOF
version: 1
fleet: {hash_seed: 0x6a09e667f3bcc908, maglev_table_size: 65537, mesh_mtu: 1420}
nodes:
  - {name: edge-a, public_interface: eth0, mesh_interface: wg0, mesh_ipv4: 10.200.0.1}
  - {name: edge-b, public_interface: eth0, mesh_interface: wg0, mesh_ipv4: 10.200.0.2}
  - {name: app-1, mesh_ipv4: 10.201.0.11}
vips:
  - {name: web, address: 198.51.100.10, protocol: tcp, ports: [$1]}
identities:
  edges: [10.200.0.0/24]
  backends: [10.201.0.0/24]
rules:
  - {name: edges-to-backends, from: edges, to: backends, protocol: tcp, ports: [8080], action: allow}
${2:-}
default: {ingress: deny, egress: allow}
EOF
    mv "$CONF_DIR/.new" "$CONF"
}
write_config 443

# as CAPS... -- CMD...: CMD inside the edge namespace with exactly CAPS (and uid 0).
as() {
    local caps=()
    while [ "$1" != -- ]; do
        caps+=("$1")
        shift
    done
    shift
    nsenter --net="$NSPATH" -- setpriv --inh-caps=-all --ambient-caps=-all \
        --bounding-set="$(setpriv_set "${caps[@]}")" --no-new-privs -- "$@"
}
# agent CAPS... -- ARGS: the binary, node edge-a, our instance
agent() {
    local caps=()
    while [ "$1" != -- ]; do
        caps+=("$1")
        shift
    done
    shift
    as "${caps[@]}" -- "$XI_BIN" "$@"
}
# Same, from the host namespace (for --netns).
agent_host() {
    local caps=()
    while [ "$1" != -- ]; do
        caps+=("$1")
        shift
    done
    shift
    setpriv --inh-caps=-all --ambient-caps=-all --bounding-set="$(setpriv_set "${caps[@]}")" \
        --no-new-privs -- "$XI_BIN" "$@"
}
http() { nsenter --net="$NSPATH" -- curl -s -o "$XI_TMP/body" -w '%{http_code}' "http://127.0.0.1:9470$1"; }
# awk reads to the end: exiting early would SIGPIPE curl and fail the pipeline (pipefail).
metric() { # NAME [LABEL-SUBSTRING]: value of the first matching sample
    nsenter --net="$NSPATH" -- curl -sf http://127.0.0.1:9470/metrics |
        awk -v n="$1" -v l="${2:-}" '!done && index($0, n "{") == 1 && index($0, l) { print $NF; done = 1 }'
}
generation_is() { [ "$(metric xdp_ingress_generation)" = "$1" ]; }
no_instance() { [ ! -e "/sys/fs/bpf/xdp-ingress/$INST/xi_stats" ] && ! ip -n "$NS" link show eth0 | grep -q xdp; }

COMMON=(--config "$CONF" --node edge-a --instance "$INST")

# strace, when present, wraps the unit's two commands (ExecStartPre and ExecStart).
trace=()
if command -v strace >/dev/null; then
    trace=(strace -f -qq -s 256 -e signal=none -o "$XI_TMP/strace.log" -A)
else
    echo "  note: strace not installed: the syscall/socket/path audit is skipped"
fi

say "ExecStartPre: attach --replace with ${unit_caps[*]} (first start: plain attach)"
"${trace[@]}" nsenter --net="$NSPATH" -- setpriv --inh-caps=-all --ambient-caps=-all \
    --bounding-set="$(setpriv_set "${unit_caps[@]}")" --no-new-privs -- \
    "$XI_BIN" attach --replace "${COMMON[@]}" >"$XI_TMP/out" 2>&1 || {
    cat "$XI_TMP/out"
    fail "attach with the unit's capabilities"
}
grep -q "attached instance $INST" "$XI_TMP/out" || fail "attach output: $(cat "$XI_TMP/out")"
pass "attach: $(grep "attached instance" "$XI_TMP/out")"
[ "$(nsx edge sysctl -n net.ipv4.conf.wg0.rp_filter)" = 2 ] || fail "rp_filter of wg0 not loosened"
pass "net.ipv4.conf.wg0.rp_filter 1 -> 2 written by the agent"

agent "${unit_caps[@]}" -- status --instance "$INST" >"$XI_TMP/out" 2>&1 || fail "status: $(cat "$XI_TMP/out")"
grep -q "$INST" "$XI_TMP/out" || fail "status does not show $INST"
pass "status"
agent "${unit_caps[@]}" -- health --strict --instance "$INST" >"$XI_TMP/out" 2>&1 ||
    fail "health --strict after attach: $(cat "$XI_TMP/out")"
pass "health --strict: $(cat "$XI_TMP/out")"

say "ExecStart: serve with ${unit_caps[*]}"
unit_set=$(setpriv_set "${unit_caps[@]}")
"${trace[@]}" nsenter --net="$NSPATH" -- setpriv --inh-caps=-all --ambient-caps=-all \
    --bounding-set="$unit_set" --no-new-privs -- \
    "$XI_BIN" serve "${COMMON[@]}" --metrics-addr 127.0.0.1:9470 --poll-interval 1 \
    >"$XI_TMP/serve.log" 2>&1 &
launcher=$!
echo "$launcher" >>"$XI_TMP/pids"
# The agent's pid: nsenter and setpriv exec it, strace (if any) forks it.
serve_pid=
wait_for 5 eval 'serve_pid=$(pgrep -f -- "^$XI_BIN serve .*--instance $INST")' ||
    fail "serve did not start: $(cat "$XI_TMP/serve.log")"
echo "$serve_pid" >>"$XI_TMP/pids" # strace's child survives a kill of strace: clean it up too
wait_for 15 sh -c "[ \"\$(nsenter --net=$NSPATH -- curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9470/healthz)\" = 200 ]" ||
    fail "serve never answered /healthz: $(cat "$XI_TMP/serve.log")"
want=$(cap_mask "${unit_caps[@]}")
got=$(awk '/^CapEff:/ {print $2}' "/proc/$serve_pid/status" 2>/dev/null || true)
[ "$got" = "$want" ] || fail "serve (pid $serve_pid) runs with CapEff '$got', expected $want"
pass "serve (pid $serve_pid) runs with CapEff $got = ${unit_caps[*]} only"
[ "$(http /healthz)" = 200 ] || fail "/healthz"
pass "/healthz 200: $(cat "$XI_TMP/body")"
[ "$(metric xdp_ingress_up)" = 1 ] || fail "xdp_ingress_up is not 1"
[ "$(metric xdp_ingress_attached 'interface="eth0",hook="xdp"')" = 1 ] || fail "XDP not reported attached"
g0=$(metric xdp_ingress_generation)
pass "/metrics: up 1, XDP attached, generation $g0"

write_config 8443
wait_for 15 generation_is $((g0 + 1)) || fail "no reload after rename-on-save: $(tail -5 "$XI_TMP/serve.log")"
pass "config replaced by rename: reloaded, generation $((g0 + 1))"
kill -HUP "$serve_pid"
wait_for 10 generation_is $((g0 + 2)) || fail "no reload on SIGHUP: $(tail -5 "$XI_TMP/serve.log")"
pass "SIGHUP: reloaded, generation $((g0 + 2))"
write_config 8443 "  - {name: broken, from: nobody, to: edges, protocol: tcp, ports: [1], action: allow}"
wait_for 15 sh -c "[ \"\$(nsenter --net=$NSPATH -- curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:9470/healthz?strict=1')\" = 503 ]" ||
    fail "a rejected config did not make /healthz?strict=1 503"
[ "$(http /healthz)" = 200 ] || fail "/healthz must stay 200 when degraded"
grep -q degraded "$XI_TMP/body" || fail "/healthz body does not say degraded: $(cat "$XI_TMP/body")"
[ "$(metric xdp_ingress_reloads_total 'result="failure"')" = 1 ] || fail "failed reload not counted"
agent "${unit_caps[@]}" -- health --instance "$INST" >/dev/null || fail "health (non-strict) fails when degraded"
if agent "${unit_caps[@]}" -- health --strict --instance "$INST" >/dev/null; then
    fail "health --strict passes when degraded"
fi
pass "rejected config: degraded (/healthz 200, ?strict=1 503, health 0, health --strict 1)"
write_config 8443
kill -HUP "$serve_pid"
wait_for 10 sh -c "[ \"\$(nsenter --net=$NSPATH -- curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:9470/healthz?strict=1')\" = 200 ]" ||
    fail "good config back, still not healthy"
pass "good config back: healthy"
kill -TERM "$serve_pid"
rc=0
wait "$launcher" || rc=$?
[ "$rc" = 0 ] || fail "serve exited $rc on SIGTERM: $(tail -5 "$XI_TMP/serve.log")"
agent "${unit_caps[@]}" -- health --strict --instance "$INST" >/dev/null ||
    fail "the datapath did not stay attached after SIGTERM"
pass "SIGTERM: exit 0, datapath still attached and healthy"

say "upgrade and removal with ${unit_caps[*]}"
agent "${unit_caps[@]}" -- attach --replace "${COMMON[@]}" >"$XI_TMP/out" 2>&1 ||
    fail "attach --replace: $(cat "$XI_TMP/out")"
grep -q "replaced programs of instance $INST" "$XI_TMP/out" || fail "attach --replace output: $(cat "$XI_TMP/out")"
pass "attach --replace: $(grep "replaced programs" "$XI_TMP/out")"
agent "${unit_caps[@]}" -- detach --instance "$INST" >"$XI_TMP/out" 2>&1 || fail "detach: $(cat "$XI_TMP/out")"
no_instance || fail "detach left pins or XDP behind"
pass "detach: nothing left"

say "each capability of the unit is needed"
for drop in "${unit_caps[@]}"; do
    rest=()
    for c in "${unit_caps[@]}"; do [ "$c" = "$drop" ] || rest+=("$c"); done
    if agent "${rest[@]}" -- attach "${COMMON[@]}" >"$XI_TMP/out" 2>&1; then
        fail "attach works without $drop: the unit grants more than it needs"
    fi
    grep -q "^Error: .*lacks $drop;" "$XI_TMP/out" ||
        fail "without $drop the error does not name it: $(grep -v '^[0-9]*: \|^; ' "$XI_TMP/out")"
    no_instance || fail "a failed attach without $drop left something behind"
    pass "without $drop: $(grep '^Error:' "$XI_TMP/out" | head -1)"
done

say "--netns (setns) needs CAP_SYS_ADMIN on top of the unit's set"
if agent_host "${unit_caps[@]}" -- attach "${COMMON[@]}" --netns "$NS" >"$XI_TMP/out" 2>&1; then
    fail "--netns worked without CAP_SYS_ADMIN"
fi
grep -q "needs CAP_SYS_ADMIN" "$XI_TMP/out" || fail "--netns error is not clear: $(cat "$XI_TMP/out")"
pass "without CAP_SYS_ADMIN: $(head -1 "$XI_TMP/out")"
agent_host "${unit_caps[@]}" CAP_SYS_ADMIN -- attach "${COMMON[@]}" --netns "$NS" >"$XI_TMP/out" 2>&1 ||
    fail "attach --netns with CAP_SYS_ADMIN: $(cat "$XI_TMP/out")"
pass "with CAP_SYS_ADMIN: $(grep "attached instance" "$XI_TMP/out")"
# detach joins the namespace recorded at attach: the same requirement.
if agent_host "${unit_caps[@]}" -- detach --instance "$INST" >"$XI_TMP/out" 2>&1; then
    fail "detach of a --netns instance worked without CAP_SYS_ADMIN"
fi
agent_host "${unit_caps[@]}" CAP_SYS_ADMIN -- detach --instance "$INST" >/dev/null 2>&1 ||
    fail "detach --netns instance with CAP_SYS_ADMIN"
no_instance || fail "detach of the --netns instance left something behind"
pass "detach of a --netns instance needs it too (it joins the recorded namespace)"

if ((${#trace[@]})); then
    say "strace audit against the unit's sandbox"
    python3 - "$XI_TMP/strace.log" "$XI_BIN" "$unit" <<'PY' || fail "the unit's sandbox does not fit what the agent does"
import re, shutil, subprocess, sys
log, binary, unit = sys.argv[1:4]
directives = {}
for line in open(unit):
    line = line.strip()
    if "=" in line and not line.startswith("#"):
        k, v = line.split("=", 1)
        directives.setdefault(k, []).append(v)

# Only what the agent did: from each traced process's execve of the binary on, plus threads.
agent, started, syscalls, families, written = set(), set(), set(), set(), set()
pending = {}  # pid -> paths of its call that strace left <unfinished ...>
line_re = re.compile(r"^(\d+) +(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)$")
for line in open(log):
    m = line_re.match(line)
    if not m:
        continue
    pid, name, rest = m.group(1), m.group(2) or m.group(3), m.group(4)
    if name == "execve" and binary in rest:
        agent.add(pid)
        started.add(pid)
        continue
    if pid not in agent:
        continue
    if name in ("clone", "clone3") and "=" in rest:
        child = rest.rsplit("=", 1)[1].strip().split()[0]
        if child.isdigit():
            agent.add(child)
    syscalls.add(name)
    if name == "socket" and m.group(3):  # the call's own line, not "<... socket resumed>"
        families.add(rest.split(",")[0].strip())
    paths = []
    if name in ("openat", "open") and re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", rest):
        paths = re.findall(r'"([^"]*)"', rest)[:1]
    elif name in ("mkdir", "mkdirat", "unlink", "unlinkat", "rename", "renameat", "renameat2", "rmdir"):
        paths = re.findall(r'"([^"]*)"', rest)
    elif name == "bpf" and "BPF_OBJ_PIN" in rest:
        paths = re.findall(r'pathname="([^"]*)"', rest)
    # A call another thread interrupts is split in two lines; its result is on the second.
    if rest.rstrip().endswith("<unfinished ...>"):
        pending[pid] = paths
        continue
    if m.group(2):
        paths = pending.pop(pid, [])
    if "= -1" not in rest:
        written.update(paths)
if not started:
    sys.exit("no execve of the binary in the trace")

ok = True
def expand(group, seen=None):
    out = set()
    text = subprocess.run(["systemd-analyze", "syscall-filter", group], capture_output=True,
                          text=True, check=True).stdout
    for tok in text.split():
        if tok == group or tok.startswith("#"):
            continue
        out |= expand(tok) if tok.startswith("@") else {tok}
    return out
if shutil.which("systemd-analyze"):
    allowed = set()
    for v in directives.get("SystemCallFilter", []):
        if v.startswith("~"):
            continue
        for tok in v.split():
            allowed |= expand(tok) if tok.startswith("@") else {tok}
    missing = sorted(s for s in syscalls if s not in allowed)
    if missing:
        print("  FAIL syscalls outside SystemCallFilter=:", " ".join(missing))
        ok = False
    else:
        print(f"  ok   all {len(syscalls)} syscalls are in SystemCallFilter=")
else:
    print("  note: systemd-analyze missing: SystemCallFilter= check skipped")

allowed_fam = set(" ".join(directives.get("RestrictAddressFamilies", [])).split())
bad = sorted(f for f in families if f not in allowed_fam)
if bad:
    print("  FAIL socket families outside RestrictAddressFamilies=:", " ".join(bad))
    ok = False
else:
    print("  ok   socket families", " ".join(sorted(families)), "are in RestrictAddressFamilies=")

rw = " ".join(directives.get("ReadWritePaths", [])).split()
outside = sorted(p for p in written if not any(p == d or p.startswith(d.rstrip("/") + "/") for d in rw)
                 and not p.startswith("/dev/"))
if outside:
    print("  FAIL written outside ReadWritePaths=:", " ".join(outside))
    ok = False
else:
    print(f"  ok   all {len(written)} written paths are under ReadWritePaths= ({' '.join(rw)})")
sys.exit(0 if ok else 1)
PY
fi
say "deploy_caps: all checks passed"
