#!/usr/bin/env python3
"""Build experimental variants of the datapath objects for `xi-bench ... --compare`.

    tools/xi-bench/variants.py OUT_DIR

Copies bpf/ and maps/ to OUT_DIR/src-<variant>, edits one thing, compiles it with the flags of
cmake/BpfObject.cmake and prints the --compare arguments per section. The variants are the
cost breakdowns and upper bounds of docs/benchmarks.md: "stop" variants return right after one
step of the path (they count a different reason, which xi-bench shows), "free-vip" replaces the
VIP hash lookup by an inlined array lookup (an upper bound for a cheaper VIP table), "coarse"
reads the token-bucket clock with bpf_ktime_get_coarse_ns(). Investigation aids, not part of
the product: each edit is anchored on a line of the current sources and the script stops if an
anchor is gone.
"""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

XDP_STOP = "    return xi_verdict(XDP_PASS, XI_R_PASS_NOT_IP);\n"
MESH_STOP = "    xi_set(v, 0, XI_R_DROP_METADATA);\n    return;\n"

# variant -> (object, [(file, anchor, text, where)]); where: "before", "after" or "replace".
VARIANTS = {
    "xdp-parse": ("xdp_public", [("xdp_public.bpf.c", "    /* Tunnelled packets", XDP_STOP, "before")]),
    "xdp-gen": ("xdp_public", [("xdp_public.bpf.c", "    r = xi_vip_classify(&g, &p, &hash);\n",
                                XDP_STOP, "before")]),
    "xdp-classify": ("xdp_public", [("xdp_public.bpf.c", "    r = xi_vip_classify(&g, &p, &hash);\n",
                                     XDP_STOP, "after")]),
    "xdp-owner": ("xdp_public", [("xdp_public.bpf.c", "    owner = xi_owner(&g, hash);\n",
                                  "    return xi_verdict(XDP_PASS, XI_R_PASS_NOT_IP + (owner & 0));\n",
                                  "after")]),
    # The VIP check as one inlined array lookup plus compares (the two VIPs of the bench config,
    # port 443): what a cheaper VIP table could save at best.
    "xdp-free-vip": ("xdp_public", [("lib/steer.h", "    if (!vips)\n        return NULL;\n",
                                     "    if (!fragment && port == bpf_htons(443) &&\n"
                                     "        ((addr->w[2] == bpf_htonl(0xffff) && addr->w[3] == bpf_htonl(0xc633640a)) ||\n"
                                     "         (addr->w[0] == bpf_htonl(0x20010db8) && addr->w[1] == bpf_htonl(0x01000000) &&\n"
                                     "          addr->w[3] == bpf_htonl(0x10))))\n"
                                     "        return (void *)bpf_map_lookup_elem(&xi_gen_config, &gen_slot);\n"
                                     "    if (!fragment)\n"
                                     "        return NULL;\n",
                                     "after")]),
    "mesh-gen": ("tc_mesh_ingress", [("lib/mesh.h", "    if (xi_is_steering(&p))\n        return xi_mesh_decap(skb, l2, &g, &p);\n",
                                      "    return xi_mesh_verdict(hook, TC_ACT_SHOT, XI_R_DROP_METADATA);\n",
                                      "before")]),
    "mesh-idents": ("tc_mesh_ingress", [("lib/policy.h", "    v->src_role = si ? si->role : XI_ROLE_WORLD;\n",
                                         MESH_STOP, "before")]),
    "mesh-ct": ("tc_mesh_ingress", [("lib/policy.h", "        ct = xi_ct_lookup(cfg, p);\n",
                                     MESH_STOP, "after")]),
    "mesh-rules": ("tc_mesh_ingress", [("lib/policy.h", "    rule = xi_rule_match(g->slot, v->src_role, v->dst_role, p);\n",
                                        MESH_STOP, "after")]),
    "mesh-ctcreate": ("tc_mesh_ingress", [("lib/policy.h", "        xi_ct_create(p, v->rule_slot);\n",
                                           MESH_STOP, "after")]),
    "pubin-nodes": ("tc_public_ingress", [("lib/encap.h", "    if (xi_strip_vlans(skb))\n",
                                           "    return TC_ACT_SHOT;\n", "before")]),
    "pubin-parse": ("tc_public_ingress", [("lib/encap.h", "    flags |= ipv6 ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV6",
                                           "    return TC_ACT_SHOT;\n", "before")]),
    "pubin-adjust": ("tc_public_ingress", [("lib/encap.h", "    if (ipv6) {\n        struct ipv6hdr o = {};\n",
                                            "    return TC_ACT_SHOT;\n", "before")]),
    "pubin-store": ("tc_public_ingress", [("lib/encap.h", "    xi_count_node(owner, XI_NODE_FWD_PACKETS, skb->len);\n",
                                           "    return TC_ACT_SHOT;\n", "before")]),
    "pubin-event": ("tc_public_ingress", [("lib/encap.h", "    if (bpf_redirect(cfg->mesh_ifindex, 0) != TC_ACT_REDIRECT)\n",
                                           "    return TC_ACT_SHOT;\n", "before")]),
    "pubin-coarse": ("tc_public_ingress", [("lib/events.h", "    now = bpf_ktime_get_ns();",
                                            "    now = bpf_ktime_get_coarse_ns();", "replace")]),
}

SECTIONS = {"xdp": "xdp", "mesh": "policy", "pubin": "live"}


def edit(src, file, anchor, text, where):
    path = os.path.join(src, "bpf", file)
    with open(path) as f:
        s = f.read()
    if s.count(anchor) != 1:
        sys.exit(f"variants.py: anchor not found once in bpf/{file}: {anchor!r}")
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
    for name, (obj, edits) in VARIANTS.items():
        src = os.path.join(out, "src-" + name)
        shutil.rmtree(src, ignore_errors=True)
        for d in ("bpf", "maps"):
            shutil.copytree(os.path.join(ROOT, d), os.path.join(src, d))
        for e in edits:
            edit(src, *e)
        dst = os.path.join(out, name + ".bpf.o")
        subprocess.run(["clang", "-target", "bpf", "-mcpu=v3", "-O2", "-g", "-Wall", "-Wextra",
                        "-Werror", "-I" + os.path.join(src, "bpf"), "-I" + os.path.join(src, "maps"),
                        "-I/usr/include/" + arch, "-c", os.path.join(src, "bpf", obj + ".bpf.c"),
                        "-o", dst], check=True)
        section = SECTIONS[name.split("-")[0]]
        args.setdefault(section, []).append(f"--compare {name}={dst}")
    for section, a in args.items():
        print(f"xi-bench {section} {' '.join(a)}")


if __name__ == "__main__":
    main()
