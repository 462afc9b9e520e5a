// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * TC ingress on the public interface: packets our XDP program marked for a sibling edge are
 * encapsulated (IPIP / IP6IP6) and redirected into the mesh interface. Only marked packets: the
 * mark lives in the XDP metadata area, which no packet from the wire can carry, so tunnelled
 * traffic from the internet can never be injected into the mesh.
 */
#include "lib/common.h"
#include "lib/encap.h"
#include "lib/stats.h"

SEC("tc")
int xi_tc_pub_in(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data;
    struct xi_xdp_meta *m = (void *)(long)skb->data_meta;
    __u32 gen, owner;
    int ipv6;

    if ((void *)(m + 1) > data || m->magic != XI_META_MAGIC) {
        xi_count(XI_HOOK_TC_PUBLIC_INGRESS, XI_R_UNMARKED);
        return XI_TC_NEXT;
    }
    gen = m->gen;
    owner = m->owner;
    ipv6 = m->flags & XI_META_F_IPV6;
    return xi_encap_redirect(skb, gen, owner, ipv6);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
