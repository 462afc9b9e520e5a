// Two trivial XDP programs for the dispatcher-swap reproducer (tools/xdpswap).
// Both count the frame in a per-CPU array (slot 0 = A, 1 = B) and return `verdict`
// (XDP_DROP by default, so a UDP blast dies at the driver).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} hits SEC(".maps");

volatile const int verdict = XDP_DROP;

static __always_inline int count(__u32 slot)
{
    __u64 *v = bpf_map_lookup_elem(&hits, &slot);
    if (v)
        (*v)++;
    return verdict;
}

// -DONLY_A / -DONLY_B: an object with one program (for `ip link set ... xdp obj FILE sec xdp`)
#ifndef ONLY_B
SEC("xdp")
int xdp_a(struct xdp_md *ctx)
{
    return count(0);
}
#endif

#ifndef ONLY_A
SEC("xdp")
int xdp_b(struct xdp_md *ctx)
{
    return count(1);
}
#endif

char LICENSE[] SEC("license") = "GPL";
