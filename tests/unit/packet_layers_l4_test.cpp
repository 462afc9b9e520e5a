// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// L4 parses back field by field: TCP options in any order, the UDP checksum that computes to
// zero, ICMP and ICMPv6 errors with their quoted datagrams (cut or whole), NDP. The L2 and L3
// layers: packet_layers_test.cpp.
#include "packet_test_helpers.h"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace xi::test::packet_tests
{
namespace
{

TEST(Layers, TcpOptionsInAnyOrder)
{
    const Bytes b = v6().tcp(1, 2)
                        .syn()
                        .nop()
                        .nop()
                        .ts(100, 200)
                        .mss(1400)
                        .sack_perm()
                        .wscale(14)
                        .sack({{10, 20}, {30, 40}})
                        .window(512)
                        .urg(9)
                        .build();
    const ParsedPacket p = parse(b);
    ASSERT_TRUE(p.ok()) << join(p.problems);
    ASSERT_TRUE(p.tcp.has_value());
    const TcpInfo &t = *p.tcp;
    std::vector<uint8_t> kinds;
    for (const TcpOptionInfo &o : t.options)
        kinds.push_back(o.kind);
    EXPECT_EQ(kinds, (std::vector<uint8_t>{1, 1, 8, 2, 4, 3, 5, 0})); // 39 bytes + EOL pad
    EXPECT_EQ(t.doff, 15);
    EXPECT_EQ(t.mss, 1400);
    EXPECT_EQ(t.wscale, 14);
    EXPECT_TRUE(t.sack_perm);
    EXPECT_EQ(t.ts, std::make_pair(100u, 200u));
    EXPECT_EQ(t.sack, (std::vector<std::pair<uint32_t, uint32_t>>{{10, 20}, {30, 40}}));
    EXPECT_EQ(t.window, 512);
    EXPECT_EQ(t.urg_ptr, 9);
    EXPECT_TRUE(t.syn() && t.urg() && !t.ack_flag());
    EXPECT_THROW(v4().tcp(1, 2).tcp_options_raw(Bytes(41, 1)).build(), std::logic_error);
    // Too many options are fine with an explicit (lying) doff.
    EXPECT_NO_THROW(v4().tcp(1, 2).tcp_options_raw(Bytes(41, 1)).doff(15).build());
}

TEST(Layers, UdpChecksumZeroIsSentAsFfff)
{
    // Choose the payload so the computed checksum is 0: it must go out as 0xffff.
    Packet base = Packet().ipv6("2001:db8::1", "2001:db8::2").udp(7, 9);
    Bytes b = Packet(base).payload({0, 0}).build();
    const uint16_t c = static_cast<uint16_t>(b[46] << 8 | b[47]);
    b = Packet(base).payload({static_cast<uint8_t>(c >> 8), static_cast<uint8_t>(c)}).build();
    EXPECT_EQ(b[46], 0xff);
    EXPECT_EQ(b[47], 0xff);
    EXPECT_TRUE(check(b, {.eth = false}).empty()) << join(check(b, {.eth = false}));
}

TEST(Layers, IcmpErrorsWithInnerPackets)
{
    const Packet inner = Packet()
                             .ipv4("203.0.113.10", "198.51.100.7")
                             .df()
                             .tcp(443, 40000)
                             .seq(1000)
                             .ack(5)
                             .payload(1400);
    const Packet pkt =
        Packet().eth().ipv4("192.0.2.1", "203.0.113.10").icmp4_frag_needed(1400).inner(inner, 28);
    const Bytes b = pkt.build();
    const Layout l = pkt.layout();
    const ParsedPacket p = parse(b);
    ASSERT_TRUE(p.ok()) << join(p.problems);
    ASSERT_TRUE(p.icmp.has_value());
    EXPECT_EQ(p.icmp->type, 3);
    EXPECT_EQ(p.icmp->code, 4);
    EXPECT_EQ(p.icmp->mtu(), 1400u);
    EXPECT_TRUE(p.icmp->is_error());
    EXPECT_EQ(l.quote_off, 42u);
    EXPECT_EQ(l.quote_l4_off, 62u);
    EXPECT_EQ(b.size(), 70u);
    ASSERT_NE(p.quoted, nullptr);
    const ParsedPacket &q = *p.quoted;
    ASSERT_EQ(q.ips.size(), 1u);
    EXPECT_EQ(q.ips[0].src, "203.0.113.10");
    EXPECT_EQ(q.ips[0].dst, "198.51.100.7");
    EXPECT_EQ(q.ips[0].tot_len, 1440);
    EXPECT_TRUE(q.ips[0].truncated);
    ASSERT_TRUE(q.tcp.has_value());
    EXPECT_EQ(q.tcp->sport, 443);
    EXPECT_EQ(q.tcp->dport, 40000);
    EXPECT_EQ(q.tcp->seq, 1000u);
    EXPECT_TRUE(q.l4_truncated);
    EXPECT_FALSE(q.l4_checksum_verified);
    EXPECT_EQ(q.l4_off, 62u);
    ASSERT_NE(p.region("quoted.tcp"), nullptr);
    EXPECT_EQ(p.region("quoted.tcp")->len, 8u);
    expect_same_layout(l, p);
    // The quote is exactly the inner packet's first 28 bytes.
    const Bytes ib = inner.build();
    EXPECT_TRUE(std::equal(b.begin() + 42, b.end(), ib.begin()));

    // A whole quote: its checksums are verified too.
    const ParsedPacket whole =
        parse(Packet()
                  .eth()
                  .ipv4("192.0.2.1", "203.0.113.10")
                  .icmp4_unreach(3)
                  .inner(Packet().ipv4("203.0.113.10", "198.51.100.7").udp(53, 9999).payload(12))
                  .build());
    ASSERT_TRUE(whole.ok()) << join(whole.problems);
    ASSERT_NE(whole.quoted, nullptr);
    EXPECT_TRUE(whole.quoted->l4_checksum_verified);
    EXPECT_FALSE(whole.quoted->l4_truncated);

    // ICMPv6 Packet Too Big, time exceeded, unreachable with inner IPv6 packets.
    const Packet in6 = Packet().ipv6("2001:db8::10", "2001:db8::20").tcp(443, 50000).payload(1300);
    for (const Packet &e : {
             Packet()
                 .ipv6("2001:db8::1", "2001:db8::10")
                 .icmp6_packet_too_big(1280)
                 .inner(in6, 1232),
             Packet().ipv6("2001:db8::1", "2001:db8::10").icmp6_time_exceeded().inner(in6, 48),
             Packet().ipv6("2001:db8::1", "2001:db8::10").icmp6_unreach(1).inner(in6, 60),
         }) {
        const ParsedPacket p6 = parse(e.build(), {.eth = false});
        ASSERT_TRUE(p6.ok()) << join(p6.problems);
        ASSERT_NE(p6.quoted, nullptr);
        ASSERT_TRUE(p6.quoted->tcp.has_value());
        EXPECT_EQ(p6.quoted->tcp->dport, 50000);
        EXPECT_EQ(p6.quoted->ips[0].payload_len, 1320);
        expect_same_layout(e.layout(), p6);
    }
    const ParsedPacket ptb = parse(Packet()
                                       .ipv6("2001:db8::1", "2001:db8::10")
                                       .icmp6_packet_too_big(1280)
                                       .inner(in6, 80)
                                       .build(),
                                   {.eth = false});
    EXPECT_EQ(ptb.icmp->mtu(), 1280u);

    // NDP neighbour solicitation as a raw ICMPv6 type: checksum with the pseudo-header.
    Bytes ns(16, 0);
    const auto target = ipv6_addr("fe80::2");
    std::copy(target.begin(), target.end(), ns.begin());
    const ParsedPacket nd = parse(Packet()
                                      .eth()
                                      .ipv6("fe80::1", "ff02::1:ff00:2")
                                      .hop_limit(255)
                                      .icmp6(135, 0)
                                      .payload(ns)
                                      .build());
    ASSERT_TRUE(nd.ok()) << join(nd.problems);
    EXPECT_EQ(nd.icmp->type, 135);
    EXPECT_FALSE(nd.icmp->is_error());
    EXPECT_TRUE(nd.l4_checksum_verified);

    EXPECT_THROW(Packet().ipv4("1.1.1.1", "2.2.2.2").icmp6(1, 0), std::logic_error);
    EXPECT_THROW(Packet().ipv6("::1", "::2").icmp4(3, 0), std::logic_error);
    EXPECT_THROW(Packet().ipv6("::1", "::2").udp(1, 2).inner(in6), std::logic_error);
    EXPECT_THROW(Packet().ipv6("::1", "::2").icmp6_unreach(0).inner(Packet().eth()),
                 std::logic_error);
}

} // namespace
} // namespace xi::test::packet_tests
