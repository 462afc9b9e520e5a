/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Stable, numbered verdict and drop reasons, and the hooks they are counted at.
 *
 * The numbers are a contract: dashboards, alerts and `monitor` output refer to them. Never
 * renumber, never reuse a retired number; append new reasons with new numbers. Numbers below
 * XI_DROP_BASE are packets that continue (passed, forwarded, rewritten); numbers from
 * XI_DROP_BASE up are drops. Counters live in the per-CPU array xi_stats at
 * [hook * XI_REASON_SLOTS + reason].
 */
#ifndef XI_REASONS_H
#define XI_REASONS_H

#include "xi_common.h"

/* X(number, ENUM_SUFFIX, "metric_label", "one-line description") */
#define XI_REASON_TABLE(X)                                                                         \
    X(1, PASS_NOT_VIP, "pass_not_vip", "not addressed to a configured VIP: passed untouched")      \
    X(2, PASS_NOT_IP, "pass_not_ip", "neither IPv4 nor IPv6: passed untouched")                    \
    X(3, LOCAL, "local", "VIP flow owned by this edge: delivered locally")                         \
    X(4, FORWARD, "forward", "VIP flow owned by a sibling edge: sent to its owner via the mesh")   \
    X(5, ICMP_STEERED, "icmp_steered", "ICMP error for a VIP flow, steered by its inner header")   \
    X(6, FRAGMENT, "fragment", "fragment of a VIP datagram, steered by its 3-tuple")               \
    X(7, REDIRECT, "redirect", "encapsulated and redirected into the mesh interface")              \
    X(8, UNMARKED, "unmarked",                                                                     \
      "retired: no XDP mark, left to the stack (releases before hand-offs; still shown)")          \
    X(9, PUBLIC_ENCAP, "public_encap", "IPIP/IP6IP6 arriving on the public side: never steered")   \
    X(10, DECAP, "decap", "steering traffic from a sibling edge decapsulated for a local VIP")     \
    X(11, MSS_CLAMPED, "mss_clamped", "TCP MSS option lowered to fit the mesh")                    \
    X(12, ALLOW_RULE, "allow_rule", "allowed by a rule")                                           \
    X(13, ALLOW_DEFAULT, "allow_default", "allowed by the default action")                         \
    X(14, ALLOW_TRACKED, "allow_tracked", "part of a tracked connection")                          \
    X(15, ALLOW_ICMP_RELATED, "allow_icmp_related", "ICMP error related to a tracked connection")  \
    X(16, STEER_OUT, "steer_out", "encapsulated steering traffic leaving for a sibling edge")      \
    X(17, NO_TABLE, "no_table", "no Maglev table or owner: VIP flow delivered locally")            \
    X(18, PASS_NOT_STEERED, "pass_not_steered", "VIP flow this node does not steer (not an edge)") \
    X(19, ALLOW_NDP, "allow_ndp", "IPv6 neighbour discovery or MLD on the link: always allowed")   \
    X(20, PASS_EXTHDR, "pass_exthdr",                                                              \
      "IPv6 extension chain longer than inspected: passed to the stack, not steered")              \
    X(21, LOCAL_FALLBACK, "local_fallback",                                                        \
      "retired: XDP could not mark, delivered locally (releases before hand-offs; still shown)")   \
    X(22, MARK_FAILED, "mark_failed",                                                              \
      "XDP could not attach its decision (no metadata room): passed unmarked, TC decides")         \
    X(23, TC_DECIDES, "tc_decides", "passed unmarked: TC ingress makes the steering decision")     \
    X(24, XDP_DECIDED, "xdp_decided", "XDP's mark says: not for the mesh, passed to the stack")    \
    X(25, TUNNEL_METADATA_SEEN, "tunnel_metadata_seen",                                            \
      "tunnel whose inner packet is bound for a metadata address: counted, not dropped (count)")   \
    X(26, PASS_VLAN_DEPTH, "pass_vlan_depth",                                                      \
      "more VLAN tags than a mesh hook inspects: passed unchecked (unparsed: pass)")               \
    X(28, SECOND_CHANCE_OUT, "second_chance_out",                                                  \
      "moved slot, no socket here for the flow: sent once to the slot's previous owner")           \
    X(29, SECOND_CHANCE_IN, "second_chance_in",                                                    \
      "a second chance from the new owner: delivered here, never forwarded again")                 \
    X(30, SECOND_CHANCE_HELD, "second_chance_held",                                                \
      "moved slot, the flow's socket (or a new flow) is here: delivered locally")                  \
    X(31, FAILOVER_OUT, "failover_out",                                                            \
      "owner down as this edge's probes see it: sent once, marked, to the slot's fallback owner")  \
    X(32, FAILOVER_LOCAL, "failover_local",                                                        \
      "owner down as this edge's probes see it, and this edge is the slot's fallback: local")      \
    X(33, ALLOW_PROBE, "allow_probe",                                                              \
      "a sibling probe (UDP probe port, edge to edge): allowed whatever the rules say")            \
    X(27, GUARD_METADATA_SEEN, "guard_metadata_seen",                                              \
      "came in through the mesh, now bound for a metadata address: counted, passed (guard count)") \
    X(64, DROP_TRUNCATED, "truncated", "header truncated")                                         \
    X(65, DROP_BAD_HEADER, "bad_header", "malformed header (IHL, version, length, TCP offset)")    \
    X(66, DROP_EXTHDR, "ipv6_exthdr", "IPv6 extension header chain too long or not allowed")       \
    X(67, DROP_ENCAP_FAILED, "encap_failed", "encapsulation failed (headroom or helper error)")    \
    X(68, DROP_MESH_MTU, "mesh_mtu", "would exceed the mesh MTU after encapsulation")              \
    X(69, DROP_DECAP_UNKNOWN, "decap_unknown_source",                                              \
      "encapsulated packet whose outer source is not a sibling edge")                              \
    X(70, DROP_DECAP_FAILED, "decap_failed", "decapsulation failed")                               \
    X(71, DROP_METADATA, "metadata", "cloud metadata service address")                             \
    X(72, DROP_RULE, "deny_rule", "denied by a rule")                                              \
    X(73, DROP_DEFAULT, "deny_default", "denied by the default action")                            \
    X(74, DROP_REPLY_ONLY, "reply_only", "reply-only role sending outside a tracked connection")   \
    X(75, DROP_FRAG_UNTRACKED, "fragment_untracked",                                               \
      "non-first fragment whose first fragment was not seen or not allowed")                       \
    X(76, DROP_FRAG_TINY, "fragment_tiny", "first fragment too short to hold the L4 header")       \
    X(77, DROP_STEERED_NOT_VIP, "steered_not_vip",                                                 \
      "decapsulated client traffic not addressed to a local VIP")                                  \
    X(78, DROP_NO_POLICY, "no_policy", "no policy loaded")                                         \
    X(79, DROP_REDIRECT_FAILED, "redirect_failed", "redirect into the mesh interface failed")      \
    X(80, DROP_NOT_ENCAP_TARGET, "mark_invalid", "steering mark names no usable sibling")          \
    X(81, DROP_GRE_METADATA, "gre_metadata",                                                       \
      "GRE whose inner packet is bound for a metadata address")                                    \
    X(82, DROP_VXLAN_METADATA, "vxlan_metadata",                                                   \
      "VXLAN whose inner packet is bound for a metadata address")                                  \
    X(83, DROP_GENEVE_METADATA, "geneve_metadata",                                                 \
      "Geneve whose inner packet is bound for a metadata address")                                 \
    X(84, DROP_IPIP_METADATA, "ipip_metadata",                                                     \
      "IP in IP (IPIP, IP6IP6, 6in4, 4in6) whose inner packet is bound for a metadata address")    \
    X(85, DROP_VLAN_DEPTH, "vlan_depth",                                                           \
      "more VLAN tags than a mesh hook inspects (unparsed: drop)")                                 \
    X(86, DROP_MESH_TO_METADATA, "mesh_to_metadata",                                               \
      "came in through the mesh (marked), bound for a metadata address after decapsulation")

