/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * TCP MSS clamping on the skb: lower (never raise) the MSS option of a SYN or SYN-ACK so that
 * full-size segments still fit the mesh after encapsulation. The checksum is updated
 * incrementally with bpf_l4_csum_replace, which also does the right thing for CHECKSUM_PARTIAL
 * skbs (nothing to fix: the NIC sums the rewritten bytes).
 */
#ifndef XI_BPF_MSS_H
#define XI_BPF_MSS_H

#include "common.h"

#define XI_TCPOPT_EOL 0
#define XI_TCPOPT_NOP 1
#define XI_TCPOPT_MSS 2
#define XI_TCP_MAX_OPTLEN 40

/* Returns 1 if the MSS was lowered, 0 if not (no option, already small enough), <0 on error. */
static __always_inline int xi_mss_clamp(struct __sk_buff *skb, __u32 l4_off, __u16 max_mss)
{
    __u8 doff_byte;
    __u32 optlen, off = sizeof(struct tcphdr);

    if (!max_mss)
        return 0;
    if (bpf_skb_load_bytes(skb, l4_off + 12, &doff_byte, 1))
        return -1;
    optlen = (doff_byte >> 4) * 4;
    if (optlen <= sizeof(struct tcphdr))
        return 0;
    if (optlen > sizeof(struct tcphdr) + XI_TCP_MAX_OPTLEN)
        return -1;

    for (int i = 0; i < XI_TCP_MAX_OPTLEN; i++) {
        __u8 opt[2];
        __be16 old, new;

        if (off >= optlen)
            break;
        if (bpf_skb_load_bytes(skb, l4_off + off, opt, 1))
            return -1;
        if (opt[0] == XI_TCPOPT_EOL)
            break;
        if (opt[0] == XI_TCPOPT_NOP) {
            off++;
            continue;
        }
        if (off + 2 > optlen || bpf_skb_load_bytes(skb, l4_off + off, opt, 2))
            return -1;
        if (opt[1] < 2 || off + opt[1] > optlen)
            return -1; /* malformed option list: leave the packet alone */
        if (opt[0] != XI_TCPOPT_MSS) {
            off += opt[1];
            continue;
        }
        if (opt[1] != 4 || bpf_skb_load_bytes(skb, l4_off + off + 2, &old, 2))
            return -1;
        if (bpf_ntohs(old) <= max_mss)
            return 0;
        new = bpf_htons(max_mss);
        /*
         * The checksum sums 16-bit words at even offsets of the TCP header. A value at an odd
         * offset straddles two words, so its contribution is byte-swapped.
         */
        if (bpf_l4_csum_replace(skb, l4_off + __builtin_offsetof(struct tcphdr, check),
                                (off & 1) ? __builtin_bswap16(old) : old,
                                (off & 1) ? __builtin_bswap16(new) : new, 2))
            return -1;
        if (bpf_skb_store_bytes(skb, l4_off + off + 2, &new, 2, 0))
            return -1;
        return 1;
    }
    return 0;
}

#endif /* XI_BPF_MSS_H */
