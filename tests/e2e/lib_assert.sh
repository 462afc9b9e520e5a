#!/bin/bash
# The e2e tests' assertions (sourced by lib.sh, which defines say/pass/fail and XI_TMP): run a
# command and check its exit code and output, check JSON, edit and locate lines in files.
# shellcheck disable=SC2154 # RC, XI_TMP and XI_PY are set by lib.sh and xrun

# --- Assertions on commands and their output ------------------------------------------------

# xrun CMD...: run CMD bounded (30 s: the loader's lock waits up to 30 s) without stopping the
# test on failure; stdout in $XI_TMP/out, stderr in $XI_TMP/err, exit code in $RC.
RC=0
# One verb may take 30 s on the host; under a VM's TCG emulation loading the edge objects alone
# costs 2.5-12 s each (verifier), more beside a running transfer (seen: 6.1's attach --replace
# in upgrade_replace past 30 s), so there the limit grows by XI_VM_BUDGET_FACTOR like the budget.
if [ "${VMTEST_GUEST:-}" = 1 ]; then
    XI_XRUN_TIMEOUT=${XI_XRUN_TIMEOUT:-$((30 * ${XI_VM_BUDGET_FACTOR:-6}))}
else
    XI_XRUN_TIMEOUT=${XI_XRUN_TIMEOUT:-30}
fi
xrun() {
    set +e
    timeout "$XI_XRUN_TIMEOUT" "$@" >"$XI_TMP/out" 2>"$XI_TMP/err"
    RC=$?
    set -e
}

# show_output: what the last xrun printed, for a failure message.
show_output() {
    printf '    stdout: %s\n' "$(head -c 2000 "$XI_TMP/out")" >&2
    printf '    stderr: %s\n' "$(head -c 2000 "$XI_TMP/err")" >&2
}

# expect_rc N WHAT: the last xrun exited N.
expect_rc() {
    if [ "$RC" != "$1" ]; then
        show_output
        fail "$2: exit code $RC, expected $1"
    fi
    pass "$2 (exit $1)"
}

# expect_line out|err LINE: the last xrun printed exactly this line (among others).
expect_line() {
    if ! grep -qxF -- "$2" "$XI_TMP/$1"; then
        show_output
        fail "expected this line on $1: $2"
    fi
}

# expect_in out|err TEXT: the last xrun printed TEXT somewhere.
expect_in() {
    if ! grep -qF -- "$2" "$XI_TMP/$1"; then
        show_output
        fail "expected on $1: $2"
    fi
}

# expect_empty out|err: the last xrun printed nothing there.
expect_empty() {
    if [ -s "$XI_TMP/$1" ]; then
        show_output
        fail "expected nothing on $1"
    fi
}

# json_check FILE DESCRIPTION PYTHON_EXPR: the expression, with j = the JSON document in FILE,
# is true. Prints the document when it is not.
json_check() {
    if ! "$XI_PY" -c 'import json,sys
j=json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$1" "$3"; then
        printf '    json: %s\n' "$(head -c 3000 "$1")" >&2
        fail "$2"
    fi
    pass "$2"
}

# json_get FILE PYTHON_EXPR: print the expression's value (lists space-separated).
json_get() {
    "$XI_PY" -c 'import json,sys
j=json.load(open(sys.argv[1]))
v=eval("(" + sys.argv[2] + ")")
print(" ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)' "$1" "$2"
}

# --- Files ------------------------------------------------------------------------------------

# file_edit SRC DST OLD NEW [TEXT [MARK]]: DST = SRC with the first OLD replaced by NEW (which
# must occur); with TEXT, also prints pos_of DST TEXT [MARK] (one process instead of two).
file_edit() {
    "$XI_PY" -c 'import sys
s=open(sys.argv[1]).read()
if sys.argv[3] not in s: sys.exit("file_edit: %r not in %s" % (sys.argv[3], sys.argv[1]))
s=s.replace(sys.argv[3], sys.argv[4], 1)
open(sys.argv[2],"w").write(s)
if len(sys.argv) > 5:
    i=s.find(sys.argv[5])
    if i < 0: sys.exit("file_edit: %r not in %s" % (sys.argv[5], sys.argv[2]))
    if len(sys.argv) > 6: i += sys.argv[5].index(sys.argv[6])
    print("%d:%d" % (s.count("\n", 0, i) + 1, i - (s.rfind("\n", 0, i) + 1) + 1))' "$@"
}

# pos_of FILE TEXT [MARK]: "LINE:COL" (1-based, as error messages give positions) of the first
# occurrence of TEXT, or of MARK inside that occurrence (TEXT gives the context).
pos_of() {
    "$XI_PY" -c 'import sys
s=open(sys.argv[1]).read(); i=s.find(sys.argv[2])
if i < 0: sys.exit("pos_of: %r not in %s" % (sys.argv[2], sys.argv[1]))
if len(sys.argv) > 3: i += sys.argv[2].index(sys.argv[3])
print("%d:%d" % (s.count("\n", 0, i) + 1, i - (s.rfind("\n", 0, i) + 1) + 1))' "$@"
}
