#!/usr/bin/env python3
"""Build experimental variants of the datapath objects for `xi-bench ... --compare`.

    tools/xi-bench/variants.py OUT_DIR

Copies bpf/ and maps/ to OUT_DIR/src-<variant>, edits one thing, compiles it with the flags of
cmake/BpfObject.cmake and prints the --compare arguments per section. The variants are the
cost breakdowns of docs/benchmarks.md: cut-short variants return right after one step of the
path (they count a different reason, which xi-bench shows): steer-* cut the decision
(bpf/lib/steer.h, built as both xdp_public and tc_public_ingress), pubin-* the encapsulation
(bpf/lib/encap.h); pubin-noevent drops the steering event, pubin-coarse reads the event rate
limiter's clock with bpf_ktime_get_coarse_ns(), pubin-nodiv replaces its 64-bit division by a
multiplication (what a cost precomputed by the loader would save), pubin-cheapev does both;
mesh-* cut the mesh policy. Investigation aids, not part of the product: each edit is anchored
on a line of the current sources and the script stops if an anchor is gone.
"""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

STEER_STOP = "    return XI_R_PASS_NOT_IP;\n"
MESH_STOP = "    xi_set(v, 0, XI_R_DROP_METADATA);\n    return;\n"
ENCAP_STOP = "    return TC_ACT_SHOT;\n"
# The decision (bpf/lib/steer.h) is the same code in XDP (xdp-mark) and TC (tc hand-off): its
# cut-short variants are built as both objects.
STEER = ["xdp_public", "tc_public_ingress"]
PUBIN = ["tc_public_ingress"]

# variant -> (objects, [(file, anchor, text, where)]); where: "before", "after" or "replace".
VARIANTS = {
    # TC, tc hand-off: up to the decision (mark check, header pull), then out uncounted: the
    # decision is cut right after its header pull, before the first parse, and the caller
    # passes the packet.
    "pubin-entry": (PUBIN, [("tc_public_ingress.bpf.c", "    xi_pull_headers(skb);\n",
                             "    return ~0U; /* variant: stop after the header pull */\n", "after"),
                            ("tc_public_ingress.bpf.c", "        r = xi_pub_in_decide(skb, &p, &g, &owner);\n",
                             "        if (r == ~0U)\n            return TC_ACT_OK;\n", "after")]),
    # The decision, step by step (return "not IP": the packet passes unsteered).
    "steer-parse": (STEER, [("lib/steer.h", "    /* Tunnelled packets", STEER_STOP, "before")]),
    "steer-gen": (STEER, [("lib/steer.h", "    r = xi_vip_classify(g, p, &hash);\n", STEER_STOP, "before")]),
    "steer-classify": (STEER, [("lib/steer.h", "    r = xi_vip_classify(g, p, &hash);\n", STEER_STOP, "after")]),
    "steer-owner": (STEER, [("lib/steer.h", "    o = xi_owner(g, hash, prev);\n",
                             "    return XI_R_PASS_NOT_IP + (o & 0);\n", "after")]),
    # The encapsulation (bpf/lib/encap.h), step by step (dropped before the redirect).
    "pubin-nodes": (PUBIN, [("lib/encap.h", "    /* Parsed already and untagged", ENCAP_STOP, "before")]),
    "pubin-parse": (PUBIN, [("lib/encap.h", "    /* Decided: over the mesh MTU", ENCAP_STOP, "before")]),
    "pubin-fit": (PUBIN, [("lib/encap.h", "    flags |= ipv6 ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV6", ENCAP_STOP, "before")]),
    "pubin-adjust": (PUBIN, [("lib/encap.h", "    err = xi_write_outer(skb, ETH_HLEN,", ENCAP_STOP, "before")]),
    "pubin-store": (PUBIN, [("lib/encap.h", "    xi_count_node(owner, XI_NODE_FWD_PACKETS,", ENCAP_STOP, "before")]),
    "pubin-event": (PUBIN, [("lib/encap.h", "    if (bpf_redirect(cfg->mesh_ifindex, 0) != TC_ACT_REDIRECT)", ENCAP_STOP, "before")]),
    # The steering event's rate limiter: without it, on the coarse clock, without the division.
    "pubin-noevent": (PUBIN, [("lib/encap.h", "    xi_event(", "    if (0) /* variant: no event */\n        xi_event(",
                               "replace")]),
    "pubin-coarse": (PUBIN, [("lib/events.h", "    now = bpf_ktime_get_ns();",
                              "    now = bpf_ktime_get_coarse_ns();", "replace")]),
    # A multiplication standing in for a cost the loader would precompute (same value at the
    # default rate of 100 events/s).
    "pubin-nodiv": (PUBIN, [("lib/events.h", "    cost = 1000000000ULL / cfg->events_per_sec;",
                             "    cost = 100000ULL * cfg->events_per_sec;", "replace")]),
    "pubin-cheapev": (PUBIN, [("lib/events.h", "    now = bpf_ktime_get_ns();",
                               "    now = bpf_ktime_get_coarse_ns();", "replace"),
                              ("lib/events.h", "    cost = 1000000000ULL / cfg->events_per_sec;",
                               "    cost = 100000ULL * cfg->events_per_sec;", "replace")]),
    "mesh-gen": (["tc_mesh_ingress"], [("lib/mesh.h", "    if (xi_is_steering(&p))\n        return xi_mesh_decap(skb, l2, &g, &p);\n",
                                        "    return xi_mesh_verdict(hook, TC_ACT_SHOT, XI_R_DROP_METADATA);\n",
                                        "before")]),
    "mesh-idents": (["tc_mesh_ingress"], [("lib/policy.h", "    v->src_role = si ? si->role : XI_ROLE_WORLD;\n",
                                           MESH_STOP, "before")]),
    "mesh-ct": (["tc_mesh_ingress"], [("lib/policy.h", "        ct = xi_ct_lookup(cfg, p, ingress);\n",
                                       MESH_STOP, "after")]),
    "mesh-rules": (["tc_mesh_ingress"], [("lib/policy.h", "    rule = xi_rule_match(g->slot, v->src_role, v->dst_role, p);\n",
                                          MESH_STOP, "after")]),
    "mesh-ctcreate": (["tc_mesh_ingress"], [("lib/policy.h", "        xi_ct_create(p, v->rule_slot, ingress);\n",
                                             MESH_STOP, "after")]),
}

