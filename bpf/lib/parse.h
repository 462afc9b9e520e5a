/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounds-checked packet parsing shared by every hook: Ethernet + up to two VLAN tags, IPv4 (with
 * options), IPv6 (bounded walk over extension headers), TCP, UDP, ICMP/ICMPv6 including the
 * header embedded in ICMP errors. Works on any [data, data_end) window, so XDP, TC with an
 * Ethernet header and TC on an L3 device (data starts at the IP header) share it.
 *
 * Beyond the usual bounds checks it rejects what an attacker would use to hide ports from a
 * filter: IHL < 5, TCP data offset < 5, first fragments too short for the L4 header, TCP
 * fragments at offset 8 (RFC 1858 overlap), extension-header chains longer than we walk.
 * Returns 0 or an enum xi_reason telling why the packet could not be parsed.
 */
#ifndef XI_BPF_PARSE_H
#define XI_BPF_PARSE_H

#include "common.h"

#define XI_MAX_VLAN 2
#define XI_MAX_EXTHDR 6
/* Upper bound of any header offset we follow; keeps packet pointer arithmetic verifiable. */
#define XI_MAX_HDR_OFF 384

#define XI_IP_MF 0x2000
#define XI_IP_OFFSET 0x1fff
#define XI_IP6_MF 0x0001
#define XI_IP6_OFFSET 0xfff8

#define XI_TCP_FIN 0x01
#define XI_TCP_SYN 0x02
#define XI_TCP_RST 0x04
#define XI_TCP_PSH 0x08
#define XI_TCP_ACK 0x10

#define XI_PKT_F_L4 0x01         /* L4 header present: ports / ICMP type valid */
#define XI_PKT_F_FRAG 0x02       /* part of a fragmented datagram */
#define XI_PKT_F_FRAG_FIRST 0x04 /* ... and it is the first fragment */
#define XI_PKT_F_ICMP_ERR 0x08   /* ICMP error; in_* hold the embedded packet's tuple */
#define XI_PKT_F_ICMP_ECHO 0x10  /* ICMP echo request/reply; sport = dport = identifier */
#define XI_PKT_F_ICMP_REQ 0x20   /* ... and it is the request */

struct xi_vlan_hdr {
    __be16 tci;
    __be16 proto;
};

struct xi_ip6_frag_hdr {
    __u8 nexthdr;
    __u8 reserved;
    __be16 frag_off;
    __be32 id;
};

struct xi_pkt {
    struct xi_addr src;
    struct xi_addr dst;
    struct xi_addr in_src; /* ICMP errors: the embedded packet, as its sender sent it */
    struct xi_addr in_dst;
    __be16 in_sport;
    __be16 in_dport;
    __be16 sport; /* TCP/UDP ports; ICMP echo: the identifier, in both */
    __be16 dport;
    __u32 frag_id;
    __u16 l3_off;
    __u16 l4_off; /* with XI_PKT_F_L4 */
    __u16 l3_len; /* datagram length according to the IP header */
    __u8 family;  /* 4 or 6 */
    __u8 proto;   /* upper-layer protocol, after IPv6 extension headers */
    __u8 flags;   /* XI_PKT_F_* */
    __u8 tcp_flags;
    __u8 tos; /* IPv4 TOS / IPv6 traffic class: DSCP + ECN */
    __u8 ttl; /* IPv4 TTL / IPv6 hop limit */
    __u8 icmp_type;
    __u8 icmp_code;
    __u8 in_proto;
    __u8 pad;
};

static __always_inline void xi_addr_from4(struct xi_addr *a, __be32 v4)
{
    a->w[0] = 0;
    a->w[1] = 0;
    a->w[2] = bpf_htonl(0x0000ffff);
    a->w[3] = v4;
}

static __always_inline void xi_addr_from6(struct xi_addr *a, const struct in6_addr *v6)
{
    __builtin_memcpy(a, v6, sizeof(*a));
}

