/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The mesh interface (wg0) hooks, shared by the L3 entry (TUN / kernel WireGuard: no Ethernet
 * header, data starts at the IP header) and the L2 entry (veth, for tests and L2 meshes). After
 * the link layer everything is the same code.
 */
#ifndef XI_BPF_MESH_H
#define XI_BPF_MESH_H

#include "common.h"
#include "encap.h"
#include "events.h"
#include "mss.h"
#include "policy.h"
#include "gen.h"
#include "guard.h"
#include "parse.h"
#include "pull.h"
#include "second_chance.h"
#include "stats.h"
#include "steer.h"
#include "tunnel.h"
#include "unparsed.h"

static __always_inline int xi_mesh_verdict(__u32 hook, int action, __u32 reason)
{
    xi_count(hook, reason);
    return action;
}

/* Drop with a counter and a (rate-limited) event for `monitor`. */
static __always_inline int xi_mesh_deny(__u32 hook, __u32 reason, const struct xi_pkt *p,
                                        __u16 node, __u8 flags)
{
    xi_event(XI_EV_BUCKET_DENY, hook, reason, p, XI_ROLE_WORLD, XI_ROLE_WORLD, 0xffff, node, flags);
    return xi_mesh_verdict(hook, TC_ACT_SHOT, reason);
}

/* IP-in-IP of either family: steering traffic, or something posing as it. */
static __always_inline int xi_is_steering(const struct xi_pkt *p)
{
    return (p->flags & XI_PKT_F_L4) && (p->proto == IPPROTO_IPIP || p->proto == IPPROTO_IPV6);
}

/*
 * A steered packet whose flow this edge does not hold (second_chance.h): wrapped again, marked,
 * for the slot's previous owner, and sent back into the mesh. Right after our own decap, so the
 * packet fits the mesh as it came.
 */
static __always_inline int xi_mesh_second_chance(struct __sk_buff *skb, int l2,
                                                 const struct xi_gen *g, const struct xi_pkt *p,
                                                 __u32 prev)
{
    const __u32 hook = XI_HOOK_TC_MESH_INGRESS;
    const int ipv6 = p->family == 6;
    __u16 need = ipv6 ? XI_NODE_F_HAS6 : XI_NODE_F_HAS4;
    struct xi_node *self = xi_node_get(g->slot, g->cfg->self_node);
    struct xi_node *peer = xi_node_get(g->slot, prev);
    __u32 overhead = ipv6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
    __u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO |
                  (ipv6 ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 : BPF_F_ADJ_ROOM_ENCAP_L3_IPV4);

    if (!self || !peer || !(peer->flags & XI_NODE_F_EDGE) || !(peer->flags & need) ||
        !(self->flags & need))
        return xi_mesh_verdict(hook, TC_ACT_SHOT, XI_R_DROP_NOT_ENCAP_TARGET);
    /* An skb GRO built from IP-in-IP (kernel WireGuard) stays marked as encapsulated after our
     * decap, and the ENCAP flags then fail (-EALREADY): its GSO type and inner offsets already
     * describe this very layout again, so the room alone restores it. */
    if ((bpf_skb_adjust_room(skb, overhead, BPF_ADJ_ROOM_MAC, flags) &&
         bpf_skb_adjust_room(skb, overhead, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO)) ||
        xi_write_outer(skb, l2 ? ETH_HLEN : 0, ipv6, p, self, peer, 1))
        return xi_mesh_verdict(hook, TC_ACT_SHOT, XI_R_DROP_ENCAP_FAILED);
    xi_count_node(prev, XI_NODE_FWD_PACKETS, p->l3_len + overhead);
    xi_event(XI_EV_BUCKET_STEER, hook, XI_R_SECOND_CHANCE_OUT, p, XI_ROLE_WORLD, XI_ROLE_WORLD,
             0xffff, prev, XI_EV_F_STEERED);
    if (bpf_redirect(g->cfg->mesh_ifindex, 0) != TC_ACT_REDIRECT)
        return xi_mesh_verdict(hook, TC_ACT_SHOT, XI_R_DROP_REDIRECT_FAILED);
    return xi_mesh_verdict(hook, TC_ACT_REDIRECT, XI_R_SECOND_CHANCE_OUT);
}

/*
 * Steering traffic from a sibling: the outer source must be an edge of the fleet. After the
 * outer header is gone, the client's packet may only go to a VIP of this node (and is never a
 * metadata service): a compromised edge cannot use the tunnel to reach anything else.
 */
