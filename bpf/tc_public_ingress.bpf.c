// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * TC ingress on the public interface: where steered packets enter the mesh.
 *
 * A packet our XDP program marked (hand-off "xdp-mark") is acted on without a second look:
 * encapsulated for the owner it names, or passed. Every other packet - hand-off "tc", a driver
 * that gave XDP no metadata room, XDP not attached - is decided here with the same code XDP
 * uses (bpf/lib/steer.h). Only packets this program encapsulates itself are redirected into the
 * mesh: tunnelled traffic from the internet is never injected, whatever it looks like.
 */
#include "lib/common.h"
#include "lib/encap.h"
#include "lib/stats.h"
#include "lib/steer.h"

static __always_inline int xi_pub_in_verdict(int action, __u32 reason)
{
    xi_count(XI_HOOK_TC_PUBLIC_INGRESS, reason);
    return action;
}

/* No usable mark: the whole decision, then encapsulate and redirect what a sibling owns. */
static __always_inline int xi_pub_in_decide(struct __sk_buff *skb)
{
    struct xi_pkt p = {};
    struct xi_gen g = {};
    void *data, *end;
    __u32 l3_off, owner, r;
    __be16 proto;

    /* Reload skb->data below instead of reusing the mark check's copy: clang keeps that copy
     * as a zero-extended scalar, which the verifier no longer knows as a packet pointer. */
    asm volatile("" ::: "memory");
    xi_pull_headers(skb);
    data = (void *)(long)skb->data;
    end = (void *)(long)skb->data_end;
    /* A tag the stack moved into skb->vlan_tci counts against the tags XDP would parse. */
    r = xi_parse_eth_tags(data, end, XI_MAX_VLAN - !!skb->vlan_present, &l3_off, &proto);
    if (!r)
        r = xi_steer_decide(data, end, l3_off, proto, &p, &g, &owner);
    if (r == XI_R_DROP_TRUNCATED && xi_pull_more(skb)) {
        /* Headers beyond the first XI_ENCAP_PULL_LEN bytes (long IPv6 chains) */
        __builtin_memset(&p, 0, sizeof(p));
        data = (void *)(long)skb->data;
        end = (void *)(long)skb->data_end;
        r = xi_parse_eth_tags(data, end, XI_MAX_VLAN - !!skb->vlan_present, &l3_off, &proto);
        if (!r)
            r = xi_steer_decide(data, end, l3_off, proto, &p, &g, &owner);
    }
    if (r >= XI_DROP_BASE)
        return xi_pub_in_verdict(TC_ACT_SHOT, r);
    xi_count(XI_HOOK_TC_PUBLIC_INGRESS, r);
    if (owner == XI_NODE_NONE)
        return XI_TC_NEXT;
    return xi_encap_redirect(skb, g.slot, owner, p.family == 6, &p);
}

SEC("tc")
int xi_tc_pub_in(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data;
    struct xi_xdp_meta *m = (void *)(long)skb->data_meta;

    if ((void *)(m + 1) > data)
        return xi_pub_in_decide(skb);
    if (m->magic == XI_META_PASS)
        return xi_pub_in_verdict(XI_TC_NEXT, XI_R_XDP_DECIDED);
    if (m->magic == XI_META_MAGIC)
        return xi_encap_redirect(skb, m->gen, m->owner, m->flags & XI_META_F_IPV6, NULL);
    return xi_pub_in_decide(skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
