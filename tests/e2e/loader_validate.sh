#!/bin/bash
# `xdp-ingress validate FILE...` (issue #2), no privileges and no kernel needed: the example
# policies are valid (exit 0); broken copies of them, one per error class, exit 1 with
# file:line:col: reason for every error; --json lists the errors with line and column.
# Positions are computed from the broken copy, so the examples may change without this test.
set -euo pipefail
XI_BUDGET=${XI_BUDGET:-90} # seconds: a hang detector; 1-10 s here
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

SRC=${XI_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
EXAMPLE=$SRC/policies/fleet-example.yaml
BROKEN=() # the broken copies made so far

test_examples_valid() {
    say "validate policies/*.yaml"
    local f
    xrun "$XI_BIN" validate "$SRC"/policies/*.yaml
    expect_rc 0 "the example policies are valid"
    expect_empty err
    for f in "$SRC"/policies/*.yaml; do
        grep -qE "^$f: valid \([0-9]+ nodes, [0-9]+ vips, [0-9]+ identities, [0-9]+ rules; sha256 [0-9a-f]{16}\)$" \
            "$XI_TMP/out" || fail "no 'valid' line for $f: $(cat "$XI_TMP/out")"
    done
    pass "one 'valid (...)' line per example"
}

# broken NAME OLD NEW POS_TEXT [POS_MARK] MESSAGE: a copy of the example with OLD replaced by
# NEW fails validation with exactly "COPY:LINE:COL: MESSAGE" on stderr, LINE:COL being where
# POS_TEXT (or POS_MARK inside it) starts in the copy.
broken() {
    local name=$1 old=$2 new=$3 f pos
    shift 3
    f=$XI_TMP/$name.yaml
    pos=$(file_edit "$EXAMPLE" "$f" "$old" "$new" "${@:1:$#-1}")
    BROKEN+=("$f")
    local msg=${*: -1}
    xrun "$XI_BIN" validate "$f"
    if [ "$RC" != 1 ] || [ "$(cat "$XI_TMP/err")" != "$f:$pos: $msg" ]; then
        show_output
        fail "$name: expected exit 1 and exactly: $f:$pos: $msg"
    fi
    expect_empty out
    pass "$name: exit 1, $name.yaml:$pos: $msg"
}

test_broken_copies() {
    say "broken copies of the example, one per error class"
    broken yaml-syntax "version: 1" $'version: 1\n\tlabel: x' $'\tlabel' \
        "a tab in the indentation: YAML indents with spaces only"
    broken unknown-key "    mesh_ipv4: 10.201.0.11" $'    mesh_ipv4: 10.201.0.11\n    mesh_ip: 10.201.0.12' \
        "mesh_ip:" "unknown key 'mesh_ip' in node (known: mesh_interface, mesh_ipv4, mesh_ipv6, mesh_mtu, name, public_interface, state, weight)"
    broken bad-prefix "backends: [10.201.0.0/24]" "backends: [10.201.0.0/33]" "10.201.0.0/33" \
        "identity 'backends': prefix length '33' is not in 0..32"
    local first
    first=$(pos_of "$EXAMPLE" "name: edge-ams" | cut -d: -f1)
    broken duplicate-node "name: edge-fra" "name: edge-ams" $'name: edge-ams\n    public_interface: eth0\n    mesh_ipv4: 10.200.0.2' \
        "duplicate node name 'edge-ams' (first at line $first)"
    broken duplicate-vip "name: dns" "name: web" $'name: web\n    address: 198.51.100.53' \
        "duplicate vip name 'web'"
    broken out-of-range "mesh_mtu: 1420" "mesh_mtu: 100" "mesh_mtu: 100" "100" \
        "fleet.mesh_mtu 100 is out of range 1280..65535"
    broken no-identity "mesh_ipv4: 10.202.0.31" "mesh_ipv4: 10.209.0.31" "name: db-azure-1" \
        "mesh address 10.209.0.31 of node 'db-azure-1' is in no identity: add it to the node's role"
    broken two-identities "monitoring: [10.203.0.0/28]" "monitoring: [10.203.0.0/28, 10.202.0.0/16]" \
        "name: db-azure-1" \
        "mesh address 10.202.0.31 of node 'db-azure-1' is in two identities ('databases' and 'monitoring'): a node has exactly one role"
    broken mixed-family $'    mesh_ipv6: fd00:200::3\n' "" "name: web6" \
        "IPv6 vip 'web6' cannot be steered to edge 'edge-iad': it has no mesh_ipv6 (IPv6-in-IPv4 steering is not supported; give every edge a mesh address of each VIP family)"
}

test_every_error_reported() {
    say "every error of every file, valid files still reported"
    local two=$XI_TMP/two-errors.yaml
    file_edit "$XI_TMP/bad-prefix.yaml" "$two" "    mesh_ipv4: 10.201.0.11" \
        $'    mesh_ipv4: 10.201.0.11\n    mesh_ip: 10.201.0.12'
    xrun "$XI_BIN" validate "$two"
    expect_rc 1 "a file with two errors"
    expect_line err "$two:$(pos_of "$two" mesh_ip:): unknown key 'mesh_ip' in node (known: mesh_interface, mesh_ipv4, mesh_ipv6, mesh_mtu, name, public_interface, state, weight)"
    expect_line err "$two:$(pos_of "$two" "10.201.0.0/33"): identity 'backends': prefix length '33' is not in 0..32"
    [ "$(wc -l <"$XI_TMP/err")" = 2 ] || fail "expected exactly 2 errors: $(cat "$XI_TMP/err")"

    xrun "$XI_BIN" validate "$EXAMPLE" "${BROKEN[@]}"
    expect_rc 1 "the example and every broken copy at once"
    expect_line out "$(grep -m1 "^$EXAMPLE: valid" <("$XI_BIN" validate "$EXAMPLE"))"
    [ "$(wc -l <"$XI_TMP/err")" = "${#BROKEN[@]}" ] ||
        fail "expected one error per broken copy (${#BROKEN[@]}): $(cat "$XI_TMP/err")"
    local f
    for f in "${BROKEN[@]}"; do
        grep -q "^$f:[0-9]*:[0-9]*: " "$XI_TMP/err" || fail "no file:line:col error for $f"
    done
    pass "one file:line:col error per broken copy, the valid file still reported valid"

    xrun "$XI_BIN" validate "$XI_TMP/missing.yaml"
    expect_rc 1 "a file that does not exist"
    [ "$(cat "$XI_TMP/err")" = "$XI_TMP/missing.yaml: cannot read: No such file or directory" ] ||
        fail "unexpected: $(cat "$XI_TMP/err")"
}

test_json() {
    say "validate --json"
    local bad=$XI_TMP/bad-prefix.yaml pos
    pos=$(pos_of "$bad" "10.201.0.0/33")
    xrun "$XI_BIN" --json validate "$EXAMPLE" "$bad"
    expect_rc 1 "--json validate of a valid and a broken file"
    expect_empty err
    json_check "$XI_TMP/out" "the valid file: valid, no errors, counts and sha256" \
        "j[0]['file']=='$EXAMPLE' and j[0]['valid'] is True and j[0]['errors']==[]
         and j[0]['nodes']>0 and len(j[0]['sha256'])==64"
    json_check "$XI_TMP/out" "the broken file: its error with line and column" \
        "j[1]=={'file': '$bad', 'valid': False, 'errors': [{'line': ${pos%%:*}, 'column': ${pos##*:},
                'message': \"identity 'backends': prefix length '33' is not in 0..32\"}]}"
    xrun "$XI_BIN" validate --json "$XI_TMP/two-errors.yaml"
    expect_rc 1 "--json after the verb, a file with two errors"
    json_check "$XI_TMP/out" "both errors listed, each with line and column" \
        "len(j[0]['errors'])==2 and all(e['line']>0 and e['column']>0 for e in j[0]['errors'])"
    xrun "$XI_BIN" --json validate "$EXAMPLE"
    expect_rc 0 "--json validate of the example"
}

# Issue #10, the command line: hostile arguments get one clear error, never a crash or a hang.
test_hostile_cli() {
    say "hostile arguments"
    # A byte that is not UTF-8 in an error text aborted -j (nlohmann's dump threw in main).
    xrun "$XI_BIN" -j owner -c "$EXAMPLE" $'\xff' 1.2.3.4:1 198.51.100.10:443
    expect_rc 1 "-j owner with a non-UTF-8 protocol"
    json_check "$XI_TMP/out" "the error as JSON, the byte as U+FFFD" \
        "j=={'error': \"protocol '\\ufffd' is not tcp or udp\"}"
    # A FIFO blocked validate forever; /dev/zero was read until bad_alloc.
    mkfifo "$XI_TMP/fifo"
    xrun "$XI_BIN" validate "$XI_TMP/fifo"
    expect_rc 1 "validate of a FIFO"
    expect_line err "$XI_TMP/fifo: not a regular file (a FIFO): give the config file itself"
    xrun "$XI_BIN" validate /dev/zero
    expect_rc 1 "validate of /dev/zero"
    expect_line err "/dev/zero: not a regular file (a character device): give the config file itself"
    # The same exit code for a missing file in every verb that reads one.
    xrun "$XI_BIN" owner -c "$XI_TMP/missing.yaml" tcp 1.2.3.4:1 198.51.100.10:443
    expect_rc 1 "owner with a missing config (as validate)"
    expect_line err "Error: $XI_TMP/missing.yaml: cannot read: No such file or directory"
    xrun "$XI_BIN" -j owner -c "$EXAMPLE" tcp '[::ffff:1.2.3.4]:1' 198.51.100.10:443
    expect_rc 1 "owner with an IPv4-mapped client"
    expect_in out "is an IPv4-mapped IPv6 form"
    # Usage errors: "Error:", -j honoured, an unknown verb names the verbs.
    xrun "$XI_BIN" frobnicate
    expect_rc 2 "an unknown verb"
    grep -qE "^Error: unknown verb 'frobnicate' \(verbs: attach, detach, .*validate, owner" \
        "$XI_TMP/err" || fail "unexpected: $(cat "$XI_TMP/err")"
    xrun "$XI_BIN" -j validate --no-such-flag "$EXAMPLE"
    expect_rc 2 "-j with an unknown flag"
    json_check "$XI_TMP/out" "the usage error as JSON" \
        "j['error'].startswith('The following argument was not expected: --no-such-flag')"
    xrun "$XI_BIN" --bpffs "$XI_TMP" status -i ../../..
    expect_rc 1 "status -i ../../.."
    expect_line err "Error: invalid instance name '../../..' -- use letters, digits, '-', '_' and '.' (at most 63)"
    pass "hostile arguments: one clear error each"
}

main() {
    test_examples_valid
    test_broken_copies
    test_every_error_reported
    test_json
    test_hostile_cli
    say "loader_validate: all passed in $SECONDS s"
}
main
