/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Second chance (issue #13): during a fleet change a flow whose Maglev slot moved may still be
 * held by the slot's previous owner. Where a packet of such a slot would be delivered locally,
 * the new owner first asks its own socket table whether the flow is here; if not, the packet
 * goes to the previous owner once, its outer header marked (encap.h), and that edge delivers it
 * whatever it finds: a packet is forwarded at most once.
 *
 * TCP, by bpf_skc_lookup_tcp (it sees NEW_SYN_RECV and TIME_WAIT, which bpf_sk_lookup_tcp hides)
 * in the network namespace of the device the packet is on, i.e. where the programs are
 * attached: a proxy in another namespace is not seen (docs/steering.md). Every edge listens on
 * the VIP, so a listener alone proves nothing: a non-LISTEN socket is the flow's; LISTEN is the
 * flow's for a SYN (a new flow belongs to the new owner) or for an ACK whose syncookie checks
 * out here; no socket at all is not ours. Measured on 6.1 and 6.18
 * (../shared/recipes/second-chance.md).
 *
 * UDP, by bpf_sk_lookup_udp: a connected socket of the flow's 4-tuple is the flow's; an
 * unconnected one (a server bound to the VIP) serves every flow, old or new, so it proves
 * nothing, and the flow goes to the previous owner: until the step's second chances end
 * (drain_timeout), the previous owner serves every UDP flow of a moved slot (docs/steering.md).
 */
#ifndef XI_BPF_SECOND_CHANCE_H
#define XI_BPF_SECOND_CHANCE_H

#include "common.h"
#include "parse.h"

/* Is the flow of p (a TCP or UDP packet to a VIP, parsed from skb's data) held here? */
static __always_inline int xi_sc_local(struct __sk_buff *skb, const struct xi_pkt *p)
{
    struct bpf_sock_tuple t = {};
    struct bpf_sock *sk;
    __u32 tlen, state;
    int ours;

    if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
        return 1;
    if (p->family == 4) {
        t.ipv4.saddr = p->src.w[3];
        t.ipv4.daddr = p->dst.w[3];
        t.ipv4.sport = p->sport;
        t.ipv4.dport = p->dport;
        tlen = sizeof(t.ipv4);
    } else {
        __builtin_memcpy(t.ipv6.saddr, &p->src, sizeof(t.ipv6.saddr));
        __builtin_memcpy(t.ipv6.daddr, &p->dst, sizeof(t.ipv6.daddr));
        t.ipv6.sport = p->sport;
        t.ipv6.dport = p->dport;
        tlen = sizeof(t.ipv6);
    }
    if (p->proto == IPPROTO_UDP) {
        sk = bpf_sk_lookup_udp(skb, &t, tlen, BPF_F_CURRENT_NETNS, 0);
        if (!sk)
            return 0;
        ours = sk->state == BPF_TCP_ESTABLISHED; /* connected to this very peer */
        bpf_sk_release(sk);
        return ours;
    }
    sk = bpf_skc_lookup_tcp(skb, &t, tlen, BPF_F_CURRENT_NETNS, 0);
    if (!sk)
        return 0;
    state = sk->state; /* read before the release */
    ours = state != BPF_TCP_LISTEN;
    if (!ours && (p->tcp_flags & (XI_TCP_SYN | XI_TCP_RST | XI_TCP_ACK)) == XI_TCP_SYN)
        ours = 1;
    if (!ours && (p->tcp_flags & (XI_TCP_SYN | XI_TCP_RST | XI_TCP_ACK)) == XI_TCP_ACK &&
        p->l3_off <= XI_MAX_HDR_OFF && p->l4_off <= XI_MAX_HDR_OFF) {
        void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
        void *iph = data + p->l3_off;
        struct tcphdr *th = data + p->l4_off;
        __u32 iph_len = p->family == 4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);

        if (iph + iph_len <= end && (void *)(th + 1) <= end)
            ours = bpf_tcp_check_syncookie(sk, iph, iph_len, th, sizeof(*th)) == 0;
    }
    bpf_sk_release(sk);
    return ours;
}

#endif /* XI_BPF_SECOND_CHANCE_H */
