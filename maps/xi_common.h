/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Base definitions shared by the BPF programs (bpf/) and the C++ loader (loader/).
 * Everything under maps/ compiles as BPF C (clang -target bpf) and as C++20; keep it free of
 * anything only one side has.
 */
#ifndef XI_COMMON_H
#define XI_COMMON_H

#include <linux/types.h>

#ifdef __cplusplus
#define XI_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#define XI_INLINE static inline
#else
#define XI_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#ifdef __bpf__
#define XI_INLINE static __always_inline
#else
#define XI_INLINE static inline
#endif
#endif

#define XI_OFFSET_ASSERT(type, field, off)                                                         \
    XI_STATIC_ASSERT(__builtin_offsetof(type, field) == (off), #type "." #field " offset")
#define XI_SIZE_ASSERT(type, size) XI_STATIC_ASSERT(sizeof(type) == (size), #type " size")

/* Map name prefix: every map we create is called xi_<something>, so `bpftool map` shows ours. */
#define XI_MAP_PREFIX "xi_"

/* Hard limits compiled into both sides; the loader rejects configs that exceed them. */
#define XI_MAX_NODES 256        /* nodes (edges + backends) in one fleet config */
#define XI_MAX_ROLES 4096       /* identities (role ids 1..4094; 0 = world, 0xffff = any) */
#define XI_MAX_RULE_SLOTS 16384 /* per-rule counters */
#define XI_GEN_SLOTS 2          /* double-buffered generations of every reloadable table */
#define XI_REASON_SLOTS 128     /* counters per hook, indexed by enum xi_reason */
#define XI_TUNNEL_PORTS 4       /* VXLAN ports, Geneve ports a generation names (each) */
#define XI_HOOK_SLOTS 8         /* enum xi_hook */
#define XI_MAGLEV_DEFAULT_SIZE 65537
#define XI_MAGLEV_MAX_SIZE 1048573 /* largest prime below 2^20 */

/* The second-chance marker in a steering packet's outer header (issue #13, bpf/lib/encap.h):
 * IPv4 ID bit 15, IPv6 flow label bit 19 (header byte 1, bit 3). A wire contract between
 * edges: never change it. */
#define XI_ENCAP_ID_SECOND_CHANCE 0x8000
#define XI_ENCAP_FLOW_SECOND_CHANCE 0x08

#define XI_ROLE_WORLD 0
#define XI_ROLE_ANY 0xffff
#define XI_NODE_NONE 0xffff

#endif /* XI_COMMON_H */
