// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* TC egress on the mesh interface: the mesh policy, outbound. L3 and L2 entries as on ingress. */
#include "lib/mesh.h"

SEC("tc")
int xi_mesh_out_l3(struct __sk_buff *skb)
{
    return xi_mesh_egress(skb, 0);
}

SEC("tc")
int xi_mesh_out_l2(struct __sk_buff *skb)
{
    return xi_mesh_egress(skb, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
