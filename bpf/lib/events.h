/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Deny and steering events for `xdp-ingress monitor`, through a ring buffer, rate-limited in the
 * kernel by a token bucket per CPU (no atomics on the fast path): a flood of denied packets
 * costs a counter increment each, not a wake-up of userspace each.
 */
#ifndef XI_BPF_EVENTS_H
#define XI_BPF_EVENTS_H

#include "common.h"
#include "gen.h"
#include "parse.h"

#define XI_EV_BUCKET_DENY 0
#define XI_EV_BUCKET_STEER 1

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} xi_events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, struct xi_tokens);
} xi_event_tokens SEC(".maps");

/* Take one token; tokens are nanoseconds of credit, one event costs 1e9 / rate. */
static __always_inline int xi_event_allowed(const struct xi_gen_config *cfg, __u32 bucket)
{
    struct xi_tokens *t = bpf_map_lookup_elem(&xi_event_tokens, &bucket);
    __u64 now, cost, cap;

    if (!t || !cfg->events_per_sec)
        return 0;
    now = bpf_ktime_get_ns(); /* not before: events may be off, and a clock read costs */
    cost = 1000000000ULL / cfg->events_per_sec;
    cap = cost * (cfg->events_burst ? cfg->events_burst : 1);
    t->tokens += now - t->last_ns;
    if (t->tokens > cap)
        t->tokens = cap;
    t->last_ns = now;
    if (t->tokens < cost)
        return 0;
    t->tokens -= cost;
    return 1;
}

static __always_inline void xi_event(const struct xi_gen_config *cfg, __u32 bucket, __u8 hook,
                                     __u8 reason, const struct xi_pkt *p, __u16 src_role,
                                     __u16 dst_role, __u16 rule_slot, __u16 node, __u8 flags)
{
    struct xi_event *e;

    if (!xi_event_allowed(cfg, bucket))
        return;
    e = bpf_ringbuf_reserve(&xi_events, sizeof(*e), 0);
    if (!e)
        return;
    e->ts_ns = bpf_ktime_get_ns();
    e->src = p->src;
    e->dst = p->dst;
    e->sport = p->sport;
    e->dport = p->dport;
    e->proto = p->proto;
    e->hook = hook;
    e->reason = reason;
    e->flags = flags | (p->family == 6 ? XI_EV_F_IPV6 : 0);
    e->src_role = src_role;
    e->dst_role = dst_role;
    e->rule_slot = rule_slot;
    e->node = node;
    bpf_ringbuf_submit(e, 0);
}

#endif /* XI_BPF_EVENTS_H */
