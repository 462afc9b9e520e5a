/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every struct that crosses the kernel/user boundary (map keys and values, XDP metadata, ring
 * buffer events), defined once for both builds. Padding is explicit and every layout is pinned by
 * size/offset asserts, so a change that would make the loader and the datapath disagree fails
 * to compile instead of corrupting a map. Wire-format fields are __be16/__be32.
 */
#ifndef XI_STRUCTS_H
#define XI_STRUCTS_H

#include "xi_common.h"

/*
 * An IP address as every table stores it: IPv6 as is, IPv4 as IPv4-mapped IPv6
 * (::ffff:a.b.c.d). One form means one LPM trie, one hash key, and an IPv6 packet addressed to
 * ::ffff:169.254.169.254 matches the same entries as IPv4 169.254.169.254.
 */
struct xi_addr {
    __be32 w[4];
};
XI_SIZE_ASSERT(struct xi_addr, 16);

/*
 * XDP -> TC hand-off, in the XDP metadata area in front of the packet, written only where the
 * kernel and the driver give XDP metadata (hand-off "xdp-mark"; docs/steering.md). The mark
 * saves TC the decision; it is never needed for correctness: an unmarked packet is decided by
 * TC ingress itself. Only an XDP program can write the area (it does not exist on the wire).
 *
 * XI_META_MAGIC marks a packet for a sibling edge (the layout every release has used, so an
 * `attach --replace` in either direction keeps forwarding). XI_META_PASS says XDP decided the
 * packet is not for the mesh: TC passes it without a second look. A TC program from before
 * XI_META_PASS existed treats it as unmarked and leaves it to the stack, which is right too.
 */
#define XI_META_MAGIC 0x58494d31u /* "XIM1": forward to owner */
#define XI_META_PASS 0x58494c31u  /* "XIL1": decided, stays on this edge */
#define XI_META_F_IPV6 0x01       /* the steered packet is IPv6 (encapsulate IP6IP6) */
struct xi_xdp_meta {
    __u32 magic;
    __u16 owner; /* node slot of the owning edge (XI_META_MAGIC) */
    __u8 gen;    /* generation slot the decision was taken in */
    __u8 flags;  /* XI_META_F_* */
};
XI_SIZE_ASSERT(struct xi_xdp_meta, 8);
XI_OFFSET_ASSERT(struct xi_xdp_meta, owner, 4);

/*
 * How the steering decision reaches TC ingress on the public interface (loader option
 * --handoff; recorded per attachment). Set in xdp_public's .rodata before load.
 */
#define XI_HANDOFF_NONE 0     /* not an edge hook, or recorded by a release without hand-offs */
#define XI_HANDOFF_TC 1       /* XDP drops malformed packets only; TC ingress decides */
#define XI_HANDOFF_XDP_MARK 2 /* XDP decides and marks; TC acts on the mark, decides unmarked */

/* xi_active[0]: which generation slot the datapath reads. Flipped by one 4-byte store. */
struct xi_active {
    __u32 slot;
    __u32 pad;
    __u64 generation;
};
XI_SIZE_ASSERT(struct xi_active, 16);

#define XI_CFG_METADATA_BLOCK 0x0001 /* deny metadata service addresses on the mesh */
#define XI_CFG_INGRESS_ALLOW 0x0002  /* default action on mesh ingress is allow */
#define XI_CFG_EGRESS_ALLOW 0x0004   /* default action on mesh egress is allow */
#define XI_CFG_SELF_EDGE 0x0008      /* this node is an edge (steers VIP traffic) */
#define XI_CFG_POLICY 0x0010         /* mesh policy is enforced */
#define XI_CFG_CLAMP_MESH 0x0020     /* clamp MSS of TCP crossing the mesh interface */
#define XI_CFG_TUNNEL_INSPECT                                                                      \
    0x0040 /* look into tunnels for metadata destinations (bpf/lib/tunnel.h) */
