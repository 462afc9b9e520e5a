// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP on the public interface: decide who owns each VIP flow.
 *
 * Owner is this edge -> XDP_PASS. Owner is a sibling -> XDP_PASS with a struct xi_xdp_meta in
 * the metadata area; tc_public_ingress encapsulates marked packets and redirects them into the
 * mesh (docs/steering.md explains the split). Everything that is not a VIP flow passes
 * untouched. Malformed IP packets are dropped here: the stack would drop them too.
 */
#include "lib/common.h"
#include "lib/parse.h"
#include "lib/stats.h"
#include "lib/steer.h"

static __always_inline int xi_verdict(int action, __u32 reason)
{
    xi_count(XI_HOOK_XDP_PUBLIC, reason);
    return action;
}

static __always_inline int xi_mark_forward(struct xdp_md *ctx, const struct xi_gen *g, __u32 owner,
                                           int ipv6)
{
    void *data, *meta;
    struct xi_xdp_meta *m;

    if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
        return -1;
    data = (void *)(long)ctx->data;
    meta = (void *)(long)ctx->data_meta;
    m = meta;
    if ((void *)(m + 1) > data)
        return -1;
    m->magic = XI_META_MAGIC;
    m->owner = owner;
    m->gen = g->slot;
    m->flags = ipv6 ? XI_META_F_IPV6 : 0;
    return 0;
}

SEC("xdp")
int xi_xdp_public(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct xi_pkt p = {};
    struct xi_gen g;
    __u32 l3_off, owner;
    __be16 proto;
    __u64 hash = 0;
    int r;

    r = xi_parse_eth(data, end, &l3_off, &proto);
    if (r)
        return xi_verdict(XDP_DROP, r);
    if (proto == bpf_htons(ETH_P_IP))
        r = xi_parse_ipv4(data, end, l3_off, &p);
    else if (proto == bpf_htons(ETH_P_IPV6))
        r = xi_parse_ipv6(data, end, l3_off, &p);
    else
        return xi_verdict(XDP_PASS, XI_R_PASS_NOT_IP);
    if (r == XI_R_DROP_EXTHDR)
        return xi_verdict(XDP_PASS, XI_R_PASS_EXTHDR);
    if (r)
        return xi_verdict(XDP_DROP, r);

    /* Tunnelled packets from the internet are never steered (nor injected into the mesh). */
    if (p.proto == IPPROTO_IPIP || p.proto == IPPROTO_IPV6)
        return xi_verdict(XDP_PASS, XI_R_PUBLIC_ENCAP);

    if (!xi_gen_current(&g))
        return xi_verdict(XDP_PASS, XI_R_NO_TABLE);
    if (!(g.cfg->flags & XI_CFG_SELF_EDGE))
        return xi_verdict(XDP_PASS, XI_R_PASS_NOT_STEERED);

    r = xi_vip_classify(&g, &p, &hash);
    if (r == XI_R_PASS_NOT_VIP)
        return xi_verdict(XDP_PASS, r);

    owner = xi_owner(&g, hash);
    if (owner == XI_NODE_NONE)
        return xi_verdict(XDP_PASS, XI_R_NO_TABLE);
    if (owner == g.cfg->self_node)
        return xi_verdict(XDP_PASS, r);
    if (xi_mark_forward(ctx, &g, owner, p.family == 6))
        return xi_verdict(XDP_PASS, XI_R_LOCAL_FALLBACK);
    return xi_verdict(XDP_PASS, r == XI_R_LOCAL ? XI_R_FORWARD : r);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