static __always_inline int xi_mesh_decap(struct __sk_buff *skb, int l2, const struct xi_gen *g,
                                         const struct xi_pkt *outer)
{
    const __u32 hook = XI_HOOK_TC_MESH_INGRESS;
    struct xi_ident *sender = xi_ident_lookup(g->slot, &outer->src);
    struct xi_ident *dst;
    struct xi_pkt inner = {};
    __u64 hash;
    __u32 node, prev;
    int r, sc_in;

    if (!sender || !(sender->flags & XI_IDENT_F_EDGE) || sender->node == g->cfg->self_node)
        return xi_mesh_deny(hook, XI_R_DROP_DECAP_UNKNOWN, outer, XI_NODE_NONE, 0);
    node = sender->node;
    sc_in = xi_outer_second_chance(skb, outer); /* read before the outer header goes */
    {
        /* The inner header must be there before the outer one goes. */
        void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
        __u32 need = outer->proto == IPPROTO_IPIP ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);

        if (outer->l4_off > XI_MAX_HDR_OFF || data + outer->l4_off + need > end)
            return xi_mesh_verdict(hook, TC_ACT_SHOT, XI_R_DROP_TRUNCATED);
    }
    /* Mixed families are refused by the config; fragments cannot be decapsulated before
     * reassembly (our outer headers carry DF, so a fragment was not made by a sibling). */
    if ((outer->family == 4) != (outer->proto == IPPROTO_IPIP) || (outer->flags & XI_PKT_F_FRAG) ||
        xi_decap(skb, outer))
        return xi_mesh_verdict(hook, TC_ACT_SHOT, XI_R_DROP_DECAP_FAILED);

    r = xi_skb_parse(skb, l2, &inner);
    if (r == XI_R_PASS_NOT_IP || (!r && inner.family != outer->family))
        r = XI_R_DROP_DECAP_FAILED;
    if (r)
        return xi_mesh_verdict(hook, TC_ACT_SHOT, r);
    dst = xi_ident_lookup(g->slot, &inner.dst);
    if (dst && (dst->flags & XI_IDENT_F_METADATA) && (g->cfg->flags & XI_CFG_METADATA_BLOCK))
        return xi_mesh_deny(hook, XI_R_DROP_METADATA, &inner, node, XI_EV_F_STEERED);
    r = xi_vip_classify(g, &inner, &hash);
    if (r == XI_R_PASS_NOT_VIP)
        return xi_mesh_deny(hook, XI_R_DROP_STEERED_NOT_VIP, &inner, node, XI_EV_F_STEERED);
    xi_count_node(node, XI_NODE_DECAP_PACKETS, outer->l3_len); /* as on the forward side */
    /* A second chance already: delivered here whatever we hold, never sent on again. */
    if (sc_in)
        return xi_mesh_verdict(hook, XI_TC_NEXT, XI_R_SECOND_CHANCE_IN);
    /* The edge that may hold the flow instead of us: the slot's previous owner, or, when our
     * table names another owner (the sender reloaded a fleet change before we did), that
     * owner. Asked only then; a flow not held here gets its second chance there. */
    if (r == XI_R_LOCAL) {
        int failover;
        __u32 o = xi_owner(g, hash, &prev, &failover);

        /* An owner we see down (the sender does not): its fallback, which is us or holds it. */
        if (o != g->cfg->self_node)
            prev = o;
        if (prev != XI_NODE_NONE && prev != g->cfg->self_node) {
            if (!xi_sc_local(skb, &inner))
                return xi_mesh_second_chance(skb, l2, g, &inner, prev);
            return xi_mesh_verdict(hook, XI_TC_NEXT, XI_R_SECOND_CHANCE_HELD);
        }
    }
    xi_event(XI_EV_BUCKET_STEER, hook, XI_R_DECAP, &inner, XI_ROLE_WORLD, XI_ROLE_WORLD, 0xffff,
             node, XI_EV_F_STEERED);
    return xi_mesh_verdict(hook, XI_TC_NEXT, XI_R_DECAP);
}

/* Our own steering traffic leaving for a sibling (redirected by tc_public_ingress). */
static __always_inline int xi_is_own_steering(const struct xi_gen *g, const struct xi_pkt *p)
{
    struct xi_ident *src, *dst;

    if (!xi_is_steering(p))
        return 0;
    src = xi_ident_lookup(g->slot, &p->src);
    dst = xi_ident_lookup(g->slot, &p->dst);
    return src && dst && (src->flags & XI_IDENT_F_NODE) && src->node == g->cfg->self_node &&
           (dst->flags & XI_IDENT_F_EDGE);
}

/* serve's sibling probe or its answer (issue #14): UDP to or from the probe port, between two
 * edges' mesh addresses. Allowed whatever the rules say: failover must not depend on a rule
 * the operator may not have written, and it opens nothing to anyone but the fleet's edges. */
