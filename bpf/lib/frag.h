/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fragments and port rules: a non-first fragment carries no ports, so it cannot be checked by
 * itself. The first fragment's verdict is remembered per datagram (src, dst, protocol, IP ID)
 * and the later fragments follow it; a later fragment whose first fragment was not seen (or
 * is older than XI_FRAG_TTL_NS) is dropped. TC runs before reassembly, so this is the only
 * place a port rule can hold for fragmented traffic.
 */
#ifndef XI_BPF_FRAG_H
#define XI_BPF_FRAG_H

#include "common.h"
#include "parse.h"

#define XI_FRAG_TTL_NS (30ULL * 1000000000ULL)

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct xi_frag_key);
    __type(value, struct xi_frag);
} xi_frags SEC(".maps");

static __always_inline void xi_frag_key_of(struct xi_frag_key *k, const struct xi_pkt *p)
{
    __builtin_memset(k, 0, sizeof(*k));
    k->src = p->src;
    k->dst = p->dst;
    k->id = p->frag_id;
    k->proto = p->proto;
}

static __always_inline void xi_frag_remember(const struct xi_pkt *p, int allow, __u8 reason,
                                             __u16 rule_slot)
{
    struct xi_frag_key k;
    struct xi_frag v = {};

    if ((p->flags & (XI_PKT_F_FRAG | XI_PKT_F_FRAG_FIRST)) != (XI_PKT_F_FRAG | XI_PKT_F_FRAG_FIRST))
        return;
    xi_frag_key_of(&k, p);
    v.ts_ns = bpf_ktime_get_ns();
    v.allow = allow;
    v.reason = reason;
    v.rule_slot = rule_slot;
    bpf_map_update_elem(&xi_frags, &k, &v, BPF_ANY);
}

/* The remembered verdict of a later fragment's datagram, or NULL (drop it). */
static __always_inline struct xi_frag *xi_frag_verdict(const struct xi_pkt *p)
{
    struct xi_frag_key k;
    struct xi_frag *v;

    xi_frag_key_of(&k, p);
    v = bpf_map_lookup_elem(&xi_frags, &k);
    if (!v || bpf_ktime_get_ns() - v->ts_ns > XI_FRAG_TTL_NS)
        return NULL;
    return v;
}

#endif /* XI_BPF_FRAG_H */
