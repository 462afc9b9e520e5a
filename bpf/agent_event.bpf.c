// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Not a packet hook: serve runs this program (BPF_PROG_TEST_RUN of a syscall program) to put its
 * own events (a sibling seen down or up, this edge reported down; issue #14) into the ring buffer
 * that `xdp-ingress monitor` reads, beside the datapath's. Rare events: no budget taken.
 */
#include "lib/common.h"

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} xi_events SEC(".maps");

SEC("syscall")
int xi_agent_event(struct xi_event *ctx)
{
    struct xi_event e;

    /* Through the stack: passing the context itself to a helper needs a 6.3+ verifier. */
    __builtin_memcpy(&e, ctx, sizeof(e));
    e.flags |= XI_EV_F_AGENT;
    e.hook = XI_EV_HOOK_AGENT;
    return bpf_ringbuf_output(&xi_events, &e, sizeof(e), 0) ? 1 : 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