static __always_inline int xi_is_probe(const struct xi_gen *g, const struct xi_pkt *p)
{
    __be16 port = g->cfg->probe_port;
    const __u16 edge = XI_IDENT_F_NODE | XI_IDENT_F_EDGE;
    struct xi_ident *src, *dst;

    if (!port || p->proto != IPPROTO_UDP || !(p->flags & XI_PKT_F_L4) ||
        (p->dport != port && p->sport != port))
        return 0;
    src = xi_ident_lookup(g->slot, &p->src);
    dst = xi_ident_lookup(g->slot, &p->dst);
    return src && dst && (src->flags & edge) == edge && (dst->flags & edge) == edge;
}

/* Policy for one packet that is not steering traffic; then clamp the MSS of what passes. */
static __always_inline int xi_mesh_policy(struct __sk_buff *skb, const struct xi_gen *g,
                                          const struct xi_pkt *p, __u32 hook, int ingress)
{
    struct xi_verdict v;
    __u32 tunnel = xi_tunnel_check(skb, g, p, hook, !ingress);

    if (tunnel)
        return xi_mesh_deny(hook, tunnel, p, XI_NODE_NONE, 0);
    if (xi_is_probe(g, p))
        return xi_mesh_verdict(hook, XI_TC_NEXT, XI_R_ALLOW_PROBE);
    xi_policy_decide(g, p, ingress, &v);
    xi_count_rule(v.rule_slot, skb->len);
    if (!v.allow) {
        xi_event(XI_EV_BUCKET_DENY, hook, v.reason, p, v.src_role, v.dst_role, v.rule_slot,
                 XI_NODE_NONE, 0);
        return xi_mesh_verdict(hook, TC_ACT_SHOT, v.reason);
    }
    if ((g->cfg->flags & XI_CFG_CLAMP_MESH) && p->proto == IPPROTO_TCP &&
        (p->flags & XI_PKT_F_L4) && (p->tcp_flags & XI_TCP_SYN) &&
        xi_mss_clamp(skb, p->l4_off, p->family == 4 ? g->cfg->mesh_mss4 : g->cfg->mesh_mss6) > 0)
        xi_count(hook, XI_R_MSS_CLAMPED);
    return xi_mesh_verdict(hook, XI_TC_NEXT, v.reason);
}

static __always_inline int xi_mesh_ingress_verdict(struct __sk_buff *skb, int l2)
{
    const __u32 hook = XI_HOOK_TC_MESH_INGRESS;
    struct xi_pkt p = {};
    struct xi_gen g;
    int r;

    r = xi_skb_parse(skb, l2, &p);
    if (r == XI_R_PASS_NOT_IP)
        return xi_mesh_verdict(hook, XI_TC_NEXT, r);
    if (r == XI_R_DROP_VLAN_DEPTH || r == XI_R_DROP_EXTHDR)
        return xi_unparsed(hook, r);
    if (r)
        return xi_mesh_verdict(hook, TC_ACT_SHOT, r);
    if (!xi_gen_current(&g))
        return xi_mesh_verdict(hook, TC_ACT_SHOT, XI_R_DROP_NO_POLICY);
    if (xi_is_steering(&p))
        return xi_mesh_decap(skb, l2, &g, &p);
    return xi_mesh_policy(skb, &g, &p, hook, 1);
}

/* What passes is marked, so the metadata guard on every other interface knows where it came from
 * however it is decapsulated later. */
static __always_inline int xi_mesh_ingress(struct __sk_buff *skb, int l2)
{
    int action = xi_mesh_ingress_verdict(skb, l2);

    if (action != TC_ACT_SHOT)
        xi_guard_mark(skb);
    return action;
}

static __always_inline int xi_mesh_egress(struct __sk_buff *skb, int l2)
{
    const __u32 hook = XI_HOOK_TC_MESH_EGRESS;
    struct xi_pkt p = {};
    struct xi_gen g;
    int r;

    r = xi_skb_parse(skb, l2, &p);
    if (r == XI_R_PASS_NOT_IP)
        return xi_mesh_verdict(hook, XI_TC_NEXT, r);
    if (r == XI_R_DROP_VLAN_DEPTH || r == XI_R_DROP_EXTHDR)
        return xi_unparsed(hook, r);
    if (r)
        return xi_mesh_verdict(hook, TC_ACT_SHOT, r);
    if (!xi_gen_current(&g))
        return xi_mesh_verdict(hook, TC_ACT_SHOT, XI_R_DROP_NO_POLICY);
    if (xi_is_own_steering(&g, &p)) {
        /* Built by us for a VIP, or by a local process posing as steering traffic: the inner
         * packet is checked all the same (the receiving edge checks it again). */
        __u32 tunnel = xi_tunnel_check(skb, &g, &p, hook, 1);

        if (tunnel)
            return xi_mesh_deny(hook, tunnel, &p, XI_NODE_NONE, 0);
        return xi_mesh_verdict(hook, XI_TC_NEXT, XI_R_STEER_OUT);
    }
    return xi_mesh_policy(skb, &g, &p, hook, 0);
}

#endif /* XI_BPF_MESH_H */
