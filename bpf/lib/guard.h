/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The metadata guard: defence in depth behind the mesh hooks. Mesh ingress marks every packet
 * it passes (skb->mark |= guard_mark). A tunnel the node terminates (VXLAN, GRE, Geneve, IPIP,
 * by the kernel or by anything else in this network namespace) keeps the mark on the inner
 * packet, so the guard, on TC ingress and egress of every other interface, can tell a packet
 * that came in through the mesh from one the node itself sends: marked and bound for a metadata
 * address is dropped, wherever it was unwrapped and whatever the mesh hooks made of the
 * wrapping. Local processes and pods are never marked and keep their metadata service.
 * Ingress covers local delivery (the inner packet enters through the tunnel device); egress
 * covers forwarding, including paths that enter no device (MPLS, OVS, another program's decap).
 */
#ifndef XI_BPF_GUARD_H
#define XI_BPF_GUARD_H

#include "common.h"
#include "events.h"
#include "gen.h"
#include "parse.h"
#include "pull.h"
#include "stats.h"
#include "unparsed.h"

/* Mesh ingress: mark what it passes (nothing when the guard is off: guard_mark 0). */
static __always_inline void xi_guard_mark(struct __sk_buff *skb)
{
    struct xi_gen g;

    if (xi_gen_current(&g) && g.cfg->guard_mark)
        skb->mark |= g.cfg->guard_mark;
}

/* The guard on one hook (TC ingress or egress of an interface other than the mesh one). */
static __always_inline int xi_guard(struct __sk_buff *skb, int l2, __u32 hook)
{
    struct xi_pkt p = {};
    struct xi_ident *dst;
    struct xi_gen g;
    __u32 mark = skb->mark;
    int r;

    /* The common case, a packet nobody marked, costs one load. Passes are not counted: this
     * runs on every interface, and a pass here is not a decision. */
    if (likely(!mark))
        return XI_TC_NEXT;
    if (!xi_gen_current(&g) || !(mark & g.cfg->guard_mark) ||
        !(g.cfg->flags & XI_CFG_METADATA_BLOCK))
        return XI_TC_NEXT;
    r = xi_skb_parse(skb, l2, &p);
    if (r == XI_R_PASS_NOT_IP)
        return XI_TC_NEXT;
    /* What the mesh hooks would not pass unparsed is not passed unparsed here either. */
    if (r == XI_R_DROP_VLAN_DEPTH || r == XI_R_DROP_EXTHDR)
        return xi_unparsed(hook, r);
    if (r) {
        xi_count(hook, r);
        return TC_ACT_SHOT;
    }
    dst = xi_ident_lookup(g.slot, &p.dst);
    if (!dst || !(dst->flags & XI_IDENT_F_METADATA))
        return XI_TC_NEXT;
    if (g.cfg->flags & XI_CFG_GUARD_COUNT) {
        xi_count(hook, XI_R_GUARD_METADATA_SEEN);
        return XI_TC_NEXT;
    }
    xi_event(XI_EV_BUCKET_DENY, hook, XI_R_DROP_MESH_TO_METADATA, &p, XI_ROLE_WORLD, XI_ROLE_WORLD,
             0xffff, XI_NODE_NONE, 0);
    xi_count(hook, XI_R_DROP_MESH_TO_METADATA);
    return TC_ACT_SHOT;
}

#endif /* XI_BPF_GUARD_H */
