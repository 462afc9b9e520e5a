/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow hash, shared source for the XDP program and the loader (`xdp-ingress owner`, tests).
 *
 * Every edge must map a flow to the same Maglev slot, so the hash depends only on the 5-tuple
 * and the fleet-wide seed: never on the CPU, the NIC's RSS key or the host byte order (fields are
 * converted to host order first, so big- and little-endian edges agree). The construction is
 * xxhash64-style multiply/rotate rounds over 64-bit lanes plus a final avalanche: a handful of
 * multiplications per packet, keyed by the seed so that a client who does not know the seed
 * cannot aim flows at one edge. It is not a cryptographic MAC.
 */
#ifndef XI_HASH_H
#define XI_HASH_H

#include "xi_structs.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define xi_ntohl(x) __builtin_bswap32(x)
#define xi_ntohs(x) __builtin_bswap16(x)
#else
#define xi_ntohl(x) (x)
#define xi_ntohs(x) (x)
#endif

#define XI_HASH_P1 0x9E3779B185EBCA87ULL
#define XI_HASH_P2 0xC2B2AE3D27D4EB4FULL
#define XI_HASH_P3 0x165667B19E3779F9ULL

XI_INLINE __u64 xi_rotl64(__u64 x, int r)
{
    return (x << r) | (x >> (64 - r));
}

XI_INLINE __u64 xi_hash_round(__u64 acc, __u64 lane)
{
    acc += lane * XI_HASH_P2;
    acc = xi_rotl64(acc, 31);
    return acc * XI_HASH_P1;
}

XI_INLINE __u64 xi_hash_avalanche(__u64 h)
{
    h ^= h >> 33;
    h *= XI_HASH_P2;
    h ^= h >> 29;
    h *= XI_HASH_P3;
    h ^= h >> 32;
    return h;
}

XI_INLINE __u64 xi_ports_lane(__be16 sport, __be16 dport, __u8 proto)
{
    return ((__u64)xi_ntohs(sport) << 24) | ((__u64)xi_ntohs(dport) << 8) | proto;
}

XI_INLINE __u64 xi_addr_lane(__be32 hi, __be32 lo)
{
    return ((__u64)xi_ntohl(hi) << 32) | xi_ntohl(lo);
}

/* IPv4 flow: addresses and ports as they appear on the wire (network byte order). */
XI_INLINE __u64 xi_flow_hash4(__be32 saddr, __be32 daddr, __be16 sport, __be16 dport, __u8 proto,
                              __u64 seed)
{
    __u64 acc = seed + XI_HASH_P3 + 4;

    acc = xi_hash_round(acc, xi_addr_lane(saddr, daddr));
    acc = xi_hash_round(acc, xi_ports_lane(sport, dport, proto));
    return xi_hash_avalanche(acc);
}

/* IPv6 flow. */
XI_INLINE __u64 xi_flow_hash6(const struct xi_addr *saddr, const struct xi_addr *daddr,
                              __be16 sport, __be16 dport, __u8 proto, __u64 seed)
{
    __u64 acc = seed + XI_HASH_P3 + 6;

    acc = xi_hash_round(acc, xi_addr_lane(saddr->w[0], saddr->w[1]));
    acc = xi_hash_round(acc, xi_addr_lane(saddr->w[2], saddr->w[3]));
    acc = xi_hash_round(acc, xi_addr_lane(daddr->w[0], daddr->w[1]));
    acc = xi_hash_round(acc, xi_addr_lane(daddr->w[2], daddr->w[3]));
    acc = xi_hash_round(acc, xi_ports_lane(sport, dport, proto));
    return xi_hash_avalanche(acc);
}

/* Maglev slot of a hash: multiply-shift range reduction (no division on the fast path). */
XI_INLINE __u32 xi_maglev_slot(__u64 hash, __u32 table_size)
{
    return (__u32)(((hash >> 32) * (__u64)table_size) >> 32);
}

/*
 * Bucket of a VIP key in xi_vip_slots. Host-local (raw words, no byte swaps): the table is built
 * by the loader on the same host that reads it. One multiply: this runs for every packet.
 */
XI_INLINE __u32 xi_vip_bucket(const struct xi_addr *a, __be16 port, __u8 proto, __u32 salt)
{
    __u32 h = a->w[0] ^ a->w[1] ^ a->w[2] ^ a->w[3] ^ ((__u32)port << 8) ^ proto ^ salt;

    h ^= h >> 15;
    h *= 0x2c1b3c6dU;
    h ^= h >> 12;
    return (h * 0x9E3779B1U) >> (32 - XI_VIP_TABLE_BITS);
}

#endif /* XI_HASH_H */
