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
#include "lib/second_chance.h"
#include "lib/stats.h"
#include "lib/steer.h"

static __always_inline int xi_pub_in_verdict(int action, __u32 reason)
{
    xi_count(XI_HOOK_TC_PUBLIC_INGRESS, reason);
    return action;
}

/* The decision XDP left in the metadata area: 1 forward (gen, owner, ipv6 set), 0 stays here,
 * -1 no usable mark. */
static __always_inline int xi_mark_of(struct __sk_buff *skb, __u32 *gen, __u32 *owner, int *ipv6)
{
    void *data = (void *)(long)skb->data;
    struct xi_xdp_meta *m = (void *)(long)skb->data_meta;

    if ((void *)(m + 1) > data)
        return -1;
    if (m->magic == XI_META_PASS)
        return 0;
    if (m->magic != XI_META_MAGIC)
        return -1;
    *gen = m->gen;
    *owner = m->owner;
    *ipv6 = m->flags & XI_META_F_IPV6;
    return 1;
}

/*
 * The decision on the headers that are linear now. Out of line: the decision is the bulk of the
 * program and runs a second time after a deeper pull, so it exists once (not two inlined
 * copies; not a loop either, which 6.1's verifier refuses right after a helper call).
 */
static __noinline __u32 xi_decide_linear(struct __sk_buff *skb, struct xi_pkt *p, struct xi_gen *g,
                                         __u32 *owner, __u32 *prev)
{
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    __u32 l3_off, r;
    __be16 proto;

    /* A tag the stack moved into skb->vlan_tci counts against the tags XDP would parse. */
    r = xi_parse_eth_tags(data, end, XI_MAX_VLAN - !!skb->vlan_present, &l3_off, &proto);
    if (r)
        return r;
    return xi_steer_decide(data, end, l3_off, proto, p, g, owner, prev);
}

/* No usable mark: the whole decision (bpf/lib/steer.h). Returns the reason to count. */
static __always_inline __u32 xi_pub_in_decide(struct __sk_buff *skb, struct xi_pkt *p,
                                              struct xi_gen *g, __u32 *owner, __u32 *prev)
{
    __u32 r;

    /* Reload skb->data below instead of reusing the mark check's copy: clang keeps that copy
     * as a zero-extended scalar, which the verifier no longer knows as a packet pointer. */
    asm volatile("" ::: "memory");
    xi_pull_headers(skb);
    r = xi_decide_linear(skb, p, g, owner, prev);
    /* Headers beyond the first XI_PULL_HDR_LEN bytes (long IPv6 chains): pull, once more. */
    if (r == XI_R_DROP_TRUNCATED && xi_pull_more(skb)) {
        __builtin_memset(p, 0, sizeof(*p));
        r = xi_decide_linear(skb, p, g, owner, prev);
    }
    return r;
}

SEC("tc")
int xi_tc_pub_in(struct __sk_buff *skb)
{
    struct xi_pkt p = {};
    struct xi_gen g = {};
    const struct xi_pkt *parsed = NULL;
    __u32 gen = 0, owner = XI_NODE_NONE, prev = XI_NODE_NONE, r;
    int ipv6 = 0, sc = 0, mark = xi_mark_of(skb, &gen, &owner, &ipv6);

    if (!mark)
        return xi_pub_in_verdict(XI_TC_NEXT, XI_R_XDP_DECIDED);
    if (mark < 0) {
        r = xi_pub_in_decide(skb, &p, &g, &owner, &prev);
        if (r >= XI_DROP_BASE)
            return xi_pub_in_verdict(TC_ACT_SHOT, r);
        if (owner == XI_NODE_NONE && prev != XI_NODE_NONE) {
            /* Ours by the table, but the slot moved: is the flow here, or still there? Counted
             * instead of local / forward. */
            if (xi_sc_local(skb, &p))
                return xi_pub_in_verdict(XI_TC_NEXT, XI_R_SECOND_CHANCE_HELD);
            r = XI_R_SECOND_CHANCE_OUT;
            owner = prev;
            sc = 1;
        }
        /* Failover: marked, so the fallback delivers it whatever its own view of the owner. */
        if (r == XI_R_FAILOVER_OUT)
            sc = 1;
        xi_count(XI_HOOK_TC_PUBLIC_INGRESS, r);
        if (owner == XI_NODE_NONE)
            return XI_TC_NEXT;
        gen = g.slot;
        ipv6 = p.family == 6;
        parsed = &p;
    }
    /* One call site for both: the encapsulation is the other half of the program. */
    return xi_encap_redirect(skb, gen, owner, ipv6, parsed, sc);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
