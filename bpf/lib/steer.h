/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Flow ownership: is this packet part of a VIP flow, and which edge owns that flow?
 *
 * - TCP/UDP to a VIP: hash of the 5-tuple as the client sends it.
 * - ICMP errors (Fragmentation Needed, Packet Too Big, unreachable, time exceeded) about a packet
 *   a VIP sent: hash of the embedded header reversed, i.e. the flow the error is about, so the
 *   error reaches the edge that holds the socket and PMTUD works for steered flows.
 * - Fragments: non-first fragments carry no ports, so every fragment of a VIP datagram (first
 *   and others) is hashed on (src, dst, proto) with zero ports. All fragments of one datagram
 *   reach the same edge, which reassembles it; unfragmented packets of the same UDP 5-tuple may
 *   belong to another edge (documented in docs/steering.md; TCP does not fragment: DF + MSS).
 */
#ifndef XI_BPF_STEER_H
#define XI_BPF_STEER_H

#include "failover.h"
#include "gen.h"
#include "parse.h"
#include "xi_hash.h"

static __always_inline int xi_vip_key_eq(const struct xi_vip_key *k, const struct xi_addr *addr,
                                         __be16 port, __u8 proto)
{
    return k->addr.w[3] == addr->w[3] && k->addr.w[2] == addr->w[2] && k->addr.w[1] == addr->w[1] &&
           k->addr.w[0] == addr->w[0] && k->port == port && k->proto == proto;
}

/* Probe the generation's open-addressing VIP table; an empty slot ends the probe. */
static __always_inline struct xi_vip *
xi_vip_probe(const struct xi_gen *g, const struct xi_addr *addr, __be16 port, __u8 proto)
{
    __u32 b = xi_vip_bucket(addr, port, proto, g->cfg->vip_salt);

#pragma unroll
    for (int i = 0; i < XI_VIP_PROBES; i++) {
        __u32 idx = g->slot * XI_VIP_TABLE_SLOTS + ((b + i) & (XI_VIP_TABLE_SLOTS - 1));
        struct xi_vip_slot *s = bpf_map_lookup_elem(&xi_vip_slots, &idx);

        if (!s || !(s->vip.flags & XI_VIP_F_USED))
            return NULL;
        if (xi_vip_key_eq(&s->key, addr, port, proto))
            return &s->vip;
    }
    return NULL;
}

static __always_inline struct xi_vip *xi_vip_lookup(const struct xi_gen *g,
                                                    const struct xi_addr *addr, __be16 port,
                                                    __u8 proto, int fragment)
{
    struct xi_vip *vip;

    if (!fragment) {
        vip = xi_vip_probe(g, addr, port, proto);
        if (vip)
            return vip;
    }
    vip = xi_vip_probe(g, addr, 0, proto);
    if (vip && (vip->flags & XI_VIP_F_FRAG_ONLY) && !fragment)
        return NULL;
    return vip;
}

static __always_inline __u64 xi_hash_tuple(__u8 family, const struct xi_addr *src,
                                           const struct xi_addr *dst, __be16 sport, __be16 dport,
                                           __u8 proto, __u64 seed)
{
    if (family == 4)
        return xi_flow_hash4(src->w[3], dst->w[3], sport, dport, proto, seed);
    return xi_flow_hash6(src, dst, sport, dport, proto, seed);
}

/*
 * Classify p against the VIPs of generation g. Returns XI_R_PASS_NOT_VIP, or the path reason
 * (XI_R_LOCAL for a plain VIP flow, XI_R_ICMP_STEERED, XI_R_FRAGMENT) with *hash set.
 */
static __always_inline int xi_vip_classify(const struct xi_gen *g, const struct xi_pkt *p,
                                           __u64 *hash)
{
    __u64 seed = g->cfg->seed;

    if (p->flags & XI_PKT_F_ICMP_ERR) {
        if (!xi_vip_lookup(g, &p->in_src, p->in_sport, p->in_proto, 0))
            return XI_R_PASS_NOT_VIP;
        *hash = xi_hash_tuple(p->family, &p->in_dst, &p->in_src, p->in_dport, p->in_sport,
                              p->in_proto, seed);
        return XI_R_ICMP_STEERED;
    }
    if (p->flags & XI_PKT_F_FRAG) {
        if (!xi_vip_lookup(g, &p->dst, 0, p->proto, 1))
            return XI_R_PASS_NOT_VIP;
        *hash = xi_hash_tuple(p->family, &p->src, &p->dst, 0, 0, p->proto, seed);
        return XI_R_FRAGMENT;
    }
    if (!(p->flags & XI_PKT_F_L4) || (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP))
        return XI_R_PASS_NOT_VIP;
    if (!xi_vip_lookup(g, &p->dst, p->dport, p->proto, 0))
        return XI_R_PASS_NOT_VIP;
    *hash = xi_hash_tuple(p->family, &p->src, &p->dst, p->sport, p->dport, p->proto, seed);
    return XI_R_LOCAL;
}

