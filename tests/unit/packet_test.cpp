// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The test packet library checks itself: builder and checker are written independently and
// must agree on every layer combination; both must reproduce known-answer packets that were
// generated once by a third implementation (scapy 2.5, see each vector's comment).
//
// This file: the checksum primitives, the known answers, and the builder's own contract (bad
// input throws, copies are independent). The other parts of the self-check, sharing
// packet_test_helpers.h:
//   packet_combinations_test.cpp  every layer combination parses back to the same layout
//   packet_malformed_test.cpp     overrides are detected; cut and mutated packets never crash
//   packet_layers_test.cpp        L2 and L3 fields parse back (tags, options, extension headers)
//   packet_layers_l4_test.cpp     L4 fields parse back (TCP options, UDP, ICMP errors)
//   packet_diagnostics_test.cpp   hexdiff, describe_offset, hexdump, summary
#include "packet_test_helpers.h"

#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace xi::test::packet_tests
{
namespace
{

Bytes from_hex(std::string_view hex)
{
    Bytes out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return out;
}

// ---- checksum primitives --------------------------------------------------------------------

TEST(Checksum, Rfc1071Example)
{
    // RFC 1071 section 3: the one's complement sum of these bytes is 0xddf2.
    const Bytes data{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(ones_sum(data), 0xddf2);
    EXPECT_EQ(inet_checksum(data), 0x220d);
}

TEST(Checksum, KnownIpv4Header)
{
    // A textbook header: 192.168.0.1 -> 192.168.0.199, UDP, DF, tot_len 115, checksum 0xb861.
    Bytes want = from_hex("450000730000400040110000c0a80001c0a800c7");
    EXPECT_EQ(inet_checksum(want), 0xb861);
    want[10] = 0xb8;
    want[11] = 0x61;
    EXPECT_EQ(ones_sum(want), 0xffff);

    Bytes built =
        Packet().ipv4("192.168.0.1", "192.168.0.199").df().udp(1, 2).payload(115 - 28).build();
    EXPECT_EQ(Bytes(built.begin(), built.begin() + 20), want)
        << hexdiff(want, built, {.eth = false});
}

TEST(Checksum, FormulationsAgreeOnAnyLength)
{
    // Builder computes (word sums), checker verifies (byte-wise sums): they must agree for odd
    // and even lengths and any content.
    uint32_t x = 12345;
    for (size_t len = 0; len < 200; len++) {
        Bytes data(len + 2, 0);
        for (size_t i = 2; i < data.size(); i++) {
            x = x * 1103515245 + 12345;
            data[i] = static_cast<uint8_t>(x >> 16);
        }
        uint16_t c = inet_checksum(data);
        data[0] = static_cast<uint8_t>(c >> 8);
        data[1] = static_cast<uint8_t>(c);
        EXPECT_EQ(ones_sum(data), 0xffff) << "length " << len;
    }
}

// ---- known answers (scapy) ------------------------------------------------------------------

struct KnownAnswer {
    const char *name;
    Packet pkt;
    const char *hex;
    bool eth;
};

TEST(KnownAnswer, BuilderMatchesScapyAndCheckerAccepts)
{
    const std::vector<KnownAnswer> cases = {
        {"eth/vlan/ipv4/tcp syn mss", doc_example(),
         "020000000002020000000001810000640800450000900000000011064323c633"
         "6407cb00710a9c4001bb00000001000000006002fffff7b20000020405b40001"
         "02030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021"
         "22232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041"
         "42434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6061"
         "6263",
         true},
        {"ipv6/udp", Packet().ipv6("2001:db8::1", "2001:db8::2").udp(5353, 53).payload("hello"),
         "60000000000d114020010db800000000000000000000000120010db800000000"
         "000000000000000214e90035000d4b6f68656c6c6f",
         false},
        {"ipv6/routing type 0 segleft 1/tcp (final destination in pseudo-header)",
         Packet()
             .ipv6("2001:db8::1", "2001:db8::2")
             .routing(0, 1, {"2001:db8::99"})
             .tcp(1234, 80)
             .seq(7)
             .ack(9)
             .window(1000)
             .payload(10),
         "6000000000362b4020010db800000000000000000000000120010db800000000"
         "0000000000000002060200010000000020010db8000000000000000000000099"
         "04d200500000000700000009501003e8368c000000010203040506070809",
         false},
        {"eth/ipv4/icmp frag needed quoting ipv4+tcp cut to 28 bytes",
         Packet()
             .eth(kMacA, kMacB)
             .ipv4("192.0.2.1", "203.0.113.10")
             .icmp4_frag_needed(1400)
             .inner(Packet()
                        .ipv4("203.0.113.10", "198.51.100.7")
                        .df()
                        .tcp(443, 40000)
                        .ack(0)
                        .payload(1400),
                    28),
         "0200000000020200000000010800450000380000000040017cb9c0000201cb00"
         "710a0304598700000578450005a0000040004006cf12cb00710ac633640701bb"
         "9c4000000001",
         true},
        {"ipip/udp",
         Packet()
             .ipv4("10.0.0.1", "10.0.0.2")
             .ipv4("198.51.100.7", "203.0.113.10")
             .ttl(63)
             .udp(1000, 2000)
             .payload(20),
         "4500004400000000400466b40a0000010a00000245000030000000003f111578"
         "c6336407cb00710a03e807d0001c3354000102030405060708090a0b0c0d0e0f"
         "10111213",
         false},
        {"ipv4 router alert option/icmp echo",
         Packet()
             .ipv4("192.0.2.1", "192.0.2.2")
             .ttl(1)
             .ip_id(0x1234)
             .tos(0xb8)
             .ip_options({0x94, 0x04, 0x00, 0x00})
             .icmp4_echo_request(0x42, 7)
             .payload(16),
         "46b800301234000001018dd9c0000201c0000202940400000800bf7600420007"
         "000102030405060708090a0b0c0d0e0f",
         false},
        {"ipv6/icmp6 packet too big quoting ipv6+tcp cut to 60 bytes",
         Packet()
             .ipv6("2001:db8::1", "2001:db8::10")
             .icmp6_packet_too_big(1280)
             .inner(Packet()
                        .ipv6("2001:db8::10", "2001:db8::20")
                        .tcp(443, 50000)
                        .seq(5)
                        .ack(6)
                        .psh()
                        .window(500)
                        .payload(1300),
                    60),
         "6000000000443a4020010db800000000000000000000000120010db800000000"
         "00000000000000100200526700000500600000000528064020010db800000000"
         "000000000000001020010db800000000000000000000002001bbc35000000005"
         "00000006501801f46c690000",
         false},
        {"ipv6 hbh(router alert)/dstopts/icmp6 echo",
         Packet()
             .ipv6("fe80::1", "ff02::1")
             .hop_limit(1)
             .hop_by_hop({0x05, 0x02, 0x00, 0x00})
             .dest_opts()
             .icmp6_echo_request(1, 2)
             .payload(8),
         "6000000000200001fe800000000000000000000000000001ff02000000000000"
         "00000000000000013c000502000001003a000104000000008000761c00010002"
         "0001020304050607",
         false},
    };
    for (const KnownAnswer &c : cases) {
        SCOPED_TRACE(c.name);
        const Bytes want = from_hex(c.hex);
        const Bytes got = c.pkt.build();
        EXPECT_EQ(got, want) << hexdiff(want, got, {.eth = c.eth});
        EXPECT_TRUE(check(want, {.eth = c.eth}).empty()) << join(check(want, {.eth = c.eth}));
    }
}

// ---- builder input errors -------------------------------------------------------------------

TEST(Builder, BadInputThrows)
{
    EXPECT_THROW(Packet().ipv4("1.2.3", "1.2.3.4"), std::invalid_argument);
    EXPECT_THROW(Packet().ipv4("1.2.3.4", "::1"), std::invalid_argument);
    EXPECT_THROW(Packet().ipv6("2001:db8::g", "::1"), std::invalid_argument);
    EXPECT_THROW(mac("02:00:00:00:00"), std::invalid_argument);
    EXPECT_THROW(mac("02:00:00:00:00:zz"), std::invalid_argument);
    EXPECT_THROW(Packet().ttl(1), std::logic_error);
    EXPECT_THROW(Packet().ipv6("::1", "::2").df(), std::logic_error);
    EXPECT_THROW(Packet().ipv4("1.1.1.1", "2.2.2.2").flow_label(1), std::logic_error);
    EXPECT_THROW(Packet().ipv4("1.1.1.1", "2.2.2.2").syn(), std::logic_error);
    EXPECT_THROW(Packet().ipv4("1.1.1.1", "2.2.2.2").udp(1, 2).mss(1), std::logic_error);
    EXPECT_THROW(Packet().ipv4("1.1.1.1", "2.2.2.2").udp(1, 2).tcp(1, 2), std::logic_error);
    EXPECT_THROW(Packet().ipv4("1.1.1.1", "2.2.2.2").udp(1, 2).ipv4("1.1.1.1", "2.2.2.2"),
                 std::logic_error);
    EXPECT_THROW(Packet().tcp(1, 2), std::logic_error);
    EXPECT_THROW(Packet().ipv4("1.1.1.1", "2.2.2.2").eth(), std::logic_error);
    EXPECT_THROW(Packet().ipv4("1.1.1.1", "2.2.2.2").udp(1, 2).payload(70000).build(),
                 std::logic_error);
    EXPECT_EQ(mac("02-00-5E-10-00-00"), (Mac{0x02, 0x00, 0x5e, 0x10, 0x00, 0x00}));
}

TEST(Builder, CopiesAreIndependent)
{
    const Packet base = v4().tcp(1, 2);
    const Bytes a = Packet(base).syn().build();
    const Bytes b = Packet(base).fin().build();
    EXPECT_NE(a, b);
    EXPECT_EQ(base.build(), v4().tcp(1, 2).build());
}

} // namespace
} // namespace xi::test::packet_tests
