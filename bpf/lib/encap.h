/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPIP / IP6IP6 encapsulation towards the owning edge (TC ingress on the public interface) and
 * decapsulation of sibling traffic (TC ingress on the mesh interface).
 *
 * Encapsulation happens on the skb, not in XDP: forwarded packets have to become skbs anyway
 * (the mesh interface is a TUN / WireGuard device without XDP transmit), and by TC time GRO has
 * merged segments into one skb that bpf_skb_adjust_room(ENCAP_L3_* | FIXED_GSO) turns into a
 * proper IPIP GSO packet for the mesh to segment (docs/steering.md).
 */
#ifndef XI_BPF_ENCAP_H
#define XI_BPF_ENCAP_H

#include "csum.h"
#include "events.h"
#include "gen.h"
#include "parse.h"
#include "pull.h"
#include "stats.h"

/*
 * The mesh is L3: any VLAN tag left on the skb (accelerated, or an inner QinQ tag still in the
 * data) would either sit between Ethernet and IP after the encapsulation or be pushed back into
 * the packet by the mesh device. Returns 0 when no tag is left.
 */
static __always_inline int xi_strip_vlans(struct __sk_buff *skb)
{
#pragma unroll
    for (int i = 0; i < XI_MAX_VLAN + 1; i++) {
        void *data = (void *)(long)skb->data;
        void *end = (void *)(long)skb->data_end;
        struct ethhdr *eth = data;

        if ((void *)(eth + 1) > end)
            return -1;
        if (!skb->vlan_present && eth->h_proto != bpf_htons(ETH_P_8021Q) &&
            eth->h_proto != bpf_htons(ETH_P_8021AD))
            return 0;
        if (bpf_skb_vlan_pop(skb))
            return -1;
    }
    return -1;
}

static __always_inline int xi_encap_fail(__u32 reason)
{
    xi_count(XI_HOOK_TC_PUBLIC_INGRESS, reason);
    return TC_ACT_SHOT;
}

/* Length of one wire packet once segmented: the whole datagram, or per GSO segment. */
static __always_inline __u32 xi_wire_len(struct __sk_buff *skb, const struct xi_pkt *p, void *data,
                                         void *end)
{
    __u32 hdrs;

    if (!skb->gso_size)
        return p->l3_len;
    hdrs = p->l4_off - p->l3_off;
    if (p->proto == IPPROTO_TCP) {
        struct tcphdr *th = data + p->l4_off;

        if (p->l4_off > XI_MAX_HDR_OFF || (void *)(th + 1) > end)
            return p->l3_len;
        hdrs += th->doff * 4;
    } else {
        hdrs += sizeof(struct udphdr);
    }
    return hdrs + skb->gso_size;
}

/*
 * Make the skb exactly Ethernet header + the IP datagram, as its header gives the length: the
 * outer header's length is computed from it. Ethernet padding (a bare IPv4 ACK is 54 bytes,
 * padded to 60 on the wire) and trailers are cut, so they neither cross the mesh nor count as
 * forwarded bytes; a frame shorter than its datagram claims is dropped, as the stack would.
 * GSO skbs (GRO) are consistent by construction; bpf_skb_change_tail would also reset their GSO
 * state, so they are left alone.
 */
static __always_inline int xi_fit_datagram(struct __sk_buff *skb, const struct xi_pkt *p)
{
    __u32 want = ETH_HLEN + p->l3_len;

    if (skb->gso_size || skb->len == want)
        return 0;
    if (skb->len < want)
        return XI_R_DROP_BAD_HEADER;
    return bpf_skb_change_tail(skb, want, 0) ? XI_R_DROP_ENCAP_FAILED : 0;
}

/*
 * The outer header at off (after the Ethernet header; 0 on an L3 mesh device), from this edge to
 * peer, for the datagram pp describes. sc: a second chance (second_chance.h), marked so the
 * receiving edge delivers it and never forwards it again: IPv4 ID bit 15 (our IDs are 0, and a
 * GSO split of the outer header counts up from there), IPv6 flow label bit 19 (ours are 0).
 */
