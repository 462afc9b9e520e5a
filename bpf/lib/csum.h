/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef XI_BPF_CSUM_H
#define XI_BPF_CSUM_H

#include "common.h"

static __always_inline __u16 xi_csum_fold(__u32 sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (__u16)~sum;
}

/* RFC 1071 checksum of an option-less IPv4 header (check field must be 0). */
static __always_inline __u16 xi_ipv4_csum(const struct iphdr *ip)
{
    const __u16 *w = (const __u16 *)ip;
    __u32 sum = 0;

#pragma unroll
    for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
        sum += w[i];
    return xi_csum_fold(sum);
}

#endif /* XI_BPF_CSUM_H */
