/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Includes and small definitions every xdp-ingress BPF object needs. UAPI headers only. */
#ifndef XI_BPF_COMMON_H
#define XI_BPF_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xi_common.h"
#include "xi_reasons.h"
#include "xi_structs.h"

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

/* linux/icmp.h drags in libc's socket headers, which do not build for -target bpf. */
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

/* First 8 bytes of ICMP and ICMPv6 messages (same layout for both). */
struct xi_icmphdr {
    __u8 type;
    __u8 code;
    __sum16 checksum;
    __be16 id; /* echo: identifier; errors: unused / MTU (Fragmentation Needed) */
    __be16 seq;
};

/* Both tcx and clsact: "not decided here, let the next program / the stack have it". */
#define XI_TC_NEXT TC_ACT_UNSPEC

#endif /* XI_BPF_COMMON_H */
