// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * TC helpers of xi-bench (docs/benchmarks.md). None of this is part of the datapath.
 *
 * - xib_tc_empty: the floor (an empty program), for test_run and for tcx with bpf_stats.
 * - xib_tc_wrap: makes every run of a repeated BPF_PROG_TEST_RUN a new flow, so the policy's
 *   first-packet path (connection-table miss, rules, entry creation) is what gets measured
 *   instead of a connection-table hit from the second run on. It writes a per-CPU sequence
 *   number into the source port and the last byte of the source address (offsets from
 *   xib_rot[0]; 0 = leave the packet alone), then tail-calls xib_tc_jmp[0]. Its own cost is
 *   measured by tail-calling xib_tc_empty with the same rewriting.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct xib_rot {
    __u32 sport_off; /* offset of the L4 source port from the Ethernet header */
    __u32 addr_off;  /* offset of the last byte of the source address */
    __u32 seq;       /* per CPU */
    __u32 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} xib_tc_jmp SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct xib_rot);
} xib_rot SEC(".maps");

SEC("tc")
int xib_tc_empty(struct __sk_buff *skb)
{
    (void)skb;
    return TC_ACT_UNSPEC;
}

SEC("tc")
int xib_tc_wrap(struct __sk_buff *skb)
{
    __u32 zero = 0;
    struct xib_rot *r = bpf_map_lookup_elem(&xib_rot, &zero);

    if (r && r->sport_off) {
        void *data = (void *)(long)skb->data;
        void *end = (void *)(long)skb->data_end;
        __u8 *sp = data + (r->sport_off & 0xff);
        __u8 *ap = data + (r->addr_off & 0xff);
        __u32 n = ++r->seq;

        if ((void *)(sp + 2) <= end && (void *)(ap + 1) <= end) {
            sp[0] = n >> 8;
            sp[1] = n;
            ap[0] = n >> 16;
        }
    }
    bpf_tail_call(skb, &xib_tc_jmp, 0);
    return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