/*
 * Ethernet and up to max_tags 802.1Q/802.1ad tags in the data (XI_MAX_VLAN in all: TC passes
 * fewer when the stack has already moved the outer tag into skb->vlan_tci, so that XDP and TC
 * parse the same frames as IP). *l3_off, *proto: what follows.
 */
static __always_inline int xi_parse_eth_tags(void *data, void *end, __u32 max_tags, __u32 *l3_off,
                                             __be16 *proto)
{
    struct ethhdr *eth = data;
    __u32 off = sizeof(*eth);
    __be16 p;

    if ((void *)(eth + 1) > end)
        return XI_R_DROP_TRUNCATED;
    p = eth->h_proto;
#pragma unroll
    for (__u32 i = 0; i < XI_MAX_VLAN; i++) {
        struct xi_vlan_hdr *vh = data + off;

        if (i >= max_tags || (p != bpf_htons(ETH_P_8021Q) && p != bpf_htons(ETH_P_8021AD)))
            break;
        if ((void *)(vh + 1) > end)
            return XI_R_DROP_TRUNCATED;
        p = vh->proto;
        off += sizeof(*vh);
    }
    *l3_off = off;
    *proto = p;
    return 0;
}

static __always_inline int xi_parse_eth(void *data, void *end, __u32 *l3_off, __be16 *proto)
{
    return xi_parse_eth_tags(data, end, XI_MAX_VLAN, l3_off, proto);
}

static __always_inline int xi_icmp_is_error4(__u8 type)
{
    return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
}

static __always_inline int xi_icmp_is_error6(__u8 type)
{
    return type == ICMPV6_DEST_UNREACH || type == ICMPV6_PKT_TOOBIG || type == ICMPV6_TIME_EXCEED ||
           type == ICMPV6_PARAMPROB;
}

/*
 * The packet embedded in an ICMP error: its IP header and the first 8 bytes of its L4 header
 * (RFC 792 / RFC 4443 guarantee at least that much). No extension-header walk for IPv6: an
 * inner packet with extension headers is reported without ports.
 */
static __always_inline int xi_parse_icmp_inner(void *data, void *end, __u32 off, __u8 family,
                                               struct xi_pkt *p)
{
    __u32 l4;

    if (off > XI_MAX_HDR_OFF)
        return XI_R_DROP_BAD_HEADER;
    if (family == 4) {
        struct iphdr *ip = data + off;

        if ((void *)(ip + 1) > end)
            return XI_R_DROP_TRUNCATED;
        if (ip->version != 4 || ip->ihl < 5)
            return XI_R_DROP_BAD_HEADER;
        xi_addr_from4(&p->in_src, ip->saddr);
        xi_addr_from4(&p->in_dst, ip->daddr);
        p->in_proto = ip->protocol;
        l4 = off + ip->ihl * 4;
    } else {
        struct ipv6hdr *ip6 = data + off;

        if ((void *)(ip6 + 1) > end)
            return XI_R_DROP_TRUNCATED;
        xi_addr_from6(&p->in_src, &ip6->saddr);
        xi_addr_from6(&p->in_dst, &ip6->daddr);
        p->in_proto = ip6->nexthdr;
        l4 = off + sizeof(*ip6);
    }
    if (l4 > XI_MAX_HDR_OFF)
        return XI_R_DROP_BAD_HEADER;
    {
        __be16 *ports = data + l4;

        if ((void *)(ports + 2) > end)
            return XI_R_DROP_TRUNCATED;
        p->in_sport = ports[0];
        p->in_dport = ports[1];
        if (p->in_proto == IPPROTO_ICMP || p->in_proto == IPPROTO_ICMPV6) {
            /* An error about an echo: the identifier stands for the ports (conntrack key). */
            if ((void *)(ports + 3) > end)
                return XI_R_DROP_TRUNCATED;
            p->in_sport = ports[2];
            p->in_dport = ports[2];
        }
    }
    p->flags |= XI_PKT_F_ICMP_ERR;
    return 0;
}

