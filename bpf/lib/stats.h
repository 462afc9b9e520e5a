/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters: one per (hook, reason), per (node, counter), per rule. */
#ifndef XI_BPF_STATS_H
#define XI_BPF_STATS_H

#include "common.h"

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, XI_HOOK_SLOTS *XI_REASON_SLOTS);
    __type(key, __u32);
    __type(value, __u64);
} xi_stats SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, XI_MAX_NODES *XI_NODE_CTR_SLOTS);
    __type(key, __u32);
    __type(value, __u64);
} xi_node_stats SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, XI_MAX_RULE_SLOTS);
    __type(key, __u32);
    __type(value, struct xi_rule_ctr);
} xi_rule_stats SEC(".maps");

/* Count one packet at (hook, reason). Returns nothing: a counter can only be missing if the
 * reason number is out of range, which the static asserts in xi_reasons.h rule out. */
static __always_inline void xi_count(__u32 hook, __u32 reason)
{
    __u32 key = hook * XI_REASON_SLOTS + reason;
    __u64 *v = bpf_map_lookup_elem(&xi_stats, &key);

    if (v)
        *v += 1;
}

static __always_inline void xi_count_node(__u32 node, __u32 ctr, __u64 bytes)
{
    __u32 key = node * XI_NODE_CTR_SLOTS + ctr;
    __u64 *v;

    if (node >= XI_MAX_NODES)
        return;
    v = bpf_map_lookup_elem(&xi_node_stats, &key);
    if (v)
        *v += 1;
    key += 1; /* the bytes counter follows the packets counter */
    v = bpf_map_lookup_elem(&xi_node_stats, &key);
    if (v)
        *v += bytes;
}

#endif /* XI_BPF_STATS_H */
