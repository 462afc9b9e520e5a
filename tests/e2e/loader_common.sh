#!/bin/bash
# Shared by the loader lifecycle tests (sourced after lib.sh): what an instance looks like in
# `status --json`, in the kernel and in bpffs, and the check that nothing of it remains.
# Checks go by object id and by interface, never by name across the machine: other tests on this
# shared host load xi_* programs of their own at the same time.
set -euo pipefail

PIN_ROOT=/sys/fs/bpf/xdp-ingress

# status_json INSTANCE FILE: `status --json` of INSTANCE from a fresh process into FILE.
status_json() {
    xrun "$XI_BIN" --json status --instance "$1"
    expect_rc 0 "status --json --instance $1 from a second process"
    cp "$XI_TMP/out" "$2"
}

# attachments FILE: one line per attachment of a status document, sorted:
#   interface hook method mode program attached
attachments() {
    "$XI_PY" -c 'import json,sys
j=json.load(open(sys.argv[1]))
for l in sorted("%s %s %s %s %s %s" % (a["interface"], a["hook"], a["method"], a.get("mode", "-"),
                a["program"], str(a["attached"]).lower()) for a in j["attachments"]):
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

# kernel_agrees NS FILE: every attachment status reports is what the kernel runs on that
# interface and hook (the same program id), and the program has the reported name.
kernel_agrees() {
    local n=$1 f=$2 iface hook method prog id dir
    while read -r iface hook method prog id; do
        case $method in
        xdp)
            [ "$(xdp_prog_id "$n" "$iface")" = "$id" ] ||
                fail "$iface: kernel XDP program is '$(xdp_prog_id "$n" "$iface")', status says $id"
            ;;
        tcx)
            dir=${hook#tc/}
            [ "$(tcx_prog_ids "$n" "$iface" "$dir")" = "$id" ] ||
                fail "$iface tcx $dir: kernel runs '$(tcx_prog_ids "$n" "$iface" "$dir")', status says $id"
            ;;
        *) fail "$iface $hook: unexpected method $method on a kernel with tcx" ;;
        esac
        [ "$(bpftool -j prog show id "$id" | json_get /dev/stdin 'j["name"]')" = "$prog" ] ||
            fail "program $id is not named $prog"
    done < <("$XI_PY" -c 'import json,sys
for a in json.load(open(sys.argv[1]))["attachments"]:
    print(a["interface"], a["hook"], a["method"], a["program"], a["program_id"])' "$f")
    pass "kernel runs exactly the programs status reports, on the reported hooks"
}

# objects INSTANCE: ids of every BPF object the instance owns, as "prog:ID", "link:ID",
# "map:ID" lines: its pinned links and maps (bpftool -f resolves pins) and their programs.
objects() {
    local dir=$PIN_ROOT/$1/
    {
        bpftool -j -f link show | "$XI_PY" -c 'import json,sys
for l in json.load(sys.stdin):
    if any(p.startswith(sys.argv[1]) for p in l.get("pinned", [])):
        print("link:%d" % l["id"]); print("prog:%d" % l["prog_id"])' "$dir"
        bpftool -j -f map show | "$XI_PY" -c 'import json,sys
for m in json.load(sys.stdin):
    if any(p.startswith(sys.argv[1]) for p in m.get("pinned", [])):
        print("map:%d" % m["id"])' "$dir"
    } | sort -u
}

# no_residue NS INSTANCE OBJECTS IFACE...: after a detach, nothing of the instance is left:
# no pin directory, none of its objects (ids recorded before the detach) in the kernel, and no
# XDP, tcx, clsact filter or qdisc on its interfaces.
no_residue() {
    local n=$1 inst=$2 objs=$3 iface dir kind alive
    shift 3
    [ ! -e "$PIN_ROOT/$inst" ] || fail "pin directory $PIN_ROOT/$inst still exists: $(ls "$PIN_ROOT/$inst")"
    [ -n "$objs" ] || fail "no objects were recorded for $inst"
    for kind in prog link map; do
        # shellcheck disable=SC2046 # one id per word
        alive=$(bpf_ids_alive "$kind" $(sed -n "s/^$kind://p" <<<"$objs"))
        [ -z "$alive" ] || fail "$inst: $kind ids still in the kernel: $alive"
    done
    for iface in "$@"; do
        [ -z "$(xdp_prog_id "$n" "$iface")" ] || fail "$iface still has an XDP program"
        for dir in ingress egress; do
            [ -z "$(tcx_prog_ids "$n" "$iface" "$dir")" ] || fail "$iface still has tcx $dir programs"
            [ -z "$(tc -n "$(ns "$n")" filter show dev "$iface" "$dir")" ] ||
                fail "$iface still has tc $dir filters"
        done
        ! tc -n "$(ns "$n")" qdisc show dev "$iface" | grep -q clsact || fail "$iface still has a clsact qdisc"
    done
    if (($#)); then
        ! nsx "$n" bpftool net show | grep -q 'xi_' || fail "bpftool net in $(ns "$n") still shows xi_ programs"
    fi
    pass "$inst: no pins, none of its $(wc -l <<<"$objs") programs/links/maps, nothing on $*"
}
