/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Health-driven failover (issue #14). serve probes every sibling through the mesh and writes what
 * it finds into xi_peer_state; the table never changes. A packet whose slot's owner this edge sees
 * down goes to the slot's fallback owner (published behind the Maglev entries, loader
 * model/fallback.h), marked like a second chance so that the fallback delivers it whatever its
 * own view of the owner: forwarded at most once, never in a loop, even when edges disagree.
 * When this edge was seen down and is back, its own slots ask the socket table first and send
 * what they do not hold to the fallback, where it went meanwhile.
 */
#ifndef XI_BPF_FAILOVER_H
#define XI_BPF_FAILOVER_H

#include "common.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, XI_MAX_NODES);
    __type(key, __u32);
    __type(value, struct xi_peer_state);
} xi_peer_state SEC(".maps");

static __always_inline const struct xi_peer_state *xi_peer(__u32 node)
{
    return bpf_map_lookup_elem(&xi_peer_state, &node);
}

/* The fallback owner of Maglev slot `slot` in `table` (an inner map of table_size entries and,
 * since issue #14, as many fallback words behind them), or XI_NODE_NONE. */
static __always_inline __u32 xi_fallback_of(void *table, __u32 slot, __u32 size)
{
    __u32 key = size + slot, *f = bpf_map_lookup_elem(table, &key);

    return f && *f < XI_MAX_NODES ? *f : XI_NODE_NONE;
}

#endif /* XI_BPF_FAILOVER_H */
