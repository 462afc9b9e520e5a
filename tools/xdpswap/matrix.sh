#!/bin/bash
# tools/xdpswap/matrix.sh -- run repro.sh in VMs, one at a time, and append one line per VM to
# a TSV (default results.tsv here):
#   kernel cpus tcg_thread method traffic swaps_asked rc result swaps_done vm_wall_s crash_line
#
#   matrix.sh [-o TSV] [-r RUNS] [-n SWAPS] [-s SECS] KERNEL CPUS THREAD METHOD TRAFFIC
#     THREAD: multi|single (VMTEST_TCG_THREAD), METHOD: link|nl|detach|ip, TRAFFIC: see repro.sh
# A run stops at SWAPS swaps, SECS seconds of swapping, or a kernel crash (vmtest/run exit 125).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$here/results.tsv runs=1 swaps=500 secs=90
while getopts o:r:n:s: o; do
    case $o in o) out=$OPTARG ;; r) runs=$OPTARG ;; n) swaps=$OPTARG ;; s) secs=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
(($# == 5)) || { echo "usage: matrix.sh [-o TSV] [-r RUNS] [-n SWAPS] [-s SECS] KERNEL CPUS THREAD METHOD TRAFFIC" >&2; exit 2; }
k=$1 cpus=$2 thread=$3 method=$4 traffic=$5
logdir=$here/logs
mkdir -p "$logdir"
cd "$root"
for ((r = 1; r <= runs; r++)); do
    log=$logdir/$k-smp$cpus-$thread-$method-$traffic-$(date +%H%M%S).log
    t0=$(date +%s.%N)
    set +e
    VMTEST_TCG_THREAD=$thread nice -n 10 vmtest/run -k "$k" -c "$cpus" -t $((secs + 120)) -n 60 -- \
        tools/xdpswap/repro.sh -m "$method" -n "$swaps" -t "$secs" -T "$traffic" > "$log" 2>&1
    rc=$?
    set -e
    t1=$(date +%s.%N)
    done_n=$(sed -n 's/^done .*swaps=\([0-9]*\).*/\1/p' "$log" | tail -1)
    [[ -n $done_n ]] || done_n=$(sed -n 's/^swaps \([0-9]*\) .*/\1/p' "$log" | tail -1)
    [[ -n $done_n ]] || done_n=0
    case $rc in 0) res=ok ;; 125) res=CRASH ;; 124) res=TIMEOUT ;; *) res=FAIL ;; esac
    crash=$(grep -a -m1 -oE '(Oops|BUG|general protection|Kernel panic)[^|]*' "$log" | head -1 || true)
    rip=$(grep -a -m1 -oE 'RIP: 0010:[^ ]*' "$log" | head -1 || true)
    kver=$(sed -n 's/^kernel \([^ ]*\) .*/\1/p' "$log" | head -1)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\n' "${kver:-$k}" "$cpus" "$thread" "$method" \
        "$traffic" "$swaps" "$rc" "$res" "$done_n" "$(echo "$t1 - $t0" | bc)" "$crash ${rip#RIP: 0010:}" | tee -a "$out"
done