# Variants of code that may be gone (the token bucket's clock and division): skipped, with a
# note, when their anchor is.
OPTIONAL = {"pubin-coarse", "pubin-nodiv", "pubin-cheapev"}

# object -> the xi-bench sections that take it with --compare
SECTIONS = {"xdp_public": ["xdp"], "tc_public_ingress": ["live", "tc"], "tc_mesh_ingress": ["policy"]}


class AnchorGone(Exception):
    pass


def edit(src, file, anchor, text, where):
    path = os.path.join(src, "bpf", file)
    with open(path) as f:
        s = f.read()
    if s.count(anchor) != 1:
        raise AnchorGone(f"anchor not found once in bpf/{file}: {anchor!r}")
    if where == "before":
        s = s.replace(anchor, text + anchor)
    elif where == "after":
        s = s.replace(anchor, anchor + text)
    else:  # "replace": the anchor by the text
        s = s.replace(anchor, text)
    with open(path, "w") as f:
        f.write(s)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    arch = subprocess.run(["gcc", "-dumpmachine"], capture_output=True, text=True).stdout.strip()
    args = {}
    for name, (objs, edits) in VARIANTS.items():
        src = os.path.join(out, "src-" + name)
        shutil.rmtree(src, ignore_errors=True)
        for d in ("bpf", "maps"):
            shutil.copytree(os.path.join(ROOT, d), os.path.join(src, d))
        try:
            for e in edits:
                edit(src, *e)
        except AnchorGone as e:
            shutil.rmtree(src, ignore_errors=True)
            if name not in OPTIONAL:
                sys.exit(f"variants.py: {name}: {e}")
            print(f"variants.py: {name} skipped: {e} (the code it varies is gone)", file=sys.stderr)
            continue
        for obj in objs:
            dst = os.path.join(out, name + "." + obj + ".bpf.o")
            subprocess.run(["clang", "-target", "bpf", "-mcpu=v3", "-O2", "-g", "-Wall", "-Wextra",
                            "-Werror", "-I" + os.path.join(src, "bpf"), "-I" + os.path.join(src, "maps"),
                            "-I/usr/include/" + arch, "-c", os.path.join(src, "bpf", obj + ".bpf.c"),
                            "-o", dst], check=True)
            for section in SECTIONS[obj]:
                args.setdefault(section, []).append(f"--compare {name}={dst}")
    for section, a in args.items():
        print(f"xi-bench {section} {' '.join(a)}")


if __name__ == "__main__":
    main()
