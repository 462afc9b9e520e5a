/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The mesh policy decision, in order (docs/policy.md):
 *   metadata services -> link control (NDP/MLD) -> later fragments follow their first ->
 *   ICMP errors of tracked connections -> connection table -> reply-only roles ->
 *   rules (most specific role pair first) -> default of the direction.
 * Every lookup is a hash or LPM probe: the cost does not grow with the number of rules.
 */
#ifndef XI_BPF_POLICY_H
#define XI_BPF_POLICY_H

#include "common.h"
#include "conntrack.h"
#include "frag.h"
#include "gen.h"
#include "parse.h"
#include "stats.h"

#define XI_NO_RULE 0xffff

struct xi_verdict {
    __u8 allow;
    __u8 reason;
    __u16 rule_slot;
    __u16 src_role;
    __u16 dst_role;
};

/* Up to four probes, most specific role pair first; the trie picks the most specific port. */
static __always_inline struct xi_rule *xi_rule_match(__u32 gen_slot, __u16 src, __u16 dst,
                                                     const struct xi_pkt *p)
{
    void *rules = bpf_map_lookup_elem(&xi_rules, &gen_slot);
    struct xi_rule_key k = {.prefixlen = XI_RULE_PREFIX_FULL};
    struct xi_rule *r;

    if (!rules)
        return NULL;
    k.proto = p->proto;
    if ((p->flags & XI_PKT_F_L4) && (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP))
        __builtin_memcpy(k.port, &p->dport, sizeof(k.port));
    k.src_role = src;
    k.dst_role = dst;
    r = bpf_map_lookup_elem(rules, &k);
    if (r)
        return r;
    k.dst_role = XI_ROLE_ANY;
    r = bpf_map_lookup_elem(rules, &k);
    if (r)
        return r;
    k.src_role = XI_ROLE_ANY;
    k.dst_role = dst;
    r = bpf_map_lookup_elem(rules, &k);
    if (r)
        return r;
    k.dst_role = XI_ROLE_ANY;
    return bpf_map_lookup_elem(rules, &k);
}

/* IPv6 neighbour discovery (hop limit 255 proves it never crossed a router) and MLD. */
static __always_inline int xi_is_link_control(const struct xi_pkt *p)
{
    __u8 t = p->icmp_type;

    if (p->family != 6 || p->proto != IPPROTO_ICMPV6 || !(p->flags & XI_PKT_F_L4))
        return 0;
    if (t >= 133 && t <= 137)
        return p->ttl == 255;
    if ((t >= 130 && t <= 132) || t == 143)
        return (bpf_ntohl(p->src.w[0]) & 0xffc00000) == 0xfe800000;
    return 0;
}

static __always_inline void xi_set(struct xi_verdict *v, int allow, __u8 reason)
{
    v->allow = allow;
    v->reason = reason;
}

static __always_inline void xi_policy_decide(const struct xi_gen *g, const struct xi_pkt *p,
                                             int ingress, struct xi_verdict *v)
{
    const struct xi_gen_config *cfg = g->cfg;
    struct xi_ident *si = xi_ident_lookup(g->slot, &p->src);
    struct xi_ident *di = xi_ident_lookup(g->slot, &p->dst);
    __u16 sflags = si ? si->flags : 0, dflags = di ? di->flags : 0;
    struct xi_rule *rule;
    int ct = XI_CT_MISS;

    v->src_role = si ? si->role : XI_ROLE_WORLD;
    v->dst_role = di ? di->role : XI_ROLE_WORLD;
    v->rule_slot = XI_NO_RULE;

    if ((cfg->flags & XI_CFG_METADATA_BLOCK) && ((sflags | dflags) & XI_IDENT_F_METADATA))
        return xi_set(v, 0, XI_R_DROP_METADATA);
    if (xi_is_link_control(p))
        return xi_set(v, 1, XI_R_ALLOW_NDP);
    if ((p->flags & XI_PKT_F_FRAG) && !(p->flags & XI_PKT_F_FRAG_FIRST)) {
        struct xi_frag *f = xi_frag_verdict(p);

        if (!f)
            return xi_set(v, 0, XI_R_DROP_FRAG_UNTRACKED);
        v->rule_slot = f->rule_slot;
        return xi_set(v, f->allow, f->reason);
    }
    if (xi_ct_related(p, ingress))
        return xi_set(v, 1, XI_R_ALLOW_ICMP_RELATED);
    if (xi_ct_trackable(p)) {
        ct = xi_ct_lookup(cfg, p, ingress);
        if (ct == XI_CT_ALLOW) {
            xi_set(v, 1, XI_R_ALLOW_TRACKED);
            goto out;
        }
    }
    if (sflags & XI_IDENT_F_REPLY_ONLY) {
        xi_set(v, 0, XI_R_DROP_REPLY_ONLY);
        goto out;
    }
    rule = xi_rule_match(g->slot, v->src_role, v->dst_role, p);
    if (rule) {
        v->rule_slot = rule->slot;
        if (rule->action == XI_ACT_ALLOW)
            xi_set(v, 1, XI_R_ALLOW_RULE);
        else
            xi_set(v, 0, XI_R_DROP_RULE);
    } else if (cfg->flags & (ingress ? XI_CFG_INGRESS_ALLOW : XI_CFG_EGRESS_ALLOW)) {
        xi_set(v, 1, XI_R_ALLOW_DEFAULT);
    } else {
        xi_set(v, 0, XI_R_DROP_DEFAULT);
    }
    if (v->allow && ct == XI_CT_MISS && xi_ct_trackable(p))
        xi_ct_create(p, v->rule_slot, ingress);
out:
    xi_frag_remember(p, v->allow, v->reason, v->rule_slot);
}

static __always_inline void xi_count_rule(__u16 slot, __u64 bytes)
{
    __u32 key = slot;
    struct xi_rule_ctr *c;

    if (slot == XI_NO_RULE)
        return;
    c = bpf_map_lookup_elem(&xi_rule_stats, &key);
    if (c) {
        c->packets += 1;
        c->bytes += bytes;
    }
}

#endif /* XI_BPF_POLICY_H */