#define XI_CFG_TUNNEL_COUNT 0x0080  /* ... and count what is found instead of dropping it */
#define XI_CFG_UNPARSED_PASS 0x0100 /* pass IP a mesh hook cannot parse (VLAN/IPv6 chain depth) */
#define XI_CFG_GUARD_COUNT 0x0200   /* metadata guard: count marked metadata-bound packets, pass */
#define XI_CFG_SELF_DRAINING 0x0400 /* this node is an edge in state draining (health says so) */
#define XI_CFG_SELF_INACTIVE 0x0800 /* this node is an edge in state inactive (health says so) */

/* xi_gen_config[slot]: per-generation scalar settings. */
struct xi_gen_config {
    __u64 seed;       /* fleet-wide flow hash seed */
    __u64 generation; /* monotonically increasing policy generation */
    __u32 table_size; /* Maglev table size (prime) */
    __u32 mesh_ifindex;
    __u16 self_node; /* node slot of this node, XI_NODE_NONE if not in the table */
    __u16 flags;     /* XI_CFG_* */
    __u16 mesh_mtu;  /* MTU of this node's mesh interface */
    __u16 vip_mss4;  /* MSS clamp of VIP SYN-ACKs, IPv4 (fits IPv4-in-IPv4 through the mesh) */
    __u16 vip_mss6;  /* same for IPv6-in-IPv6 */
    __u16 mesh_mss4; /* MSS clamp of TCP across the mesh interface, IPv4 */
    __u16 mesh_mss6;
    __u16 pad0;
    __u32 ct_tcp_established_s; /* connection table idle timeouts */
    __u32 ct_tcp_transitory_s;
    __u32 ct_udp_s;
    __u32 ct_icmp_s;
    __u32 events_per_sec; /* event budget refill rate per CPU and bucket (deny, steer) */
    __u32 events_burst;
    __u32 vip_salt; /* bucket salt of xi_vip_slots in this generation */
    /* Until when (CLOCK_BOOTTIME >> 30, about seconds) this generation's previous owners give
     * flows a second chance (fleet.drain_timeout from the step's first publication); 0: no
     * limit. Zero (pad) in releases before second chance. */
    __u32 second_chance_until;
    /* UDP destination ports whose payload is VXLAN / Geneve (0: unused). In what releases
     * before tunnel inspection kept reserved (zero), so the value keeps its size. */
    __be16 vxlan_ports[XI_TUNNEL_PORTS];
    __be16 geneve_ports[XI_TUNNEL_PORTS];
    /* skb mark bits mesh ingress sets on what it passes, for the metadata guard on every other
     * interface (bpf/lib/guard.h); 0: the guard is off. Reserved (zero) before the guard. */
    __u32 guard_mark;
    /* UDP port of serve's sibling probes (fleet.failover, issue #14): allowed between edges'
     * mesh addresses whatever the rules say; 0: failover off. Reserved (zero) before it. */
    __be16 probe_port;
    __u16 reserved;
};
XI_SIZE_ASSERT(struct xi_gen_config, 96);
XI_OFFSET_ASSERT(struct xi_gen_config, table_size, 16);
XI_OFFSET_ASSERT(struct xi_gen_config, self_node, 24);
XI_OFFSET_ASSERT(struct xi_gen_config, ct_tcp_established_s, 40);
XI_OFFSET_ASSERT(struct xi_gen_config, vip_salt, 64);
XI_OFFSET_ASSERT(struct xi_gen_config, vxlan_ports, 72);
XI_OFFSET_ASSERT(struct xi_gen_config, geneve_ports, 80);
XI_OFFSET_ASSERT(struct xi_gen_config, guard_mark, 88);
XI_OFFSET_ASSERT(struct xi_gen_config, probe_port, 92);

/*
 * xi_maglev (per generation, an array of table_size __u32): who owns each slot. Bits 0-15: the
 * owner's node slot (XI_NODE_NONE: no edge takes traffic). Bits 16-31: the previous owner's
 * node slot + 1, 0 for none: set where the fleet before the current step (draining edges still
 * active, joining ones not yet) gives the slot to another edge, so a flow that edge still holds
 * gets a second chance there (issue #13). Releases before it wrote the owner alone, upper bits
 * zero: their tables read as "no previous owner", and the maps keep their 4-byte values.
 */
