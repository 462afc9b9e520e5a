#!/bin/bash
# tools/bench --quick as a test: every benchmark section still runs, and every measured run took
# the path it claims (xi-bench checks the datapath's counters after each run). No timing is
# asserted anywhere. Exit 77 (skip) without CAP_BPF/CAP_NET_ADMIN; tools/run-tests reports it.
set -euo pipefail
build=${1:?usage: bench_smoke.sh BUILD_DIR}
eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
if ! (((0x$eff >> 12) & 1)) || ! { (((0x$eff >> 39) & 1)) || (((0x$eff >> 21) & 1)); }; then
    echo "needs CAP_BPF and CAP_NET_ADMIN"
    exit 77
fi
((EUID == 0)) || exit 77
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$(dirname "$0")/../tools/bench" "$build" --quick >"$out"
# One table per section, and the trie batch check.
for title in "XDP steering cost" "Mesh policy verdict cost" "XDP -> TC with live frames" \
    "Live frames -> DEVMAP" "Loading a large config" "Attach and reload of the large config" \
    "serve at idle" "/metrics scrapes"; do
    grep -q "### $title" "$out" || {
        echo "no '$title' table"
        cat "$out"
        exit 1
    }
done
echo "every section ran"
