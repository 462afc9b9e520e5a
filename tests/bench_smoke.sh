#!/bin/bash
# tools/bench --quick as a test: every benchmark section still runs, and every measured run took
# the path it claims (xi-bench checks the datapath's counters after each run). No timing is
# asserted anywhere. Exit 77 (skip) without CAP_BPF/CAP_NET_ADMIN; tools/run-tests reports it.
#
# Hand-off modes: the steering sections measure every mode this kernel runs (xdp-mark only where
# XDP may call bpf_xdp_adjust_meta, decided by loader/kernel/handoff.h's probe) and print which ones
# they measured; this test shows those lines. Where the kernel allows xdp-mark, the xdp and live
# sections run once more as on a kernel that refuses it (XI_TEST_XDP_META_REFUSED=1 makes the
# probe fail for real), so the tc-only path of the benchmark is exercised here too.
set -euo pipefail
build=${1:?usage: bench_smoke.sh BUILD_DIR}
eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
if ! (((0x$eff >> 12) & 1)) || ! { (((0x$eff >> 39) & 1)) || (((0x$eff >> 21) & 1)); }; then
    echo "needs CAP_BPF and CAP_NET_ADMIN"
    exit 77
fi
((EUID == 0)) || exit 77
out=$(mktemp)
tag=xibench-smoke-$$
cleanup() {
    rm -f "$out" "$out.refused"
    ip netns del "$tag" 2>/dev/null || true
    local d
    for d in /sys/fs/bpf/xdp-ingress/"$tag"-*; do
        [[ -d $d ]] || continue
        find "$d" -mindepth 1 -maxdepth 1 -exec rm -f {} + 2>/dev/null || true
        rmdir "$d" 2>/dev/null || true
    done
}
trap cleanup EXIT
"$(dirname "$0")/../tools/bench" "$build" --quick >"$out"
# One table per section, and the trie batch check.
for title in "XDP steering cost per hand-off mode" "TC public ingress, tc hand-off" \
    "Mesh policy verdict cost" "XDP -> TC with live frames, per hand-off mode" \
    "Live frames -> DEVMAP" "BPF time per MB of a bulk TCP transfer" "Loading a large config" \
    "Attach and reload of the large config" "serve at idle" "/metrics scrapes"; do
    grep -q "### $title" "$out" || {
        echo "no '$title' table"
        cat "$out"
        exit 1
    }
done
for section in xdp live rate bulk; do
    grep -q "^Hand-off modes measured ($section): " "$out" || {
        echo "section $section does not say which hand-off modes it measured"
        cat "$out"
        exit 1
    }
done
grep "^Hand-off modes measured" "$out"
echo "every section ran"

if grep -q "^Hand-off modes measured (xdp): tc, xdp-mark" "$out"; then
    bench=$build/tools/xi-bench
    XI_TEST_XDP_META_REFUSED=1 "$bench" --tag "$tag" --rounds 1 --repeat 100000 xdp >"$out.refused"
    XI_TEST_XDP_META_REFUSED=1 "$bench" --tag "$tag" --rounds 1 live --packets 2000 >>"$out.refused"
    for section in xdp live; do
        grep -q "^Hand-off modes measured ($section): tc only. xdp-mark NOT measured" \
            "$out.refused" || {
            echo "with the helper refused, section $section did not run tc only"
            cat "$out.refused"
            exit 1
        }
    done
    grep "^Hand-off modes measured" "$out.refused" | sed 's/^/(helper refused, simulated) /'
    echo "the tc-only path ran (as on a kernel that refuses bpf_xdp_adjust_meta)"
fi
