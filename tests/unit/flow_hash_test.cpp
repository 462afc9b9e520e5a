// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Properties of the datapath's flow hash (maps/xi_hash.h), run as plain C++: golden values
// (every edge and every build must agree), seed dependence, avalanche over every input bit,
// uniform spread over the Maglev table, and the slot range.
#include "xi_hash.h"

#include <arpa/inet.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <iostream>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace xi
{
namespace
{

void report(const std::string &key, const std::string &value)
{
    testing::Test::RecordProperty(key, value);
    std::cout << "[ measured ] " << key << ": " << value << "\n";
}

// A flow as its bytes appear on the wire: saddr, daddr, sport, dport (network order), proto.
// Working on bytes lets the avalanche test flip every bit of every field the same way.
template <size_t AddrLen>
using Wire = std::array<uint8_t, 2 * AddrLen + 5>;
using Wire4 = Wire<4>;
using Wire6 = Wire<16>;

template <size_t AddrLen>
void unpack_ports(const Wire<AddrLen> &w, __be16 &sport, __be16 &dport, uint8_t &proto)
{
    std::memcpy(&sport, &w[2 * AddrLen], 2);
    std::memcpy(&dport, &w[2 * AddrLen + 2], 2);
    proto = w[2 * AddrLen + 4];
}

uint64_t hash(const Wire4 &w, uint64_t seed)
{
    __be32 saddr, daddr;
    __be16 sport, dport;
    uint8_t proto;
    std::memcpy(&saddr, &w[0], 4);
    std::memcpy(&daddr, &w[4], 4);
    unpack_ports<4>(w, sport, dport, proto);
    return xi_flow_hash4(saddr, daddr, sport, dport, proto, seed);
}

uint64_t hash(const Wire6 &w, uint64_t seed)
{
    xi_addr saddr, daddr;
    __be16 sport, dport;
    uint8_t proto;
    std::memcpy(&saddr, &w[0], 16);
    std::memcpy(&daddr, &w[16], 16);
    unpack_ports<16>(w, sport, dport, proto);
    return xi_flow_hash6(&saddr, &daddr, sport, dport, proto, seed);
}

// Builds the wire bytes from text addresses and host-order ports.
template <size_t AddrLen>
Wire<AddrLen> flow(const char *saddr, const char *daddr, uint16_t sport, uint16_t dport,
                   uint8_t proto)
{
    constexpr int family = AddrLen == 4 ? AF_INET : AF_INET6;
    Wire<AddrLen> w{};
    EXPECT_EQ(inet_pton(family, saddr, &w[0]), 1) << saddr;
    EXPECT_EQ(inet_pton(family, daddr, &w[AddrLen]), 1) << daddr;
    const __be16 ports[2] = {htons(sport), htons(dport)};
    std::memcpy(&w[2 * AddrLen], ports, 4);
    w[2 * AddrLen + 4] = proto;
    return w;
}

template <size_t N>
std::array<uint8_t, N> random_bytes(std::mt19937_64 &rng)
{
    std::array<uint8_t, N> bytes;
    for (auto &b : bytes)
        b = static_cast<uint8_t>(rng());
    return bytes;
}

constexpr uint64_t kSeed = 0x0123456789abcdefULL;

// --- golden values -------------------------------------------------------------------------

// Pins the hash: the XDP program and `xdp-ingress owner` compile this same header, and every
// edge of a fleet must compute the same value, whatever its compiler, CPU or byte order. A
// change here is a fleet-wide flag day: update these constants only on purpose. The values
// were cross-checked once against an independent transcription of xi_hash.h in Python
// (big-endian field packing, 64-bit wrapping arithmetic).
TEST(FlowHash, GoldenValues)
{
    const auto web4 = flow<4>("192.0.2.1", "203.0.113.10", 40000, 443, IPPROTO_TCP);
    const auto dns4 = flow<4>("198.51.100.7", "192.0.2.53", 53, 5353, IPPROTO_UDP);
    const auto web6 = flow<16>("2001:db8::1", "2001:db8:ffff::443", 40000, 443, IPPROTO_TCP);
    const auto mapped = flow<16>("::ffff:192.0.2.1", "::ffff:203.0.113.10", 40000, 443, 6);

    EXPECT_EQ(hash(web4, 0), 0xe26097b25230c79cULL);
    EXPECT_EQ(hash(web4, kSeed), 0x2b8b00edf2e13deaULL);
    EXPECT_EQ(hash(dns4, 42), 0xcb7476d6f0d61245ULL);
    EXPECT_EQ(hash(web6, 0), 0x08d3f31bd2919567ULL);
    EXPECT_EQ(hash(web6, kSeed), 0xaca8165ea51bf260ULL);
    EXPECT_EQ(hash(mapped, kSeed), 0xa6a15518d7cc9252ULL);

    EXPECT_EQ(xi_maglev_slot(hash(web4, kSeed), XI_MAGLEV_DEFAULT_SIZE), 11147u);
    EXPECT_EQ(xi_maglev_slot(hash(web6, kSeed), XI_MAGLEV_DEFAULT_SIZE), 44200u);
}

// --- seed and avalanche --------------------------------------------------------------------

// Average number of output bits (of 64) that change when one input bit flips, per input bit.
template <size_t N, typename Hash>
std::vector<double> avalanche(Hash hash_of, int samples)
{
    std::mt19937_64 rng(1);
    std::vector<double> changed(N * 8, 0);
    for (int s = 0; s < samples; ++s) {
        const auto input = random_bytes<N>(rng);
        const uint64_t seed = rng();
        const uint64_t base = hash_of(input, seed);
        for (size_t bit = 0; bit < N * 8; ++bit) {
            auto flipped = input;
            flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
            const int diff = std::popcount(base ^ hash_of(flipped, seed));
            EXPECT_NE(diff, 0) << "input bit " << bit << " did not change the hash";
            changed[bit] += diff;
        }
    }
    for (auto &c : changed)
        c /= samples;
    return changed;
}

// Every bit of every field (each address byte, both ports, the protocol) must change about
// half of the output bits; at least a quarter is required. A field left out of the hash, or
// mixed in weakly, would pile flows that differ only there onto one edge.
template <size_t N, typename Hash>
void expect_avalanche(const std::string &what, Hash hash_of)
{
    const auto changed = avalanche<N>(hash_of, 2000);
    double lo = 64, hi = 0, sum = 0;
    for (size_t bit = 0; bit < changed.size(); ++bit) {
        EXPECT_GE(changed[bit], 16.0)
            << what << " input bit " << bit << " (byte " << bit / 8 << ")";
        lo = std::min(lo, changed[bit]);
        hi = std::max(hi, changed[bit]);
        sum += changed[bit];
    }
    report(what + " output bits changed per flipped input bit (min, mean, max of 64)",
           std::to_string(lo) + ", " + std::to_string(sum / changed.size()) + ", " +
               std::to_string(hi));
}

TEST(FlowHash, EveryInputBitAvalanchesIPv4)
{
    expect_avalanche<sizeof(Wire4)>("ipv4", [](const Wire4 &w, uint64_t s) { return hash(w, s); });
}

TEST(FlowHash, EveryInputBitAvalanchesIPv6)
{
    expect_avalanche<sizeof(Wire6)>("ipv6", [](const Wire6 &w, uint64_t s) { return hash(w, s); });
}

// The seed keys the hash: each of its bits must change the output as much as an input bit,
// or an attacker who does not know the seed could still predict which flows share an edge.
TEST(FlowHash, EverySeedBitAvalanches)
{
    const auto web4 = flow<4>("192.0.2.1", "203.0.113.10", 40000, 443, IPPROTO_TCP);
    const auto web6 = flow<16>("2001:db8::1", "2001:db8:ffff::443", 40000, 443, IPPROTO_TCP);
    EXPECT_NE(hash(web4, 0), hash(web4, 1));
    EXPECT_NE(hash(web6, 0), hash(web6, 1));
    EXPECT_NE(hash(web4, kSeed), hash(web4, kSeed + 1));

    // Treat the seed as the input and the tuple as fixed.
    expect_avalanche<8>("ipv4 seed", [&](const std::array<uint8_t, 8> &seed, uint64_t) {
        return hash(web4, std::bit_cast<uint64_t>(seed));
    });
    expect_avalanche<8>("ipv6 seed", [&](const std::array<uint8_t, 8> &seed, uint64_t) {
        return hash(web6, std::bit_cast<uint64_t>(seed));
    });
}

// --- spread over the table -----------------------------------------------------------------

// Pearson's chi-square of `count` hashes over M slots against the uniform distribution. With
// M - 1 degrees of freedom its mean is M - 1 and its standard deviation sqrt(2 (M - 1)); the
// bound allows 6 standard deviations, so only a real bias fails.
template <typename NextHash>
void expect_uniform(const std::string &what, NextHash next_hash)
{
    constexpr uint32_t m = XI_MAGLEV_DEFAULT_SIZE;
    constexpr uint32_t count = 1000000;
    std::vector<uint32_t> hits(m, 0);
    for (uint32_t i = 0; i < count; ++i) {
        const uint32_t slot = xi_maglev_slot(next_hash(i), m);
        ASSERT_LT(slot, m);
        ++hits[slot];
    }
    const double expected = double(count) / m;
    double chi2 = 0;
    for (uint32_t h : hits)
        chi2 += (h - expected) * (h - expected) / expected;
    const double df = m - 1, bound = df + 6 * std::sqrt(2 * df);
    EXPECT_LT(chi2, bound) << what;
    report(what + " chi-square over 65537 slots, 1e6 flows (df 65536, bound " +
               std::to_string(bound) + ")",
           std::to_string(chi2) + " (" + std::to_string((chi2 - df) / std::sqrt(2 * df)) + " sd)");
}

TEST(FlowHash, SlotsAreUniformForRandomFlows)
{
    std::mt19937_64 rng(2);
    expect_uniform("random ipv4", [&](uint32_t) { return hash(random_bytes<13>(rng), kSeed); });
}

// Real traffic is far from random: one NAT, many source ports, one VIP. That is where a weak
// hash clusters.
TEST(FlowHash, SlotsAreUniformForStructuredFlows)
{
    auto web4 = flow<4>("10.0.0.0", "203.0.113.10", 0, 443, IPPROTO_TCP);
    expect_uniform("ipv4 256 clients x 3907 ports", [&](uint32_t i) {
        web4[3] = static_cast<uint8_t>(i % 256);
        const __be16 sport = htons(static_cast<uint16_t>(1024 + i / 256));
        std::memcpy(&web4[8], &sport, 2);
        return hash(web4, kSeed);
    });

    auto web6 = flow<16>("2001:db8::", "2001:db8:ffff::443", 0, 443, IPPROTO_TCP);
    expect_uniform("ipv6 sequential clients, 16 ports each", [&](uint32_t i) {
        const __be32 low = htonl(i / 16);
        std::memcpy(&web6[12], &low, 4);
        const __be16 sport = htons(static_cast<uint16_t>(40000 + i % 16));
        std::memcpy(&web6[32], &sport, 2);
        return hash(web6, kSeed);
    });
}

// The multiply-shift reduction must stay in range for every hash and size, and reach both
// ends of the table.
TEST(FlowHash, SlotIsAlwaysBelowTableSize)
{
    std::mt19937_64 rng(3);
    std::vector<uint64_t> hashes = {0, 1, 0xffffffffULL, 0x100000000ULL, ~0ULL - 1, ~0ULL};
    for (int i = 0; i < 10000; ++i)
        hashes.push_back(rng());
    for (uint32_t m : {1u, 2u, 13u, 251u, uint32_t{XI_MAGLEV_DEFAULT_SIZE},
                       uint32_t{XI_MAGLEV_MAX_SIZE}, 0xffffffffu}) {
        for (uint64_t h : hashes)
            ASSERT_LT(xi_maglev_slot(h, m), m) << "hash " << h << " size " << m;
        EXPECT_EQ(xi_maglev_slot(0, m), 0u);
        EXPECT_EQ(xi_maglev_slot(~0ULL, m), m - 1);
    }
}

} // namespace
} // namespace xi
