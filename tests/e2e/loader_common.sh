#!/bin/bash
# Shared by the loader lifecycle tests (loader_lifecycle, loader_faults, loader_errors), which
# source it first thing after setting XI_BUDGET: lib.sh, the privilege check, $CFG; then what an
# instance looks like in `status --json`, in the kernel and in bpffs, and the check that nothing
# of it remains. Checks go by object id and by interface, never by name across the machine: other
# tests on this shared host load xi_* programs of their own at the same time.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"
require_privileges
CFG=$XI_TMP/fleet.yaml

PIN_ROOT=/sys/fs/bpf/xdp-ingress
# How the loader attaches TC programs on this kernel: tcx from 6.6 on, clsact before (the VM
# tests run this on 6.1 too).
if have_tcx; then TC_METHOD=tcx; else TC_METHOD=clsact; fi
# The hand-off attach picks here without --handoff (docs/steering.md): what `features` says.
AUTO_HANDOFF=$("$XI_BIN" -j features | "$XI_PY" -c 'import json,sys; print(json.load(sys.stdin)["auto"])')

# status_json INSTANCE FILE: `status --json` of INSTANCE from a fresh process into FILE.
status_json() {
    xrun "$XI_BIN" --json status --instance "$1"
    expect_rc 0 "status --json --instance $1 from a second process"
    cp "$XI_TMP/out" "$2"
}

# attachments FILE: one line per attachment of a status document, sorted:
#   interface hook method mode program attached
# Left out: the metadata guard on the fallback tunnel devices (tunl0, gre0, ...) that every new
# namespace gets once their module is loaded - by an earlier test in the same VM, or not.
attachments() {
    "$XI_PY" -c 'import json,sys
fallback = {"tunl0", "gre0", "gretap0", "erspan0", "ip_vti0", "sit0", "ip6tnl0", "ip6gre0",
            "ip6gretap0", "ip6erspan0", "ip6_vti0"}
j=json.load(open(sys.argv[1]))
for l in sorted("%s %s %s %s %s %s %s" % (a["interface"], a["hook"], a["method"], a.get("mode", "-"),
                a.get("handoff", "-"), a["program"], str(a["attached"]).lower())
                for a in j["attachments"] if not (a["side"] == "guard" and a["interface"] in fallback)):
    print(l)' "$1"
}

# expect_attachments FILE WHAT EXPECTED_LINES: the status document lists exactly these.
expect_attachments() {
    local got
    got=$(attachments "$1")
    if [ "$got" != "$3" ]; then
        printf '    got:\n%s\n    expected:\n%s\n' "$got" "$3" >&2
        fail "$2: attachments differ"
    fi
    pass "$2: $(wc -l <<<"$got") attachments as expected"
}