static __always_inline int xi_write_outer(struct __sk_buff *skb, __u32 off, int ipv6,
                                          const struct xi_pkt *pp, const struct xi_node *self,
                                          const struct xi_node *peer, int sc)
{
    /* BPF_F_RECOMPUTE_CSUM: adjust_room inserted zeros, which leave a CHECKSUM_COMPLETE skb's
     * csum as it was; the header written over them must be added to it. wg0 and NICs ignore
     * skb->csum on transmit, but a mesh device that hands the skb to a local receiver (a veth
     * into a namespace) would pass on a stale sum ("hw csum failure" after the decap there). */
    if (ipv6) {
        struct ipv6hdr o = {};

        o.version = 6;
        o.priority = pp->tos >> 4;
        o.flow_lbl[0] = (pp->tos & 0x0f) << 4 | (sc ? XI_ENCAP_FLOW_SECOND_CHANCE : 0);
        o.payload_len = bpf_htons(pp->l3_len);
        o.nexthdr = IPPROTO_IPV6;
        o.hop_limit = pp->ttl;
        __builtin_memcpy(&o.saddr, &self->mesh6, sizeof(o.saddr));
        __builtin_memcpy(&o.daddr, &peer->mesh6, sizeof(o.daddr));
        return bpf_skb_store_bytes(skb, off, &o, sizeof(o), BPF_F_RECOMPUTE_CSUM);
    } else {
        struct iphdr o = {};

        o.version = 4;
        o.ihl = 5;
        o.tos = pp->tos;
        o.tot_len = bpf_htons(pp->l3_len + sizeof(o));
        o.id = sc ? bpf_htons(XI_ENCAP_ID_SECOND_CHANCE) : 0;
        o.frag_off = bpf_htons(0x4000); /* DF: an oversize packet is dropped above, never split */
        o.ttl = pp->ttl;
        o.protocol = IPPROTO_IPIP;
        o.saddr = self->mesh4;
        o.daddr = peer->mesh4;
        o.check = xi_ipv4_csum(&o);
        return bpf_skb_store_bytes(skb, off, &o, sizeof(o), BPF_F_RECOMPUTE_CSUM);
    }
}

/*
 * Whether the outer header of steering traffic (outer: as parsed) carries the second-chance
 * marker. 0 when it cannot be read.
 */
static __always_inline int xi_outer_second_chance(struct __sk_buff *skb, const struct xi_pkt *outer)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    __u8 *h = data + outer->l3_off;

    if (outer->l3_off > XI_MAX_HDR_OFF || (void *)(h + 8) > end)
        return 0;
    if (outer->family == 4)
        return (h[4] & (XI_ENCAP_ID_SECOND_CHANCE >> 8)) != 0; /* ID, high byte */
    return (h[1] & XI_ENCAP_FLOW_SECOND_CHANCE) != 0;          /* flow label, top bits */
}

/*
 * Encapsulate the Ethernet frame in skb for the owning edge and redirect it into the mesh
 * interface. parsed: the packet as the caller parsed it (TC's own decision), or NULL (an XDP
 * mark: parse here). sc: a second chance (marked, see xi_write_outer). Returns the TC verdict.
 */
