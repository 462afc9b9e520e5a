// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * TC ingress on the mesh interface: decapsulate steering traffic from sibling edges, then
 * enforce the mesh policy. Two entries, one implementation: the loader attaches the L3 entry to
 * devices without an Ethernet header (TUN, kernel WireGuard) and the L2 entry otherwise.
 */
#include "lib/mesh.h"

SEC("tc")
int xi_mesh_in_l3(struct __sk_buff *skb)
{
    return xi_mesh_ingress(skb, 0);
}

SEC("tc")
int xi_mesh_in_l2(struct __sk_buff *skb)
{
    return xi_mesh_ingress(skb, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