#define XI_MAGLEV_OWNER(e) ((__u32)(e)&0xffff)
/* Behind the table_size entries, the same inner map holds table_size more words: each slot's
 * fallback owner (its owner in the table built without its owner; XI_NODE_NONE for none), where
 * its packets go while this edge sees the owner down (issue #14). Releases before it published
 * table_size words: the lookup beyond them finds nothing, and no packet fails over. */
#define XI_MAGLEV_PREV(e) ((__u32)(e) >> 16 ? ((__u32)(e) >> 16) - 1 : XI_NODE_NONE)
#define XI_MAGLEV_ENTRY(owner, prev)                                                               \
    ((__u32)(owner) | ((prev) == XI_NODE_NONE ? 0u : ((__u32)(prev) + 1) << 16))

#define XI_NODE_F_VALID 0x01
#define XI_NODE_F_HAS4 0x02
#define XI_NODE_F_HAS6 0x04
#define XI_NODE_F_EDGE 0x08

/*
 * xi_peer_state[node slot]: what this edge's agent (serve) learned by probing its siblings
 * through the mesh (issue #14). Not part of a generation: health changes where a packet goes,
 * never the table. Zero for every node until serve writes it.
 */
#define XI_PEER_F_DOWN                                                                             \
    0x1 /* the node's data path does not answer: its slots go to their fallback */
/* xi_peer_state.state: the agent's probe verdict (status and /metrics; the datapath reads only
 * flags and recover_until). */
#define XI_PEER_UNKNOWN 0 /* no verdict yet: treated as up */
#define XI_PEER_UP 1
#define XI_PEER_DOWN 2
struct xi_peer_state {
    __u32 flags; /* XI_PEER_F_* */
    /* Own entry only: until when (CLOCK_BOOTTIME >> 30) a sibling that saw this edge down may
     * have sent this edge's flows to their fallback: a packet of an own slot with no socket
     * here gets a second chance there. 0: none. */
    __u32 recover_until;
    /* Written by serve for status and /metrics, never read by the datapath. Siblings: */
    __u32 state;  /* XI_PEER_* */
    __u32 rtt_us; /* round trip of the last answered probe */
    __u64 probes_sent;
    __u64 probes_answered;
    __u64 transitions;
    __u64 changed_at; /* CLOCK_REALTIME seconds of the last transition, 0: none */
    /* Own entry: how many siblings' last message said they see this edge down. */
    __u32 reported_down;
    __u32 pad;
};
XI_SIZE_ASSERT(struct xi_peer_state, 56);
XI_OFFSET_ASSERT(struct xi_peer_state, recover_until, 4);
XI_OFFSET_ASSERT(struct xi_peer_state, probes_sent, 16);
XI_OFFSET_ASSERT(struct xi_peer_state, reported_down, 48);

/* xi_nodes[gen * XI_MAX_NODES + slot]: the fleet's nodes. Slots are stable across reloads. */
struct xi_node {
    struct xi_addr mesh6; /* IPv6 mesh address (valid with XI_NODE_F_HAS6) */
    __be32 mesh4;         /* IPv4 mesh address (valid with XI_NODE_F_HAS4) */
    __u16 flags;          /* XI_NODE_F_* */
    __u16 weight;
};
XI_SIZE_ASSERT(struct xi_node, 24);
XI_OFFSET_ASSERT(struct xi_node, mesh4, 16);

/*
 * VIPs: (address, port, protocol) -> VIP. port 0 = any port of that protocol. The loader builds
 * an open-addressing table per generation (xi_vip_slots, a plain array: its lookups are inlined
 * by the verifier, so the common case - a packet that is not for a VIP - costs a few loads, not
 * a hash-map probe). Every key sits within XI_VIP_PROBES slots of its bucket; the loader picks a
 * salt that makes this true.
 */
