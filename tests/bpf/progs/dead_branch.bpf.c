// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The mechanism xdp_public's hand-off switch relies on, shown with a helper no XDP program may
 * ever call: behind a .rodata switch that is off, the verifier never walks the call, so the
 * program loads; switched on, it is refused with the message a kernel gives for a refused helper
 * ("program of this type cannot use helper"). tests/bpf/probe_test.cpp loads it both ways.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u8 use_helper = 0;

SEC("xdp")
int xi_dead_branch(struct xdp_md *ctx)
{
    if (use_helper && bpf_skb_vlan_pop((void *)ctx))
        return XDP_DROP;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
