#!/bin/bash
# What every edge of the steering topology counted at a moment, and the table of it (sourced by
# steering_topo.sh, whose ST_EDGES and st_inst it uses).
# shellcheck disable=SC2154

# st_snapshot: read every edge's `status --json` once (saved for st_status) and load its
# counters into ST_C (one python run for all of them; see st_c) and the table that
# st_counter_table prints. A detached edge gets a stub.
declare -A ST_C
st_snapshot() {
    local e
    for e in "${ST_EDGES[@]}"; do
        status_json "$(st_inst "$e")" >"$XI_TMP/status-$e.json" 2>/dev/null ||
            echo "{\"instance\": \"$(st_inst "$e")\", \"node\": \"$e\", \"state\": \"detached\"}" \
                >"$XI_TMP/status-$e.json"
    done
    ST_C=()
    "$XI_PY" - "$XI_TMP/counters.sh" "$XI_TMP/counters.txt" "${ST_EDGES[@]/#/$XI_TMP/status-}" <<'EOF'
import json, shlex, sys
vars_out, table_out, files = sys.argv[1], sys.argv[2], [f + ".json" for f in sys.argv[3:]]
def c(j, hook, reason):
    return sum(x["packets"] for x in j.get("counters", []) if x["hook"] == hook and x["reason"] == reason)
kv, rows = {}, ["    %-6s %9s %9s %9s %9s %9s %5s  %s" % (
    "edge", "decided", "forward", "tc:redir", "wg:decap", "local", "mss", "per sibling")]
for f in files:
    j = json.load(open(f))
    e = j["node"]
    if j.get("state") == "detached":
        rows.append("    %-6s (steering detached)" % e)
        continue
    # A decision is counted where it is taken: at XDP (hand-off xdp-mark) or at TC ingress
    # (hand-off tc, or a mark that failed); "forward" and "local" add both hooks.
    k = {"xdp_forward": c(j, "public/xdp/ingress", "forward"),
         "tc_forward": c(j, "public/tc/ingress", "forward"),
         "forward": c(j, "public/xdp/ingress", "forward") + c(j, "public/tc/ingress", "forward"),
         "tc_redirect": c(j, "public/tc/ingress", "redirect"),
         "mesh_decap": c(j, "mesh/tc/ingress", "decap"),
         "local": c(j, "public/xdp/ingress", "local") + c(j, "public/tc/ingress", "local"),
         "mark_failed": c(j, "public/xdp/ingress", "mark_failed"),
         "tc_decides": c(j, "public/xdp/ingress", "tc_decides"),
         "xdp_decided": c(j, "public/tc/ingress", "xdp_decided"),
         "mss_clamped": c(j, "public/tc/egress", "mss_clamped"),
         # Second chance (issue #13), public TC ingress and mesh ingress together.
         "sc_out": c(j, "public/tc/ingress", "second_chance_out") + c(j, "mesh/tc/ingress", "second_chance_out"),
         "sc_held": c(j, "public/tc/ingress", "second_chance_held") + c(j, "mesh/tc/ingress", "second_chance_held"),
         "sc_in": c(j, "mesh/tc/ingress", "second_chance_in"),
         # Failover (issue #14): slots of a sibling this edge sees down.
         "fo_out": c(j, "public/tc/ingress", "failover_out") + c(j, "mesh/tc/ingress", "failover_out"),
         "fo_local": c(j, "public/tc/ingress", "failover_local") + c(j, "mesh/tc/ingress", "failover_local"),
         "handoff": ",".join(sorted({a["handoff"] for a in j.get("attachments", []) if "handoff" in a})),
         "drops": " ".join("%s:%s=%d" % (x["hook"], x["reason"], x["packets"])
                           for x in j["counters"] if x["drop"] and x["packets"])}
    for p in j.get("failover", {}).get("siblings", []):
        k["peer/" + p["node"]] = p["state"]
    at_xdp = k["xdp_forward"] or k["xdp_decided"]
    at_tc = k["tc_forward"] or k["tc_decides"] or k["mark_failed"]
    decided_at = "+".join(n for n, on in (("xdp", at_xdp), ("tc", at_tc)) if on)
    sib = []
    for p in j["peers"]:
        k["fwd/" + p["node"]] = p["forwarded_packets"]
        k["decap/" + p["node"]] = p["decapsulated_packets"]
        k["fwd_bytes/" + p["node"]] = p["forwarded_bytes"]
        k["decap_bytes/" + p["node"]] = p["decapsulated_bytes"]
        if p["forwarded_packets"]:
            sib.append("fwd->%s %d" % (p["node"], p["forwarded_packets"]))
        if p["decapsulated_packets"]:
            sib.append("decap<-%s %d" % (p["node"], p["decapsulated_packets"]))
    rows.append("    %-6s %9s %9d %9d %9d %9d %5d  %s%s" % (e, decided_at or "-", k["forward"],
        k["tc_redirect"], k["mesh_decap"], k["local"], k["mss_clamped"], ", ".join(sib) or "-",
        "  DROPS: " + k["drops"] if k["drops"] else ""))
    kv.update({e + "/" + n: v for n, v in k.items()})
with open(vars_out, "w") as f:
    for n, v in kv.items():
        f.write("ST_C[%s]=%s\n" % (n, shlex.quote(str(v))))
with open(table_out, "w") as f:
    f.write("\n".join(rows) + "\n")
EOF
    # shellcheck disable=SC1091
    source "$XI_TMP/counters.sh"
}
# st_status EDGE: the file st_snapshot saved EDGE's status in (a SRC for counter & co.).
st_status() { echo "$XI_TMP/status-$1.json"; }
# st_c EDGE NAME: a counter loaded by st_snapshot: forward and local (decisions, XDP + TC),
# xdp_forward, tc_forward, mark_failed, tc_decides, xdp_decided, tc_redirect, mesh_decap,
# mss_clamped, sc_out, sc_held, sc_in (second chance), fo_out, fo_local (failover),
# peer/SIBLING (its state as this edge's probes see it: up, down, unknown), fwd/SIBLING, decap/SIBLING (packets; 0 if none), fwd_bytes/SIBLING,
# decap_bytes/SIBLING, drops, handoff (text).
st_c() {
    local v=${ST_C[$1/$2]:-}
    case $2 in drops | handoff | peer/*) echo "$v" ;; *) echo "${v:-0}" ;; esac
}
# st_counter_table: the steering counters of every edge, as of the last st_snapshot.
st_counter_table() {
    cat "$XI_TMP/counters.txt"
}
