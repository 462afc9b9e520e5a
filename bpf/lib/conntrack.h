/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking for the mesh policy: enough TCP state that "reply only" means what it
 * says. An entry is created only by the initiator's packet that a rule (or default) allowed;
 * the responder's packets are accepted only as answers to it (SYN-ACK after a SYN, then data).
 * A forged ACK or RST from a reply-only role finds no entry and opens nothing. UDP and ICMP echo
 * are tracked by idle timeout. The table is an LRU hash pinned outside the generations, so a
 * policy reload keeps every connection.
 */
#ifndef XI_BPF_CONNTRACK_H
#define XI_BPF_CONNTRACK_H

#include "common.h"
#include "gen.h"
#include "parse.h"

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 262144);
    __type(key, struct xi_ct_key);
    __type(value, struct xi_ct);
} xi_ct SEC(".maps");

#define XI_NS_PER_S 1000000000ULL

/* Numeric order of (addr, port) endpoints; the smaller one is endpoint a of the key. */
static __always_inline int xi_endpoint_less(const struct xi_addr *x, __be16 xp,
                                            const struct xi_addr *y, __be16 yp)
{
#pragma unroll
    for (int i = 0; i < 4; i++) {
        __u32 a = bpf_ntohl(x->w[i]), b = bpf_ntohl(y->w[i]);

        if (a != b)
            return a < b;
    }
    return bpf_ntohs(xp) <= bpf_ntohs(yp);
}

/*
 * Key of the connection a packet (src -> dst) belongs to, src_remote: whether src is the
 * remote side (the packet crosses mesh ingress). Returns 1 if src is endpoint a.
 */
static __always_inline int xi_ct_key_of(struct xi_ct_key *k, const struct xi_addr *src,
                                        const struct xi_addr *dst, __be16 sport, __be16 dport,
                                        __u8 proto, int src_remote)
{
    int src_is_a = xi_endpoint_less(src, sport, dst, dport);

    __builtin_memset(k, 0, sizeof(*k));
    k->proto = proto;
    k->a_remote = src_is_a ? !!src_remote : !src_remote;
    if (src_is_a) {
        k->a = *src;
        k->b = *dst;
        k->port_a = sport;
        k->port_b = dport;
    } else {
        k->a = *dst;
        k->b = *src;
        k->port_a = dport;
        k->port_b = sport;
    }
    return src_is_a;
}

static __always_inline int xi_ct_trackable(const struct xi_pkt *p)
{
    if (!(p->flags & XI_PKT_F_L4) || (p->flags & XI_PKT_F_ICMP_ERR))
        return 0;
    return p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP || (p->flags & XI_PKT_F_ICMP_ECHO);
}

static __always_inline __u64 xi_ct_timeout_ns(const struct xi_gen_config *cfg, __u8 proto,
                                              __u8 state)
{
    __u32 s;

    if (proto == IPPROTO_TCP)
        s = state == XI_CT_ESTABLISHED ? cfg->ct_tcp_established_s : cfg->ct_tcp_transitory_s;
    else if (proto == IPPROTO_UDP)
        s = cfg->ct_udp_s;
    else
        s = cfg->ct_icmp_s;
    return (__u64)s * XI_NS_PER_S;
}

enum xi_ct_result {
    XI_CT_MISS = 0,    /* no usable entry: decide by rules */
    XI_CT_ALLOW = 1,   /* part of a tracked connection */
    XI_CT_INVALID = 2, /* an entry exists but this packet does not fit it: decide by rules,
                          without touching the entry */
};

/*
 * Look the packet up and advance the connection's state. from_initiator tells the rules path
 * whether this packet would be the connection's opener.
 */
