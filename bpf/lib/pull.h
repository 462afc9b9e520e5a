/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Headers into the skb's linear area, where direct packet access can parse them: every TC
 * program that parses (public ingress and egress, mesh ingress and egress, the metadata guard)
 * pulls first.
 */
#ifndef XI_BPF_PULL_H
#define XI_BPF_PULL_H

#include "common.h"
#include "parse.h"

#define XI_PULL_HDR_LEN 128
/* Every header offset the parser follows (XI_MAX_HDR_OFF) plus the largest header there. */
#define XI_PULL_MAX_LEN (XI_MAX_HDR_OFF + 64)

/* Room for IP header + a full TCP header in the linear area, so direct access can parse it. */
static __always_inline void xi_pull_headers(struct __sk_buff *skb)
{
    __u32 want = skb->len < XI_PULL_HDR_LEN ? skb->len : XI_PULL_HDR_LEN;

    if ((void *)(long)skb->data + want > (void *)(long)skb->data_end)
        bpf_skb_pull_data(skb, want);
}

/*
 * For a parse that ran out of linear data: make up to XI_PULL_MAX_LEN bytes linear, so a
 * header chain XDP (which sees the whole frame) can walk is walkable here too. Returns true
 * if there is more to parse now; packet pointers must then be reloaded.
 */
static __always_inline int xi_pull_more(struct __sk_buff *skb)
{
    __u32 linear = skb->data_end - skb->data;
    __u32 want = skb->len < XI_PULL_MAX_LEN ? skb->len : XI_PULL_MAX_LEN;

    return linear < want && !bpf_skb_pull_data(skb, want);
}

/*
 * Parse the packet in skb; l2: whether it starts with an Ethernet header (else the data starts
 * at the IP header: TUN, kernel WireGuard, IP tunnel devices).
 */
static __always_inline int xi_skb_parse(struct __sk_buff *skb, int l2, struct xi_pkt *p)
{
    void *data, *end;
    __u32 l3_off = 0;
    __be16 proto = skb->protocol;
    int r;

    xi_pull_headers(skb);
    data = (void *)(long)skb->data;
    end = (void *)(long)skb->data_end;
    if (l2) {
        r = xi_parse_eth(data, end, &l3_off, &proto);
        if (r)
            return r;
        /* Still a tag after as many as the walk takes: what it carries may well be IP. */
        if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
            return XI_R_DROP_VLAN_DEPTH;
    }
    return xi_parse_l3(data, end, l3_off, proto, p);
}

#endif /* XI_BPF_PULL_H */
