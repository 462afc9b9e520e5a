/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Deny and steering events for `xdp-ingress monitor`, through a ring buffer, rate-limited in the
 * kernel by a per-CPU budget of events that the consumer refills (loader/kernel/event_budget.cpp:
 * every ~100 ms, from the generation's rate and burst). The packet path reads no clock and divides
 * nothing: one per-CPU array lookup and a decrement. With nobody reading the ring buffer
 * nothing refills it and no events are made; a flood of denied or steered packets costs a
 * counter increment each, not a wake-up of userspace each.
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

/* Take one event from this CPU's budget (no atomics: the budget is per CPU). */
static __always_inline int xi_event_allowed(__u32 bucket)
{
    struct xi_tokens *t = bpf_map_lookup_elem(&xi_event_tokens, &bucket);

    if (!t || !t->tokens)
        return 0;
    t->tokens--;
    return 1;
}

static __always_inline void xi_event(__u32 bucket, __u8 hook, __u8 reason, const struct xi_pkt *p,
                                     __u16 src_role, __u16 dst_role, __u16 rule_slot, __u16 node,
                                     __u8 flags)
{
    struct xi_event *e;

    if (!xi_event_allowed(bucket))
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
