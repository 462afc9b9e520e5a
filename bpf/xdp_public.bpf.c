// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP on the public interface. Malformed IP packets are dropped here, before they cost an skb
 * (the stack would drop them too). What happens to the rest depends on the hand-off the loader
 * chose (docs/steering.md):
 *
 * - "tc": nothing more. Every packet goes on unmarked and tc_public_ingress makes the steering
 *   decision, once per GRO super-packet instead of once per wire packet.
 * - "xdp-mark": decide here (bpf/lib/steer.h) and write the decision into the XDP metadata area
 *   (struct xi_xdp_meta): a sibling owner for tc_public_ingress to encapsulate for, or "stays
 *   here". If the driver gives no metadata room at run time, the packet goes on unmarked and TC
 *   decides it: the mark saves work, correctness never depends on it.
 */
#include "lib/common.h"
#include "lib/parse.h"
#include "lib/stats.h"
#include "lib/steer.h"

/*
 * Set by the loader before load. .rodata is frozen before verification, so the verifier knows
 * these values and never walks the branches they switch off: with xi_handoff == XI_HANDOFF_TC
 * the program loads on kernels whose verifier refuses bpf_xdp_adjust_meta in XDP.
 */
const volatile __u8 xi_handoff = XI_HANDOFF_TC;
/* Tests only: behave like a driver without metadata room (every mark fails at run time). */
const volatile __u8 xi_test_mark_fails = 0;

static __always_inline int xi_verdict(int action, __u32 reason)
{
    xi_count(XI_HOOK_XDP_PUBLIC, reason);
    return action;
}

/* Write the decision in front of the packet. Fails when the driver gives no metadata room. */
static __always_inline int xi_mark(struct xdp_md *ctx, __u32 magic, __u32 owner, __u32 gen,
                                   int ipv6)
{
    struct xi_xdp_meta *m;

    if (xi_test_mark_fails)
        return -1;
    if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
        return -1;
    m = (void *)(long)ctx->data_meta;
    if ((void *)(m + 1) > (void *)(long)ctx->data)
        return -1;
    m->magic = magic;
    m->owner = owner;
    m->gen = gen;
    m->flags = ipv6 ? XI_META_F_IPV6 : 0;
    return 0;
}

SEC("xdp")
int xi_xdp_public(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct xi_pkt p = {};
    struct xi_gen g = {};
    __u32 l3_off, owner, prev, r;
    __be16 proto;
    int err;

    err = xi_parse_eth(data, end, &l3_off, &proto);
    if (err)
        return xi_verdict(XDP_DROP, err);

    if (xi_handoff != XI_HANDOFF_XDP_MARK) {
        err = xi_parse_l3(data, end, l3_off, proto, &p);
        if (err >= XI_DROP_BASE && err != XI_R_DROP_EXTHDR)
            return xi_verdict(XDP_DROP, err);
        return xi_verdict(XDP_PASS, XI_R_TC_DECIDES);
    }

    r = xi_steer_decide(data, end, l3_off, proto, &p, &g, &owner, &prev);
    if (r >= XI_DROP_BASE)
        return xi_verdict(XDP_DROP, r);
    if (r == XI_R_PASS_NOT_IP) /* TC tells non-IP apart as fast as it reads a mark */
        return xi_verdict(XDP_PASS, r);
    /* A moved slot's flow may belong to its previous owner: only TC can ask the socket table
     * (lib/second_chance.h). */
    if (owner == XI_NODE_NONE && prev != XI_NODE_NONE)
        return xi_verdict(XDP_PASS, XI_R_TC_DECIDES);
    /* Failover's marker is TC's to write (the outer header): a down owner's slots go to TC. */
    if (r == XI_R_FAILOVER_OUT || r == XI_R_FAILOVER_LOCAL)
        return xi_verdict(XDP_PASS, XI_R_TC_DECIDES);
    if (owner == XI_NODE_NONE) {
        /* Constant for every packet that stays, so GRO still merges them. */
        if (xi_mark(ctx, XI_META_PASS, 0, 0, 0))
            return xi_verdict(XDP_PASS, XI_R_MARK_FAILED);
        return xi_verdict(XDP_PASS, r);
    }
    if (xi_mark(ctx, XI_META_MAGIC, owner, g.slot, p.family == 6))
        return xi_verdict(XDP_PASS, XI_R_MARK_FAILED);
    return xi_verdict(XDP_PASS, r);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
