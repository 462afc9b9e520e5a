// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * TC egress on the public interface: clamp the MSS of every SYN-ACK a VIP sends. Any VIP flow
 * may later be forwarded through the mesh (an anycast flap), and a forwarded full-size segment
 * must still fit the mesh MTU after encapsulation, so every VIP flow is clamped from the start.
 */
#include "lib/common.h"
#include "lib/mss.h"
#include "lib/parse.h"
#include "lib/pull.h"
#include "lib/stats.h"
#include "lib/steer.h"

SEC("tc")
int xi_tc_pub_out(struct __sk_buff *skb)
{
    void *data, *end;
    struct xi_pkt p = {};
    struct xi_gen g;
    __u32 l3_off;
    __be16 proto;
    int r;

    xi_pull_headers(skb);
    data = (void *)(long)skb->data;
    end = (void *)(long)skb->data_end;
    if (xi_parse_eth(data, end, &l3_off, &proto))
        return XI_TC_NEXT;
    r = xi_parse_l3(data, end, l3_off, proto, &p);
    /* Only SYN-ACKs matter; everything else (including what we cannot parse) leaves as is. */
    if (r || p.proto != IPPROTO_TCP || !(p.flags & XI_PKT_F_L4) ||
        (p.tcp_flags & (XI_TCP_SYN | XI_TCP_ACK)) != (XI_TCP_SYN | XI_TCP_ACK))
        return XI_TC_NEXT;
    if (!xi_gen_current(&g) || !xi_vip_lookup(&g, &p.src, p.sport, IPPROTO_TCP, 0))
        return XI_TC_NEXT;
    r = xi_mss_clamp(skb, p.l4_off, p.family == 4 ? g.cfg->vip_mss4 : g.cfg->vip_mss6);
    if (r > 0)
        xi_count(XI_HOOK_TC_PUBLIC_EGRESS, XI_R_MSS_CLAMPED);
    return XI_TC_NEXT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