static __always_inline int xi_encap_redirect(struct __sk_buff *skb, __u32 gen_slot, __u32 owner,
                                             int ipv6, const struct xi_pkt *parsed, int sc)
{
    struct xi_gen_config *cfg = bpf_map_lookup_elem(&xi_gen_config, &gen_slot);
    __u16 need = ipv6 ? XI_NODE_F_HAS6 : XI_NODE_F_HAS4;
    const struct xi_pkt *pp = parsed;
    struct xi_node *self, *peer;
    void *data, *end;
    struct xi_pkt p = {};
    __u32 overhead = ipv6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
    __u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO;
    int err;

    if (!cfg)
        return xi_encap_fail(XI_R_DROP_NOT_ENCAP_TARGET);
    self = xi_node_get(gen_slot, cfg->self_node);
    peer = xi_node_get(gen_slot, owner);
    if (!self || !peer || owner == cfg->self_node || !(peer->flags & XI_NODE_F_EDGE) ||
        !(peer->flags & need) || !(self->flags & need))
        return xi_encap_fail(XI_R_DROP_NOT_ENCAP_TARGET);

    /* Parsed already and untagged: the IP header is where the encapsulation goes. */
    if (!pp || pp->l3_off != ETH_HLEN || skb->vlan_present) {
        if (xi_strip_vlans(skb))
            return xi_encap_fail(XI_R_DROP_ENCAP_FAILED);
        xi_pull_headers(skb);
        data = (void *)(long)skb->data;
        end = (void *)(long)skb->data_end;
        err =
            ipv6 ? xi_parse_ipv6(data, end, ETH_HLEN, &p) : xi_parse_ipv4(data, end, ETH_HLEN, &p);
        if (err)
            return xi_encap_fail(err);
        pp = &p;
    }
    data = (void *)(long)skb->data;
    end = (void *)(long)skb->data_end;
    /* Decided: over the mesh MTU once encapsulated -> dropped and counted, never fragmented
     * (outer DF) nor answered with ICMP; the owner's MSS clamp keeps TCP below it. */
    if (xi_wire_len(skb, pp, data, end) + overhead > cfg->mesh_mtu)
        return xi_encap_fail(XI_R_DROP_MESH_MTU);
    err = xi_fit_datagram(skb, pp);
    if (err)
        return xi_encap_fail(err);

    flags |= ipv6 ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 : BPF_F_ADJ_ROOM_ENCAP_L3_IPV4;
    if (bpf_skb_adjust_room(skb, overhead, BPF_ADJ_ROOM_MAC, flags))
        return xi_encap_fail(XI_R_DROP_ENCAP_FAILED);

    err = xi_write_outer(skb, ETH_HLEN, ipv6, pp, self, peer, sc);
    if (err)
        return xi_encap_fail(XI_R_DROP_ENCAP_FAILED);

    /* Per owner: skbs handed to the mesh (a GSO skb counts once, like every other counter)
     * and the length of the encapsulated IP packet, without the Ethernet header that the
     * mesh device (wg0: L3) does not carry. */
    xi_count_node(owner, XI_NODE_FWD_PACKETS, pp->l3_len + overhead);
    xi_event(XI_EV_BUCKET_STEER, XI_HOOK_TC_PUBLIC_INGRESS, XI_R_REDIRECT, pp, XI_ROLE_WORLD,
             XI_ROLE_WORLD, 0xffff, owner, XI_EV_F_STEERED);
    if (bpf_redirect(cfg->mesh_ifindex, 0) != TC_ACT_REDIRECT)
        return xi_encap_fail(XI_R_DROP_REDIRECT_FAILED);
    xi_count(XI_HOOK_TC_PUBLIC_INGRESS, XI_R_REDIRECT);
    return TC_ACT_REDIRECT;
}

/*
 * Remove the outer header of steering traffic (p describes the outer packet; its "L4" is the
 * inner IP header). Same-family only (mixed families are rejected by the config), so no
 * BPF_F_ADJ_ROOM_DECAP_L3_* flag is needed: they exist only from kernel 6.3 and only change the
 * protocol, which stays the same here. Works from 6.1 on.
 */
static __always_inline int xi_decap(struct __sk_buff *skb, const struct xi_pkt *outer)
{
    __s32 len = outer->l4_off - outer->l3_off;

    return bpf_skb_adjust_room(skb, -len, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO);
}

#endif /* XI_BPF_ENCAP_H */
