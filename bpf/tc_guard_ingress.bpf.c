// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * TC ingress on every interface but the mesh one (and lo): the metadata guard (lib/guard.h). L3
 * entry for devices without an Ethernet header (TUN, IP tunnels), L2 entry otherwise.
 */
#include "lib/guard.h"

SEC("tc")
int xi_guard_in_l3(struct __sk_buff *skb)
{
    return xi_guard(skb, 0, XI_HOOK_TC_GUARD_INGRESS);
}

SEC("tc")
int xi_guard_in_l2(struct __sk_buff *skb)
{
    return xi_guard(skb, 1, XI_HOOK_TC_GUARD_INGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