/*
 * Owner (node slot) of a flow hash in generation g, or XI_NODE_NONE; *prev: the slot's
 * previous owner while the fleet change that moved it gives second chances, else XI_NODE_NONE.
 * Failover (lib/failover.h), at the cost of one array lookup per packet: where this edge sees
 * the owner down, the slot's fallback is returned instead and *failover set (prev none); where
 * the owner is this edge and it was seen down lately, *prev is the fallback, which may hold
 * flows that moved there meanwhile.
 */
static __always_inline __u32 xi_owner(const struct xi_gen *g, __u64 hash, __u32 *prev,
                                      int *failover)
{
    __u32 gen_slot = g->slot;
    void *table = bpf_map_lookup_elem(&xi_maglev, &gen_slot);
    __u32 size = g->cfg->table_size, until = g->cfg->second_chance_until;
    const struct xi_peer_state *ps;
    __u32 slot, owner, now;
    __u32 *e;

    *prev = XI_NODE_NONE;
    *failover = 0;
    if (!table || !size)
        return XI_NODE_NONE;
    slot = xi_maglev_slot(hash, size);
    e = bpf_map_lookup_elem(table, &slot);
    if (!e)
        return XI_NODE_NONE;
    owner = XI_MAGLEV_OWNER(*e);
    if (owner >= XI_MAX_NODES)
        return XI_NODE_NONE;
    ps = xi_peer(owner);
    if (ps && ps->flags) {
        if ((ps->flags & XI_PEER_F_DOWN) && owner != g->cfg->self_node) {
            __u32 f = xi_fallback_of(table, slot, size);

            if (f != XI_NODE_NONE) {
                *failover = 1;
                return f;
            }
        }
    }
    now = 0;
    if (*e >> 16 && (!until || (now = bpf_ktime_get_boot_ns() >> 30) <= until))
        *prev = XI_MAGLEV_PREV(*e) < XI_MAX_NODES ? XI_MAGLEV_PREV(*e) : XI_NODE_NONE;
    if (*prev == XI_NODE_NONE && ps && ps->recover_until && owner == g->cfg->self_node &&
        (now ? now : bpf_ktime_get_boot_ns() >> 30) <= ps->recover_until)
        *prev = xi_fallback_of(table, slot, size);
    return owner;
}

/*
 * The whole steering decision for the packet whose IP header is at l3_off (proto: its
 * ethertype). XDP and TC ingress on the public interface both call this, so whichever of them
 * decides, it decides as the other would, and as `xdp-ingress owner` does. Returns the reason
 * to count: a drop reason (>= XI_DROP_BASE: malformed), a pass reason (the packet stays on this
 * edge), or a steering reason (XI_R_FORWARD, XI_R_ICMP_STEERED, XI_R_FRAGMENT, XI_R_LOCAL).
 * *owner is the sibling edge to send the packet to, XI_NODE_NONE when it stays here.
 */
static __always_inline __u32 xi_steer_decide(void *data, void *end, __u32 l3_off, __be16 proto,
                                             struct xi_pkt *p, struct xi_gen *g, __u32 *owner,
                                             __u32 *prev)
{
    __u64 hash = 0;
    __u32 o;
    int r, failover;

    *owner = XI_NODE_NONE;
    *prev = XI_NODE_NONE;
    r = xi_parse_l3(data, end, l3_off, proto, p);
    if (r == XI_R_DROP_EXTHDR)
        return XI_R_PASS_EXTHDR; /* longer than we walk: the stack decides, never us */
    if (r)
        return r;
    /* Tunnelled packets from the internet are never steered (nor injected into the mesh). */
    if (p->proto == IPPROTO_IPIP || p->proto == IPPROTO_IPV6)
        return XI_R_PUBLIC_ENCAP;
    if (!xi_gen_current(g))
        return XI_R_NO_TABLE;
    if (!(g->cfg->flags & XI_CFG_SELF_EDGE))
        return XI_R_PASS_NOT_STEERED;
    r = xi_vip_classify(g, p, &hash);
    if (r == XI_R_PASS_NOT_VIP)
        return r;
    o = xi_owner(g, hash, prev, &failover);
    if (o == XI_NODE_NONE)
        return XI_R_NO_TABLE;
    if (failover) { /* marked by the caller: the fallback delivers it, never sends it on */
        *prev = XI_NODE_NONE;
        if (o == g->cfg->self_node)
            return XI_R_FAILOVER_LOCAL;
        *owner = o;
        return XI_R_FAILOVER_OUT;
    }
    if (o == g->cfg->self_node) {
        /* A second chance is for a TCP or UDP flow (not an ICMP error, not a fragment) whose
         * slot another edge held before: the caller asks whether the flow is ours. */
        if (r != XI_R_LOCAL || *prev == o)
            *prev = XI_NODE_NONE;
        return r;
    }
    *prev = XI_NODE_NONE;
    *owner = o;
    return r == XI_R_LOCAL ? XI_R_FORWARD : r;
}

#endif /* XI_BPF_STEER_H */
