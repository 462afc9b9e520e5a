/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Names and sizes both sides must agree on, defined once: the pinned maps' names, the inner
 * maps of the swapped tables, and the header sizes behind MTU and MSS arithmetic.
 */
#ifndef XI_NAMES_H
#define XI_NAMES_H

#include <linux/bpf.h>

#include "xi_common.h"

/*
 * Pinned maps. Each name is the BPF variable that declares the map (in bpf/lib/), which libbpf
 * uses as the map's name and the loader as its pin file's. XI_PINNED_MAPS lists them all, for
 * the test that finds each one pinned by a loaded datapath (tests/bpf/load_test.cpp).
 */
#define XI_MAP_ACTIVE "xi_active"
#define XI_MAP_GEN_CONFIG "xi_gen_config"
#define XI_MAP_NODES "xi_nodes"
#define XI_MAP_MAGLEV "xi_maglev"
#define XI_MAP_VIP_SLOTS "xi_vip_slots"
#define XI_MAP_IDENTS "xi_idents"
#define XI_MAP_RULES "xi_rules"
#define XI_MAP_STATS "xi_stats"
#define XI_MAP_NODE_STATS "xi_node_stats"
#define XI_MAP_RULE_STATS "xi_rule_stats"
#define XI_MAP_EVENT_TOKENS "xi_event_tokens"
#define XI_MAP_PEER_STATE "xi_peer_state"
#define XI_PINNED_MAPS(X)                                                                          \
    X(XI_MAP_ACTIVE)                                                                               \
    X(XI_MAP_GEN_CONFIG)                                                                           \
    X(XI_MAP_NODES)                                                                                \
    X(XI_MAP_MAGLEV)                                                                               \
    X(XI_MAP_VIP_SLOTS)                                                                            \
    X(XI_MAP_IDENTS)                                                                               \
    X(XI_MAP_RULES)                                                                                \
    X(XI_MAP_STATS)                                                                                \
    X(XI_MAP_NODE_STATS)                                                                           \
    X(XI_MAP_RULE_STATS)                                                                           \
    X(XI_MAP_EVENT_TOKENS)                                                                         \
    X(XI_MAP_PEER_STATE)

/*
 * The loader's own maps (not in any BPF object): which generation holds which tables, and the
 * loader's record of the instance (JSON; earlier releases wrote a binary one to xi_loader).
 */
#define XI_MAP_CATALOG "xi_catalog"
#define XI_MAP_STATE "xi_state"
#define XI_MAP_STATE_LEGACY "xi_loader"

/*
 * Inner maps of the swapped tables, created by the loader for each generation. The BPF side
 * declares the same type, size and flags as the outer map's template (bpf/lib/gen.h): the
 * kernel refuses an inner map that differs from the template.
 */
#define XI_MAP_MAGLEV_INNER "xi_maglev_tbl"
#define XI_MAP_IDENTS_INNER "xi_idents_tbl"
#define XI_MAP_RULES_INNER "xi_rules_tbl"
#define XI_LPM_INNER_MAX_ENTRIES 1048576
#define XI_LPM_INNER_FLAGS BPF_F_NO_PREALLOC  /* LPM tries must not preallocate */
#define XI_MAGLEV_INNER_FLAGS BPF_F_INNER_MAP /* its size may differ per generation */

/*
 * Header sizes, without options. Two different quantities are built from them:
 * - encapsulation overhead: what steering to the owner adds (an IPIP or IP6IP6 outer header);
 * - MSS headers: what an MSS leaves out of the MTU (IP + TCP).
 */
#define XI_IPV4_HDR_LEN 20
#define XI_IPV6_HDR_LEN 40
#define XI_TCP_HDR_LEN 20
#define XI_ENCAP_OVERHEAD_V4 XI_IPV4_HDR_LEN
#define XI_ENCAP_OVERHEAD_V6 XI_IPV6_HDR_LEN
#define XI_MSS_HDRS_V4 (XI_IPV4_HDR_LEN + XI_TCP_HDR_LEN)
#define XI_MSS_HDRS_V6 (XI_IPV6_HDR_LEN + XI_TCP_HDR_LEN)

#endif /* XI_NAMES_H */