/* L4 header at off. avail: bytes of L4 data this datagram carries (from the IP length). */
static __always_inline int xi_parse_l4(void *data, void *end, __u32 off, __u32 avail,
                                       struct xi_pkt *p)
{
    if (off > XI_MAX_HDR_OFF)
        return XI_R_DROP_EXTHDR;
    p->l4_off = off;
    switch (p->proto) {
    case IPPROTO_TCP: {
        struct tcphdr *th = data + off;

        if ((p->flags & XI_PKT_F_FRAG) && avail < sizeof(*th))
            return XI_R_DROP_FRAG_TINY;
        if ((void *)(th + 1) > end)
            return XI_R_DROP_TRUNCATED;
        if (th->doff < 5)
            return XI_R_DROP_BAD_HEADER;
        p->sport = th->source;
        p->dport = th->dest;
        p->tcp_flags = ((__u8 *)th)[13];
        break;
    }
    case IPPROTO_UDP: {
        struct udphdr *uh = data + off;

        if ((p->flags & XI_PKT_F_FRAG) && avail < sizeof(*uh))
            return XI_R_DROP_FRAG_TINY;
        if ((void *)(uh + 1) > end)
            return XI_R_DROP_TRUNCATED;
        p->sport = uh->source;
        p->dport = uh->dest;
        break;
    }
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6: {
        struct xi_icmphdr *ih = data + off;
        int err;

        if ((p->flags & XI_PKT_F_FRAG) && avail < sizeof(*ih))
            return XI_R_DROP_FRAG_TINY;
        if ((void *)(ih + 1) > end)
            return XI_R_DROP_TRUNCATED;
        if ((p->proto == IPPROTO_ICMP) != (p->family == 4))
            break; /* ICMP in IPv6 or ICMPv6 in IPv4: no meaning, no ports */
        p->icmp_type = ih->type;
        p->icmp_code = ih->code;
        if (p->family == 4 ? (ih->type == ICMP_ECHO || ih->type == ICMP_ECHOREPLY)
                           : (ih->type == ICMPV6_ECHO_REQUEST || ih->type == ICMPV6_ECHO_REPLY)) {
            p->sport = ih->id;
            p->dport = ih->id;
            p->flags |= XI_PKT_F_ICMP_ECHO;
            if (ih->type == ICMP_ECHO || ih->type == ICMPV6_ECHO_REQUEST)
                p->flags |= XI_PKT_F_ICMP_REQ;
        } else if (p->family == 4 ? xi_icmp_is_error4(ih->type) : xi_icmp_is_error6(ih->type)) {
            /* Errors are never fragmented in practice; a fragmented one keeps no inner tuple. */
            if (!(p->flags & XI_PKT_F_FRAG)) {
                err = xi_parse_icmp_inner(data, end, off + sizeof(*ih), p->family, p);
                if (err)
                    return err;
            }
        }
        break;
    }
    default:
        break;
    }
    p->flags |= XI_PKT_F_L4;
    return 0;
}

static __always_inline int xi_parse_ipv4(void *data, void *end, __u32 off, struct xi_pkt *p)
{
    struct iphdr *ip = data + off;
    __u32 hl, tot, frag;

    if (off > XI_MAX_HDR_OFF)
        return XI_R_DROP_BAD_HEADER;
    if ((void *)(ip + 1) > end)
        return XI_R_DROP_TRUNCATED;
    if (ip->version != 4 || ip->ihl < 5)
        return XI_R_DROP_BAD_HEADER;
    hl = ip->ihl * 4;
    tot = bpf_ntohs(ip->tot_len);
    if (tot < hl)
        return XI_R_DROP_BAD_HEADER;
    if (data + off + hl > end) /* options must be there too */
        return XI_R_DROP_TRUNCATED;

    p->family = 4;
    p->l3_off = off;
    p->l3_len = tot;
    p->proto = ip->protocol;
    p->tos = ip->tos;
    p->ttl = ip->ttl;
    xi_addr_from4(&p->src, ip->saddr);
    xi_addr_from4(&p->dst, ip->daddr);

    frag = bpf_ntohs(ip->frag_off);
    if (frag & (XI_IP_MF | XI_IP_OFFSET)) {
        p->flags |= XI_PKT_F_FRAG;
        p->frag_id = bpf_ntohs(ip->id);
        if (frag & XI_IP_OFFSET) {
            /* RFC 1858: a TCP fragment at offset 8 can only exist to rewrite TCP flags. */
            if (p->proto == IPPROTO_TCP && (frag & XI_IP_OFFSET) == 1)
                return XI_R_DROP_FRAG_TINY;
            return 0; /* non-first fragment: no L4 header */
        }
        p->flags |= XI_PKT_F_FRAG_FIRST;
    }
    return xi_parse_l4(data, end, off + hl, tot - hl, p);
}