# kernel_agrees NS FILE: every attachment the status document FILE reports is what the kernel
# runs on that interface and hook (the same program id, alone there, with the reported name).
kernel_agrees() {
    local h=$XI_TMP/hooks.json ifaces
    ifaces=$(json_get "$2" 'sorted({a["interface"] for a in j["attachments"]})')
    # shellcheck disable=SC2086 # one interface per word
    hooks "$1" $ifaces >"$h"
    "$XI_PY" - "$2" "$h" "$TC_METHOD" <<'EOF' || fail "status and the kernel disagree (above)"
import json, sys
status, hooks, tc_method = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
bad, want, kernel = [], {}, {}
# A hook may run more than one of ours (the metadata guard beside the public programs): the
# kernel's programs at each hook must be exactly the ones status names there.
for a in status["attachments"]:
    where, pid = "%s %s" % (a["interface"], a["hook"]), a["program_id"]
    i = hooks["interfaces"][a["interface"]]
    if not i["exists"]:
        bad.append("%s: no such interface" % where)
        continue
    if a["method"] == "xdp":
        kernel[where] = [i["xdp"]["id"]] if i["xdp"] else []
    elif a["method"] == tc_method:
        kernel[where] = i["tcx" if tc_method == "tcx" else "tc"][a["hook"].split("/")[1]]
    else:
        bad.append("%s: method %s, expected %s on this kernel" % (where, a["method"], tc_method))
        continue
    want.setdefault(where, []).append(pid)
    if hooks["names"].get(str(pid)) != a["program"]:
        bad.append("%s: program %d is %r, not %s" % (where, pid, hooks["names"].get(str(pid)), a["program"]))
for where, pids in want.items():
    if sorted(kernel[where]) != sorted(pids):
        bad.append("%s: the kernel runs %s, status says %s" % (where, kernel[where], pids))
for b in bad:
    print("    " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
    pass "the kernel runs exactly the programs status reports, on the reported hooks"
}

# hooks_empty NS IFACE...: no XDP program, tcx program, tc filter or clsact qdisc on these
# interfaces; prints what is there otherwise.
hooks_empty() {
    local n=$1
    shift
    hooks "$n" "$@" | "$XI_PY" -c 'import json, sys
bad = []
for name, i in json.load(sys.stdin)["interfaces"].items():
    if i["exists"] and (i["xdp"] or i["clsact"] or any(i["tcx"].values()) or any(i["tc"].values())):
        bad.append("%s: %s" % (name, i))
for b in bad:
    print("    " + b, file=sys.stderr)
sys.exit(1 if bad else 0)'
}

# objects INSTANCE: ids of every BPF object the instance owns, as "prog:ID", "link:ID",
# "map:ID" lines: its pinned links and maps (bpftool -f resolves pins), their programs and the
# programs status reports (clsact filters hold theirs without a link).
objects() {
    "$XI_BIN" --json status --instance "$1" >"$XI_TMP/objects.json"
    "$XI_PY" - "$PIN_ROOT/$1/" "$XI_TMP/objects.json" <<'EOF' | sort -u
import json, subprocess, sys
def pinned(kind):
    out = subprocess.run(["bpftool", "-j", "-f", kind, "show"], check=True, capture_output=True,
                         text=True).stdout
    return [o for o in json.loads(out or "[]")
            if any(p.startswith(sys.argv[1]) for p in o.get("pinned", []))]
for a in json.load(open(sys.argv[2]))["attachments"]:
    print("prog:%d" % a["program_id"])
for l in pinned("link"):
    print("link:%d" % l["id"])
    print("prog:%d" % l["prog_id"])
for m in pinned("map"):
    print("map:%d" % m["id"])
EOF
}

# no_residue NS INSTANCE OBJECTS IFACE...: after a detach, nothing of the instance is left:
# no pin directory, none of its objects (ids recorded before the detach) in the kernel, nothing
# on its interfaces (XDP, tcx, tc filters, clsact), nothing of ours in `bpftool net`.
no_residue() {
    local n=$1 inst=$2 objs=$3 alive
    shift 3
    [ ! -e "$PIN_ROOT/$inst" ] || fail "pin directory $PIN_ROOT/$inst still exists: $(ls "$PIN_ROOT/$inst")"
    [ -n "$objs" ] || fail "no objects were recorded for $inst"
    # The kernel frees some objects from a work queue (and a deleted namespace's filters
    # asynchronously): allow them a moment.
    for _ in $(seq 50); do
        # shellcheck disable=SC2086 # one object per word
        alive=$(bpf_ids_alive $objs)
        [ -z "$alive" ] && break
        sleep 0.1
    done
    [ -z "$alive" ] || fail "$inst: still in the kernel after 5 s: $alive"
    if (($#)); then
        hooks_empty "$n" "$@" || fail "something is still attached to $*"
        ! nsx "$n" bpftool net show | grep -q 'xi_' || fail "bpftool net in $(ns "$n") still shows xi_ programs"
    fi
    pass "$inst: no pins, none of its $(wc -l <<<"$objs") programs/links/maps, nothing on ${*:-its (deleted) interfaces}"
}

# write_fleet_config FILE: the fleet of loader_lifecycle.sh and loader_faults.sh.
#   edge-a: an edge, public pub0, mesh wg0 (wireguard-go)
#   app-1:  a backend, mesh wg0
#   app-l2: a backend whose mesh is a veth (Ethernet header: L2 entries)
write_fleet_config() {
    cat >"$1" <<'EOF'
version: 1
fleet:
  hash_seed: 0x5eed
nodes:
  - name: edge-a
    public_interface: pub0
    mesh_ipv4: 10.200.0.1
  - name: app-1
    mesh_ipv4: 10.200.1.11
  - name: app-l2
    mesh_interface: mesh0
    mesh_ipv4: 10.200.1.21
vips:
  - name: web
    address: 198.51.100.10
    protocol: tcp
    ports: [80]
identities:
  edges: [10.200.0.0/24]
  apps: [10.200.1.0/24]
rules:
  - name: ping
    from: any
    to: any
    protocol: icmp
    action: allow
default:
  ingress: deny
  egress: allow
EOF
}

# What status reports for each node of that fleet: attachments() lines.
# shellcheck disable=SC2034 # used by the scripts that source this file
EXPECT_EDGE="pub0 tc/egress $TC_METHOD - - xi_guard_out_l2 true
pub0 tc/egress $TC_METHOD - - xi_tc_pub_out true
pub0 tc/ingress $TC_METHOD - - xi_guard_in_l2 true
pub0 tc/ingress $TC_METHOD - $AUTO_HANDOFF xi_tc_pub_in true
pub0 xdp/ingress xdp native $AUTO_HANDOFF xi_xdp_public true
wg0 tc/egress $TC_METHOD - - xi_mesh_out_l3 true
wg0 tc/ingress $TC_METHOD - - xi_mesh_in_l3 true"
# shellcheck disable=SC2034
EXPECT_BACK="up0 tc/egress $TC_METHOD - - xi_guard_out_l2 true
up0 tc/ingress $TC_METHOD - - xi_guard_in_l2 true
wg0 tc/egress $TC_METHOD - - xi_mesh_out_l3 true
wg0 tc/ingress $TC_METHOD - - xi_mesh_in_l3 true"
# shellcheck disable=SC2034
EXPECT_L2="mesh0 tc/egress $TC_METHOD - - xi_mesh_out_l2 true
mesh0 tc/ingress $TC_METHOD - - xi_mesh_in_l2 true
mesh0p tc/egress $TC_METHOD - - xi_guard_out_l2 true
mesh0p tc/ingress $TC_METHOD - - xi_guard_in_l2 true"

# attach_ok NS INSTANCE NODE: attach NODE of the config $CFG in NS, check the summary it prints.
attach_ok() {
    echo "$2" >>"$XI_TMP/instances"
    xrun "$XI_BIN" attach --netns "$(ns "$1")" --instance "$2" --node "$3" --config "$CFG"
    expect_rc 0 "attach $3 as instance $2 in $(ns "$1")"
    expect_line out "attached instance $2 (generation 1)"
}

# detach_clean NS INSTANCE IFACE...: detach, prove nothing is left, detach again.
detach_clean() {
    local n=$1 inst=$2 objs
    shift 2
    objs=$(objects "$inst")
    xrun "$XI_BIN" detach --instance "$inst"
    expect_rc 0 "detach $inst"
    expect_line out "detached instance $inst"
    no_residue "$n" "$inst" "$objs" "$@"
    xrun "$XI_BIN" detach --instance "$inst"
    expect_rc 0 "detach $inst again"
    expect_line out "nothing attached for instance $inst"
    expect_empty err
}