#define XI_VIP_TABLE_BITS 12
#define XI_VIP_TABLE_SLOTS (1u << XI_VIP_TABLE_BITS) /* per generation */
#define XI_VIP_MAX_ENTRIES 1024                      /* keys per generation (load <= 1/4) */
#define XI_VIP_PROBES 4

struct xi_vip_key {
    struct xi_addr addr;
    __be16 port;
    __u8 proto;
    __u8 pad;
};
XI_SIZE_ASSERT(struct xi_vip_key, 20);
XI_OFFSET_ASSERT(struct xi_vip_key, port, 16);

/* A port-0 entry that exists only so fragments (which carry no ports) find their VIP. */
#define XI_VIP_F_FRAG_ONLY 0x0001
#define XI_VIP_F_USED 0x8000 /* slot holds a key */
struct xi_vip {
    __u16 id;
    __u16 flags;
};
XI_SIZE_ASSERT(struct xi_vip, 4);

/* xi_vip_slots[gen * XI_VIP_TABLE_SLOTS + slot] */
struct xi_vip_slot {
    struct xi_vip_key key;
    struct xi_vip vip;
};
XI_SIZE_ASSERT(struct xi_vip_slot, 24);

/* xi_idents (LPM trie, per generation): address -> role. prefixlen counts bits of addr. */
struct xi_ident_key {
    __u32 prefixlen;
    struct xi_addr addr;
};
XI_SIZE_ASSERT(struct xi_ident_key, 20);

#define XI_IDENT_F_METADATA 0x0001   /* a cloud metadata service address */
#define XI_IDENT_F_NODE 0x0002       /* the mesh address of a fleet node (node field valid) */
#define XI_IDENT_F_EDGE 0x0004       /* ... of an edge: may send steering traffic */
#define XI_IDENT_F_REPLY_ONLY 0x0008 /* the role may only answer connections opened to it */
struct xi_ident {
    __u16 role;
    __u16 flags; /* XI_IDENT_F_* */
    __u16 node;  /* node slot with XI_IDENT_F_NODE */
    __u16 pad;
};
XI_SIZE_ASSERT(struct xi_ident, 8);

/*
 * xi_rules (LPM trie, per generation). The roles are always matched in full (prefixlen >= 32);
 * the protocol (8 bits) and the destination port (16 bits, big-endian so that prefixes are port
 * ranges) follow. prefixlen 32 = any protocol, 40 = any port, 40 + n = port prefix of n bits.
 */
struct xi_rule_key {
    __u32 prefixlen;
    __u16 src_role;
    __u16 dst_role;
    __u8 proto;
    __u8 port[2]; /* destination port, network byte order */
    __u8 pad;
};
XI_SIZE_ASSERT(struct xi_rule_key, 12);
XI_OFFSET_ASSERT(struct xi_rule_key, proto, 8);
#define XI_RULE_PREFIX_ROLES 32
#define XI_RULE_PREFIX_PROTO 40
#define XI_RULE_PREFIX_FULL 56

#define XI_ACT_ALLOW 1
#define XI_ACT_DENY 2
struct xi_rule {
    __u16 slot; /* index into xi_rule_stats, names in the loader's catalog */
    __u8 action;
    __u8 flags;
};
XI_SIZE_ASSERT(struct xi_rule, 4);

struct xi_rule_ctr {
    __u64 packets;
    __u64 bytes;
};
XI_SIZE_ASSERT(struct xi_rule_ctr, 16);

/*
 * xi_ct (LRU hash, survives reloads): one entry per connection, key normalised so both
 * directions find it with one lookup: (a, port_a) is the numerically smaller endpoint.
 */
