/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Tunnels the mesh hooks look into (issue #12): a packet to a metadata address carried inside
 * GRE, VXLAN, Geneve or IP in IP passes the outer checks, and whoever terminates the tunnel
 * routes it to *its* metadata service with *its* credentials. Only the inner destination is
 * checked: VXLAN over the mesh is legitimate (Flannel), so a tunnel is never denied for being
 * one. IP in IP is looked into on egress only; on ingress it is steering traffic, which
 * xi_mesh_decap checks after decapsulation, or dropped as not from a sibling.
 *
 * Headers are read with bpf_skb_load_bytes, not direct access: the inner header can sit past
 * the linear area (IPv6 extension headers, Geneve options), and tunnels are the uncommon case.
 */
#ifndef XI_BPF_TUNNEL_H
#define XI_BPF_TUNNEL_H

#include "common.h"
#include "gen.h"
#include "parse.h"

#ifndef IPPROTO_GRE
#define IPPROTO_GRE 47
#endif
#define XI_ETH_P_TEB 0x6558 /* transparent Ethernet bridging: an Ethernet frame follows */

#define XI_GRE_F_CSUM 0x8000
#define XI_GRE_F_KEY 0x2000
#define XI_GRE_F_SEQ 0x1000
#define XI_GRE_VERSION 0x0007
#define XI_VXLAN_HLEN 8
#define XI_GENEVE_HLEN 8

/* Where a tunnel's inner packet starts and what it is (an EtherType). */
struct xi_tunnel {
    __u32 off;
    __be16 proto;
    __u8 drop_reason; /* XI_R_DROP_*_METADATA of this kind of tunnel */
};

static __always_inline int xi_port_listed(const __be16 *ports, __be16 port)
{
#pragma unroll
    for (int i = 0; i < XI_TUNNEL_PORTS; i++)
        if (ports[i] && ports[i] == port)
            return 1;
    return 0;
}

/* GRE version 0 (RFC 2784/2890); version 1 is PPTP's, which carries PPP, not IP. */
static __always_inline int xi_tunnel_gre(struct __sk_buff *skb, __u32 off, struct xi_tunnel *t)
{
    __be16 h[2];
    __u16 flags;

    if (bpf_skb_load_bytes(skb, off, h, sizeof(h)))
        return -1;
    flags = bpf_ntohs(h[0]);
    if (flags & XI_GRE_VERSION)
        return 0;
    t->off = off + sizeof(h) +
             4 * (!!(flags & XI_GRE_F_CSUM) + !!(flags & XI_GRE_F_KEY) + !!(flags & XI_GRE_F_SEQ));
    t->proto = h[1];
    t->drop_reason = XI_R_DROP_GRE_METADATA;
    return 1;
}

/* Geneve (RFC 8926): version 0, options of 4-byte words, then a packet of the EtherType. */
static __always_inline int xi_tunnel_geneve(struct __sk_buff *skb, __u32 off, struct xi_tunnel *t)
{
    struct {
        __u8 ver_optlen; /* version (2 bits), options length in 4-byte words (6) */
        __u8 flags;
        __be16 proto;
    } h;

    if (bpf_skb_load_bytes(skb, off, &h, sizeof(h)))
        return -1;
    if (h.ver_optlen >> 6)
        return 0;
    t->off = off + XI_GENEVE_HLEN + (h.ver_optlen & 0x3f) * 4;
    t->proto = h.proto;
    t->drop_reason = XI_R_DROP_GENEVE_METADATA;
    return 1;
}

/*
 * Is p a tunnel this hook looks into? 1 with *t filled, 0 if not, -1 if its tunnel header is
 * cut short (the caller treats that as truncated: a header it cannot read is not let past).
 */
static __always_inline int xi_tunnel_of(struct __sk_buff *skb, const struct xi_gen_config *cfg,
                                        const struct xi_pkt *p, int egress, struct xi_tunnel *t)
{
    if (!(p->flags & XI_PKT_F_L4) || (p->flags & XI_PKT_F_ICMP_ERR))
        return 0;
    switch (p->proto) {
    case IPPROTO_GRE:
        return xi_tunnel_gre(skb, p->l4_off, t);
    case IPPROTO_UDP:
        if (xi_port_listed(cfg->vxlan_ports, p->dport)) {
            t->off = p->l4_off + sizeof(struct udphdr) + XI_VXLAN_HLEN;
            t->proto = bpf_htons(XI_ETH_P_TEB);
            t->drop_reason = XI_R_DROP_VXLAN_METADATA;
            return 1;
        }
        if (xi_port_listed(cfg->geneve_ports, p->dport))
            return xi_tunnel_geneve(skb, p->l4_off + sizeof(struct udphdr), t);
        return 0;
    case IPPROTO_IPIP:
    case IPPROTO_IPV6:
        if (!egress)
            return 0;
        t->off = p->l4_off;
        t->proto = bpf_htons(p->proto == IPPROTO_IPIP ? ETH_P_IP : ETH_P_IPV6);
        t->drop_reason = XI_R_DROP_IPIP_METADATA;
        return 1;
    }
    return 0;
}

/*
 * The inner packet's destination: after an Ethernet header and up to XI_MAX_VLAN tags when the
 * tunnel carries frames. 1 with *dst filled; 0 when the inner packet is not IP (ARP, ...);
 * -1 when it is cut short.
 */
static __always_inline int xi_tunnel_inner_dst(struct __sk_buff *skb, const struct xi_tunnel *t,
                                               struct xi_addr *dst)
{
    __u32 off = t->off;
    __be16 proto = t->proto;

    if (proto == bpf_htons(XI_ETH_P_TEB)) {
        if (bpf_skb_load_bytes(skb, off + 2 * ETH_ALEN, &proto, sizeof(proto)))
            return -1;
        off += ETH_HLEN;
#pragma unroll
        for (int i = 0; i < XI_MAX_VLAN; i++) {
            if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
                break;
            if (bpf_skb_load_bytes(skb, off + 2, &proto, sizeof(proto)))
                return -1;
            off += 4;
        }
    }
    if (proto == bpf_htons(ETH_P_IP)) {
        __be32 d;

        if (bpf_skb_load_bytes(skb, off + offsetof(struct iphdr, daddr), &d, sizeof(d)))
            return -1;
        xi_addr_from4(dst, d);
        return 1;
    }
    if (proto == bpf_htons(ETH_P_IPV6)) {
        struct in6_addr d;

        if (bpf_skb_load_bytes(skb, off + offsetof(struct ipv6hdr, daddr), &d, sizeof(d)))
            return -1;
        xi_addr_from6(dst, &d);
        return 1;
    }
    return 0;
}

/*
 * The tunnel check of one packet on a mesh hook: 0 to go on (no tunnel, an inner packet not
 * bound for a metadata address, or found and counted in count mode), else the drop reason.
 */
static __always_inline __u32 xi_tunnel_check(struct __sk_buff *skb, const struct xi_gen *g,
                                             const struct xi_pkt *p, __u32 hook, int egress)
{
    const struct xi_gen_config *cfg = g->cfg;
    struct xi_tunnel t = {};
    struct xi_addr inner = {};
    struct xi_ident *id;
    int r;

    if ((cfg->flags & (XI_CFG_TUNNEL_INSPECT | XI_CFG_METADATA_BLOCK)) !=
        (XI_CFG_TUNNEL_INSPECT | XI_CFG_METADATA_BLOCK))
        return 0;
    r = xi_tunnel_of(skb, cfg, p, egress, &t);
    if (r > 0)
        r = xi_tunnel_inner_dst(skb, &t, &inner);
    if (r < 0)
        return XI_R_DROP_TRUNCATED;
    if (!r)
        return 0;
    id = xi_ident_lookup(g->slot, &inner);
    if (!id || !(id->flags & XI_IDENT_F_METADATA))
        return 0;
    if (cfg->flags & XI_CFG_TUNNEL_COUNT) {
        xi_count(hook, XI_R_TUNNEL_METADATA_SEEN);
        return 0;
    }
    return t.drop_reason;
}

#endif /* XI_BPF_TUNNEL_H */
