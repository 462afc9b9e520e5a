/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Generations: everything a reload changes exists twice (slot 0 and 1). The loader fills the
 * inactive slot completely, then flips xi_active.slot with one 4-byte store; a packet reads the
 * slot once and does all its lookups in it, so it sees one whole generation, never a mix and
 * never a half-written table. Scalar settings and the node table are plain arrays indexed by
 * slot; tables whose size varies (Maglev, VIPs, identities, rules) are map-in-map with an inner
 * map per slot that the loader creates and swaps in.
 */
#ifndef XI_BPF_GEN_H
#define XI_BPF_GEN_H

#include "common.h"
#include "xi_names.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct xi_active);
} xi_active SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, XI_GEN_SLOTS);
    __type(key, __u32);
    __type(value, struct xi_gen_config);
} xi_gen_config SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, XI_GEN_SLOTS *XI_MAX_NODES);
    __type(key, __u32);
    __type(value, struct xi_node);
} xi_nodes SEC(".maps");

/*
 * Inner map templates give sizes, not BTF types: clang emits only a forward declaration for
 * struct types reached through __array(), and libbpf cannot size a forward declaration.
 */

/* Maglev: slot -> node slot. BPF_F_INNER_MAP lets a reload change the table size. */
struct xi_maglev_inner {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, XI_MAGLEV_INNER_FLAGS);
    __uint(max_entries, XI_MAGLEV_DEFAULT_SIZE);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, XI_GEN_SLOTS);
    __type(key, __u32);
    __array(values, struct xi_maglev_inner);
} xi_maglev SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, XI_GEN_SLOTS *XI_VIP_TABLE_SLOTS);
    __type(key, __u32);
    __type(value, struct xi_vip_slot);
} xi_vip_slots SEC(".maps");

/* Identities (and metadata addresses, and node mesh addresses): address -> role. */
struct xi_idents_inner {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(map_flags, XI_LPM_INNER_FLAGS);
    __uint(max_entries, XI_LPM_INNER_MAX_ENTRIES);
    __uint(key_size, sizeof(struct xi_ident_key));
    __uint(value_size, sizeof(struct xi_ident));
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, XI_GEN_SLOTS);
    __type(key, __u32);
    __array(values, struct xi_idents_inner);
} xi_idents SEC(".maps");

/* Rules: (src role, dst role, protocol, port prefix) -> action + rule slot. */
struct xi_rules_inner {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(map_flags, XI_LPM_INNER_FLAGS);
    __uint(max_entries, XI_LPM_INNER_MAX_ENTRIES);
    __uint(key_size, sizeof(struct xi_rule_key));
    __uint(value_size, sizeof(struct xi_rule));
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, XI_GEN_SLOTS);
    __type(key, __u32);
    __array(values, struct xi_rules_inner);
} xi_rules SEC(".maps");

struct xi_gen {
    __u32 slot;
    struct xi_gen_config *cfg;
};

/* The active generation; false when the loader has not published one yet. */
static __always_inline int xi_gen_current(struct xi_gen *g)
{
    __u32 zero = 0;
    struct xi_active *a = bpf_map_lookup_elem(&xi_active, &zero);
    __u32 slot;

    if (!a)
        return 0;
    slot = a->slot;
    if (slot >= XI_GEN_SLOTS)
        return 0;
    g->cfg = bpf_map_lookup_elem(&xi_gen_config, &slot);
    if (!g->cfg || !g->cfg->generation)
        return 0;
    g->slot = slot;
    return 1;
}

static __always_inline struct xi_node *xi_node_get(__u32 gen_slot, __u32 node)
{
    __u32 key;

    if (node >= XI_MAX_NODES || gen_slot >= XI_GEN_SLOTS)
        return NULL;
    key = gen_slot * XI_MAX_NODES + node;
    return bpf_map_lookup_elem(&xi_nodes, &key);
}

static __always_inline struct xi_ident *xi_ident_lookup(__u32 gen_slot, const struct xi_addr *a)
{
    struct xi_ident_key key = {.prefixlen = 128};
    void *inner = bpf_map_lookup_elem(&xi_idents, &gen_slot);

    if (!inner)
        return NULL;
    key.addr = *a;
    return bpf_map_lookup_elem(inner, &key);
}

#endif /* XI_BPF_GEN_H */