struct xi_ct_key {
    struct xi_addr a;
    struct xi_addr b;
    __be16 port_a; /* ICMP echo: the identifier on both sides */
    __be16 port_b;
    __u8 proto;
    /* 1: endpoint a is the remote side (its packets arrive on mesh ingress), 0: the local one.
     * In the key, so a packet only finds its connection at the hook its sender's packets
     * cross: the initiator's same-tuple packet arriving on the other hook is not a reply.
     * Padding in releases before it (0): their entries of local a-endpoints stay valid. */
    __u8 a_remote;
    __u8 pad[2];
};
XI_SIZE_ASSERT(struct xi_ct_key, 40);
XI_OFFSET_ASSERT(struct xi_ct_key, port_a, 32);
XI_OFFSET_ASSERT(struct xi_ct_key, a_remote, 37);

enum xi_ct_state {
    XI_CT_SYN_SENT = 1,    /* initiator's SYN seen */
    XI_CT_SYN_RECV = 2,    /* responder's SYN-ACK seen */
    XI_CT_ESTABLISHED = 3, /* initiator's ACK seen (or UDP/ICMP reply seen) */
    XI_CT_FIN = 4,         /* a FIN seen: closing */
    XI_CT_CLOSED = 5,      /* RST seen */
    XI_CT_OPEN = 6,        /* UDP / ICMP echo: request seen, no reply yet */
};
#define XI_CT_F_INIT_A 0x01 /* the initiator is endpoint a */
struct xi_ct {
    __u64 last_ns;
    __u8 state; /* enum xi_ct_state */
    __u8 flags; /* XI_CT_F_* */
    __u16 rule_slot;
    __u32 pad;
};
XI_SIZE_ASSERT(struct xi_ct, 16);

/* xi_frags (LRU hash): verdict of a first fragment, applied to the datagram's other fragments. */
struct xi_frag_key {
    struct xi_addr src;
    struct xi_addr dst;
    __u32 id; /* IPv4: 16-bit IP ID, IPv6: fragment header identification */
    __u8 proto;
    __u8 pad[3];
};
XI_SIZE_ASSERT(struct xi_frag_key, 40);

struct xi_frag {
    __u64 ts_ns;
    __u8 allow;
    __u8 reason;
    __u16 rule_slot;
    __u32 pad;
};
XI_SIZE_ASSERT(struct xi_frag, 16);

/* xi_events (ring buffer): one record per deny/steer event, rate-limited per CPU. */
#define XI_EV_F_IPV6 0x01
#define XI_EV_F_STEERED 0x02 /* the packet came out of a steering tunnel */
/* Made by the agent (serve), not by a packet: the reason field holds an enum xi_agent_ev, node
 * the sibling, src/dst the two mesh addresses, the ports the probe port; hook is 0xff. */
#define XI_EV_F_AGENT 0x04
enum xi_agent_ev {
    XI_AGENT_PEER_DOWN = 1, /* this edge's probes see the sibling down: its slots fail over */
    XI_AGENT_PEER_UP = 2,   /* answered again: its slots go back to it */
    XI_AGENT_SEEN_DOWN = 3, /* the sibling says it sees this edge down */
};
#define XI_EV_HOOK_AGENT 0xff
struct xi_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() */
    struct xi_addr src;
    struct xi_addr dst;
    __be16 sport;
    __be16 dport;
    __u8 proto;
    __u8 hook;   /* enum xi_hook */
    __u8 reason; /* enum xi_reason */
    __u8 flags;  /* XI_EV_F_* */
    __u16 src_role;
    __u16 dst_role;
    __u16 rule_slot; /* 0xffff: no rule */
    __u16 node;      /* steering events: the owner / sending edge */
};
XI_SIZE_ASSERT(struct xi_event, 56);
XI_OFFSET_ASSERT(struct xi_event, sport, 40);
XI_OFFSET_ASSERT(struct xi_event, src_role, 48);

/* xi_event_tokens[bucket] (per CPU): the events this CPU may still make, refilled by the
 * consumer (loader/kernel/event_budget.cpp), which also records when it last did. */
struct xi_tokens {
    __u64 last_ns;
    __u64 tokens;
};
XI_SIZE_ASSERT(struct xi_tokens, 16);

#endif /* XI_STRUCTS_H */