static __always_inline int xi_ipv6_is_exthdr(__u8 nh)
{
    return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
           nh == IPPROTO_FRAGMENT || nh == IPPROTO_AH;
}

static __always_inline int xi_parse_ipv6(void *data, void *end, __u32 off, struct xi_pkt *p)
{
    struct ipv6hdr *ip6 = data + off;
    __u32 o, plen;
    __u8 nh;

    if (off > XI_MAX_HDR_OFF)
        return XI_R_DROP_BAD_HEADER;
    if ((void *)(ip6 + 1) > end)
        return XI_R_DROP_TRUNCATED;
    if (ip6->version != 6)
        return XI_R_DROP_BAD_HEADER;

    plen = bpf_ntohs(ip6->payload_len);
    p->family = 6;
    p->l3_off = off;
    p->l3_len = sizeof(*ip6) + plen;
    p->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
    p->ttl = ip6->hop_limit;
    xi_addr_from6(&p->src, &ip6->saddr);
    xi_addr_from6(&p->dst, &ip6->daddr);

    nh = ip6->nexthdr;
    o = off + sizeof(*ip6);
#pragma unroll
    for (int i = 0; i < XI_MAX_EXTHDR; i++) {
        if (!xi_ipv6_is_exthdr(nh))
            break;
        if (o > XI_MAX_HDR_OFF)
            return XI_R_DROP_EXTHDR;
        if (nh == IPPROTO_FRAGMENT) {
            struct xi_ip6_frag_hdr *fh = data + o;
            __u16 fo;

            if ((void *)(fh + 1) > end)
                return XI_R_DROP_TRUNCATED;
            fo = bpf_ntohs(fh->frag_off);
            p->flags |= XI_PKT_F_FRAG;
            p->frag_id = bpf_ntohl(fh->id);
            nh = fh->nexthdr;
            o += sizeof(*fh);
            if (fo & XI_IP6_OFFSET) {
                p->proto = nh;
                return 0; /* non-first fragment: no L4 header */
            }
            p->flags |= XI_PKT_F_FRAG_FIRST;
        } else {
            struct ipv6_opt_hdr *oh = data + o;

            if ((void *)oh + 8 > end)
                return XI_R_DROP_TRUNCATED;
            /* AH counts its length in 4-byte units minus 2, the others in 8-byte units minus 1 */
            if (nh == IPPROTO_AH)
                o += ((__u32)oh->hdrlen + 2) << 2;
            else
                o += ((__u32)oh->hdrlen + 1) << 3;
            nh = oh->nexthdr;
        }
    }
    if (xi_ipv6_is_exthdr(nh))
        return XI_R_DROP_EXTHDR;
    p->proto = nh;
    if (o - off > p->l3_len)
        return XI_R_DROP_BAD_HEADER;
    return xi_parse_l4(data, end, o, p->l3_len - (o - off), p);
}

/* The IP header at l3_off by its ethertype; XI_R_PASS_NOT_IP for anything else. */
static __always_inline int xi_parse_l3(void *data, void *end, __u32 l3_off, __be16 proto,
                                       struct xi_pkt *p)
{
    if (proto == bpf_htons(ETH_P_IP))
        return xi_parse_ipv4(data, end, l3_off, p);
    if (proto == bpf_htons(ETH_P_IPV6))
        return xi_parse_ipv6(data, end, l3_off, p);
    return XI_R_PASS_NOT_IP;
}

#endif /* XI_BPF_PARSE_H */