/*
 * Retired: 8 (unmarked) and 21 (local_fallback) are counted by no program of this release. They
 * stay in the table so that counts an older release's programs left before an upgrade keep
 * their names in status and /metrics; their numbers are never reused.
 */
enum xi_reason {
#define XI_REASON_ENUM(num, name, label, desc) XI_R_##name = num,
    XI_REASON_TABLE(XI_REASON_ENUM)
#undef XI_REASON_ENUM
};

#define XI_DROP_BASE 64

/* Where a counter was taken. Stable numbers too. */
#define XI_HOOK_TABLE(X)                                                                           \
    X(0, XDP_PUBLIC, "xdp", "public", "ingress")                                                   \
    X(1, TC_PUBLIC_INGRESS, "tc", "public", "ingress")                                             \
    X(2, TC_PUBLIC_EGRESS, "tc", "public", "egress")                                               \
    X(3, TC_MESH_INGRESS, "tc", "mesh", "ingress")                                                 \
    X(4, TC_MESH_EGRESS, "tc", "mesh", "egress")                                                   \
    X(5, TC_GUARD_INGRESS, "tc", "guard", "ingress")                                               \
    X(6, TC_GUARD_EGRESS, "tc", "guard", "egress")

enum xi_hook {
#define XI_HOOK_ENUM(num, name, kind, side, dir) XI_HOOK_##name = num,
    XI_HOOK_TABLE(XI_HOOK_ENUM)
#undef XI_HOOK_ENUM
};

XI_STATIC_ASSERT(XI_R_DROP_MESH_TO_METADATA < XI_REASON_SLOTS,
                 "reason numbers fit the counter array");
XI_STATIC_ASSERT(XI_HOOK_TC_GUARD_EGRESS < XI_HOOK_SLOTS, "hook numbers fit the counter array");

/* Per-node counters (xi_node_stats at [node_slot * XI_NODE_CTR_SLOTS + counter]). */
enum xi_node_ctr {
    XI_NODE_FWD_PACKETS = 0,
    XI_NODE_FWD_BYTES = 1,
    XI_NODE_DECAP_PACKETS = 2,
    XI_NODE_DECAP_BYTES = 3,
};
#define XI_NODE_CTR_SLOTS 4

#endif /* XI_REASONS_H */
