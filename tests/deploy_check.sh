#!/bin/bash
# deploy/ checked with the tools that consume it (the structure and the metric names are
# checked by tests/unit/deploy_test.cpp):
#   promtool        alerts.yaml, and every PromQL expression of the Grafana dashboard
#   systemd-analyze verify on the unit (skipped, saying so, when systemd-analyze is missing)
#   exabgp --test   on deploy/bgp/exabgp.conf (skipped when exabgp is not installed)
#   kustomize       deploy/kubernetes renders (skipped when no kubectl/kustomize)
#   shell           the BGP hook scripts parse, and the watcher's rise/fall hysteresis works
# Unprivileged. Exit 0 when every check that could run passed.
set -uo pipefail
src=${XI_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${XI_BIN:-$src/build/loader/xdp-ingress}
deploy=$src/deploy
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0 passed=0 skipped=0
ok() {
    echo "  ok   $*"
    passed=$((passed + 1))
}
bad() {
    echo "  FAIL $*"
    failed=$((failed + 1))
}
skip() {
    echo "  skip $*"
    skipped=$((skipped + 1))
}

# -- promtool: the alert rules, then the dashboard's queries as recording rules
if ! command -v promtool >/dev/null; then
    bad "promtool is missing (Debian package prometheus, in Makefile DEPS)"
else
    if out=$(promtool check rules "$deploy/prometheus/alerts.yaml" 2>&1); then
        ok "promtool check rules alerts.yaml: $(grep -o 'SUCCESS.*' <<<"$out")"
    else
        bad "promtool check rules alerts.yaml:"$'\n'"$out"
    fi
    # Grafana variables replaced by what Grafana would send.
    python3 - "$deploy/grafana/xdp-ingress.json" >"$tmp/dashboard-rules.yaml" <<'PY'
import json, sys
exprs = []
def walk(j):
    if isinstance(j, dict):
        for k, v in j.items():
            if k == "expr" and isinstance(v, str):
                exprs.append(v)
            else:
                walk(v)
    elif isinstance(j, list):
        for v in j:
            walk(v)
walk(json.load(open(sys.argv[1])))
print("groups:\n  - name: dashboard\n    rules:")
for i, e in enumerate(exprs):
    e = e.replace("$__rate_interval", "5m").replace("$instance", ".*")
    print(f"      - record: dashboard:expr{i}\n        expr: {json.dumps(e)}")
PY
    n=$(grep -c 'record:' "$tmp/dashboard-rules.yaml")
    if ((n == 0)); then
        bad "no PromQL found in the dashboard"
    elif out=$(promtool check rules "$tmp/dashboard-rules.yaml" 2>&1); then
        ok "promtool parses all $n dashboard queries"
    else
        bad "dashboard PromQL:"$'\n'"$out"
    fi
fi

# -- systemd-analyze verify: ExecStart must exist, so point it at the built binary. Warnings
# (unknown keys, bad values) do not change its exit code: any output is a failure.
if ! command -v systemd-analyze >/dev/null; then
    skip "systemd-analyze not installed: unit not verified (the other checks still ran)"
elif [ ! -x "$bin" ]; then
    bad "no built binary at $bin for systemd-analyze verify"
else
    sed "s|/usr/local/sbin/xdp-ingress|$bin|g" "$deploy/systemd/xdp-ingress.service" \
        >"$tmp/xdp-ingress.service"
    sed "s|/usr/local/libexec/xdp-ingress/|$deploy/bgp/|g" \
        "$deploy/bgp/xdp-ingress-bgp-watch.service" >"$tmp/xdp-ingress-bgp-watch.service"
    for u in xdp-ingress.service xdp-ingress-bgp-watch.service; do
        out=$(cd "$tmp" && systemd-analyze verify --man=no "$tmp/$u" 2>&1)
        rc=$?
        if ((rc == 0)) && [ -z "$out" ]; then
            ok "systemd-analyze verify $u"
        else
            bad "systemd-analyze verify $u (rc $rc):"$'\n'"$out"
        fi
    done
fi

# -- exabgp
if command -v exabgp >/dev/null || [ -x /usr/sbin/exabgp ]; then
    exa=$(command -v exabgp || echo /usr/sbin/exabgp)
    if out=$(cd "$tmp" && "$exa" --test "$deploy/bgp/exabgp.conf" 2>&1); then
        ok "exabgp --test exabgp.conf"
    else
        bad "exabgp --test exabgp.conf:"$'\n'"$(tail -20 <<<"$out")"
    fi
else
    skip "exabgp not installed: exabgp.conf not validated"
fi

# -- kustomize
if command -v kustomize >/dev/null; then
    render=(kustomize build)
elif command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then
    render=(kubectl kustomize)
else
    render=()
fi
if ((${#render[@]})); then
    if out=$("${render[@]}" "$deploy/kubernetes" 2>&1) &&
        grep -q '^kind: DaemonSet' <<<"$out" && grep -q '^kind: ConfigMap' <<<"$out"; then
        ok "${render[*]} deploy/kubernetes renders"
    else
        bad "${render[*]} deploy/kubernetes:"$'\n'"$(tail -20 <<<"$out")"
    fi
else
    skip "no kustomize or kubectl: kustomization not rendered"
fi

# -- shell scripts
for s in "$deploy"/bgp/xdp-ingress-bgp-check "$deploy"/bgp/xdp-ingress-bgp-watch; do
    if bash -n "$s" 2>"$tmp/err" && [ -x "$s" ]; then
        ok "bash -n $(basename "$s")"
    else
        bad "$(basename "$s") does not parse or is not executable: $(cat "$tmp/err")"
    fi
done

# The watcher: health sequence 1 1 1 0 0 1 ... with rise 3 / fall 2 must give
# withdraw (start), announce after the 3rd good check, withdraw after the 2nd bad one.
printf '%s\n' 0 0 0 1 1 0 0 0 >"$tmp/seq" # exit codes of successive checks
cat >"$tmp/check" <<EOF
#!/bin/bash
n=\$(cat "$tmp/n" 2>/dev/null || echo 0)
echo \$((n + 1)) >"$tmp/n"
exit \$(sed -n "\$((n + 1))p" "$tmp/seq")
EOF
chmod +x "$tmp/check"
XI_CHECK=$tmp/check XI_INTERVAL=0 XI_RISE=3 XI_FALL=2 XI_MAX_CHECKS=8 \
    XI_ANNOUNCE="echo announce >>$tmp/actions" XI_WITHDRAW="echo withdraw >>$tmp/actions" \
    "$deploy/bgp/xdp-ingress-bgp-watch" >"$tmp/watch.log" 2>&1
got=$(tr '\n' ' ' <"$tmp/actions" 2>/dev/null)
if [ "$got" = "withdraw announce withdraw announce " ]; then
    ok "bgp watcher hysteresis: $got"
else
    bad "bgp watcher actions '$got', expected 'withdraw announce withdraw announce':"$'\n'"$(cat "$tmp/watch.log")"
fi

echo "deploy_check: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
