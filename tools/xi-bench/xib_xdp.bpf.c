// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP helpers of xi-bench (docs/benchmarks.md). None of this is part of the datapath.
 *
 * - xib_xdp_pass / xib_xdp_drop: the floor (an empty program) and the live-rate baselines.
 * - xib_xdp_wrap: BPF_PROG_TEST_RUN with repeat > 1 reruns the program on the same buffer, so a
 *   program that grows the metadata area would see the previous run's metadata (and, after a
 *   few runs, fail to grow it further). With live frames, pages come back from the stack after
 *   TC encapsulated the skb in place, with the Ethernet header overwritten. The wrapper removes
 *   any metadata, rewrites the first XIB_RESTORE_LEN bytes from xib_restore[0] (when its len is
 *   set: live frames only), then tail-calls the program under test (xib_xdp_jmp[0]). Its own
 *   cost is measured by tail-calling xib_xdp_pass.
 * - xib_xdp_gen: traffic generator for live frames: restores the bytes the same way, then sends
 *   every frame to xib_tx[0] (a DEVMAP).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} xib_xdp_jmp SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_DEVMAP);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} xib_tx SEC(".maps");

#define XIB_RESTORE_LEN 64

struct xib_restore {
    __u32 len; /* 0: leave the bytes alone, else XIB_RESTORE_LEN */
    __u8 bytes[XIB_RESTORE_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct xib_restore);
} xib_restore SEC(".maps");

static __always_inline void xib_restore_bytes(struct xdp_md *ctx)
{
    __u32 zero = 0;
    struct xib_restore *r = bpf_map_lookup_elem(&xib_restore, &zero);
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;

    if (r && r->len && data + XIB_RESTORE_LEN <= end)
        __builtin_memcpy(data, r->bytes, XIB_RESTORE_LEN);
}

SEC("xdp")
int xib_xdp_pass(struct xdp_md *ctx)
{
    (void)ctx;
    return XDP_PASS;
}

SEC("xdp")
int xib_xdp_drop(struct xdp_md *ctx)
{
    (void)ctx;
    return XDP_DROP;
}

SEC("xdp")
int xib_xdp_wrap(struct xdp_md *ctx)
{
    /* Same work whether or not there is metadata: adjust by its length, 0 if none. (Pointer
     * difference of data and data_meta: needs CAP_PERFMON, which a root loader has.) */
    long meta_len = (long)ctx->data - (long)ctx->data_meta;

    bpf_xdp_adjust_meta(ctx, (int)meta_len);
    xib_restore_bytes(ctx);
    bpf_tail_call(ctx, &xib_xdp_jmp, 0);
    return XDP_ABORTED;
}

SEC("xdp")
int xib_xdp_gen(struct xdp_md *ctx)
{
    xib_restore_bytes(ctx);
    return bpf_redirect_map(&xib_tx, 0, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