static __always_inline int xi_ct_lookup(const struct xi_gen_config *cfg, const struct xi_pkt *p,
                                        int ingress)
{
    struct xi_ct_key k;
    int src_is_a = xi_ct_key_of(&k, &p->src, &p->dst, p->sport, p->dport, p->proto, ingress);
    struct xi_ct *ct = bpf_map_lookup_elem(&xi_ct, &k);
    int from_init;
    __u8 f = p->tcp_flags;
    __u64 now;

    if (!ct)
        return XI_CT_MISS;
    /* Only now: a clock read is not free (tens of ns where the TSC is virtualised), and most
     * misses are new or denied flows. */
    now = bpf_ktime_get_ns();
    if (now - ct->last_ns > xi_ct_timeout_ns(cfg, p->proto, ct->state)) {
        bpf_map_delete_elem(&xi_ct, &k);
        return XI_CT_MISS;
    }
    from_init = !!(ct->flags & XI_CT_F_INIT_A) == src_is_a;

    if (p->proto != IPPROTO_TCP) {
        if (p->proto != IPPROTO_UDP && (p->flags & XI_PKT_F_ICMP_REQ) && !from_init)
            return XI_CT_INVALID; /* an echo request from the responder opens its own */
        if (p->proto != IPPROTO_UDP && !(p->flags & XI_PKT_F_ICMP_REQ) && from_init)
            return XI_CT_INVALID; /* an echo reply from the initiator answers nothing */
        if (!from_init)
            ct->state = XI_CT_ESTABLISHED;
        ct->last_ns = now;
        return XI_CT_ALLOW;
    }

    if (f & XI_TCP_RST) {
        if (ct->state == XI_CT_CLOSED)
            return XI_CT_INVALID;
        ct->state = XI_CT_CLOSED;
        ct->last_ns = now;
        return XI_CT_ALLOW;
    }
    if (from_init) {
        if ((f & (XI_TCP_SYN | XI_TCP_ACK)) == XI_TCP_SYN) {
            if (ct->state != XI_CT_SYN_SENT)
                return XI_CT_MISS; /* a new connection reusing the tuple: rules decide */
        } else if (f & XI_TCP_SYN) {
            return XI_CT_INVALID; /* SYN-ACK from the initiator */
        } else if (ct->state == XI_CT_CLOSED) {
            return XI_CT_INVALID;
        } else if (ct->state == XI_CT_SYN_RECV && (f & XI_TCP_ACK)) {
            ct->state = XI_CT_ESTABLISHED;
        }
    } else {
        if ((f & (XI_TCP_SYN | XI_TCP_ACK)) == (XI_TCP_SYN | XI_TCP_ACK)) {
            if (ct->state != XI_CT_SYN_SENT && ct->state != XI_CT_SYN_RECV)
                return XI_CT_INVALID;
            ct->state = XI_CT_SYN_RECV;
        } else if ((f & XI_TCP_SYN) || ct->state == XI_CT_SYN_SENT || ct->state == XI_CT_CLOSED) {
            /* The responder speaks before answering the SYN, or after the end: not a reply. */
            return XI_CT_INVALID;
        }
    }
    if (f & XI_TCP_FIN)
        ct->state = XI_CT_FIN;
    ct->last_ns = now;
    return XI_CT_ALLOW;
}

static __always_inline int xi_addr_eq(const struct xi_addr *a, const struct xi_addr *b)
{
    return a->w[0] == b->w[0] && a->w[1] == b->w[1] && a->w[2] == b->w[2] && a->w[3] == b->w[3];
}

/*
 * ICMP error about a tracked connection? The embedded packet is one of its packets and the
 * error goes back to that packet's sender (as nf_conntrack requires too): an error quoting a
 * tracked tuple but sent anywhere else relates to nothing, so a reply-only role cannot use it
 * to reach a third party.
 */
static __always_inline int xi_ct_related(const struct xi_pkt *p, int ingress)
{
    struct xi_ct_key k;

    if (!(p->flags & XI_PKT_F_ICMP_ERR) || !xi_addr_eq(&p->dst, &p->in_src))
        return 0;
    /* The quoted packet went the other way: its sender is remote when the error leaves. */
    xi_ct_key_of(&k, &p->in_src, &p->in_dst, p->in_sport, p->in_dport, p->in_proto, !ingress);
    return bpf_map_lookup_elem(&xi_ct, &k) != NULL;
}

/* Track a connection opened by p, whose opener a rule or the default allowed. */
static __always_inline void xi_ct_create(const struct xi_pkt *p, __u16 rule_slot, int ingress)
{
    struct xi_ct_key k;
    struct xi_ct ct = {};
    int src_is_a;

    if (p->proto == IPPROTO_TCP) {
        if (p->tcp_flags & XI_TCP_RST)
            return;
        /* A SYN opens; any other segment of an allowed flow is picked up mid-stream (the
         * connection predates the attach or its entry was evicted). Only the allowed side
         * can do this, so a reply-only role never creates an entry. */
        if ((p->tcp_flags & (XI_TCP_SYN | XI_TCP_ACK)) == XI_TCP_SYN)
            ct.state = XI_CT_SYN_SENT;
        else if (p->tcp_flags & XI_TCP_SYN)
            return; /* a SYN-ACK without an entry is nobody's answer */
        else
            ct.state = XI_CT_ESTABLISHED;
    } else if (p->proto == IPPROTO_UDP || (p->flags & XI_PKT_F_ICMP_REQ)) {
        ct.state = XI_CT_OPEN;
    } else {
        return;
    }
    src_is_a = xi_ct_key_of(&k, &p->src, &p->dst, p->sport, p->dport, p->proto, ingress);
    ct.flags = src_is_a ? XI_CT_F_INIT_A : 0;
    ct.rule_slot = rule_slot;
    ct.last_ns = bpf_ktime_get_ns();
    bpf_map_update_elem(&xi_ct, &k, &ct, BPF_ANY);
}

#endif /* XI_BPF_CONNTRACK_H */
