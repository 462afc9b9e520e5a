// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// L2 and L3 parse back field by field: VLAN stacks, a non-IP ethertype, IPv4 fields and
// options, IPv6 extension chains in any order, fragments, encapsulation, Ethernet padding. The
// L4 layers: packet_layers_l4_test.cpp.
#include "packet_test_helpers.h"

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace xi::test::packet_tests
{
namespace
{

TEST(Layers, VlanStacks)
{
    const Bytes b = Packet()
                        .eth("02:aa:bb:cc:dd:ee", "ff:ff:ff:ff:ff:ff")
                        .svlan(300, 5)
                        .vlan(4094, 0, true)
                        .vlan_tag(0x88a8, 1)
                        .ipv4("192.0.2.1", "192.0.2.2")
                        .udp(1, 2)
                        .build();
    const ParsedPacket p = parse(b);
    ASSERT_TRUE(p.ok()) << join(p.problems);
    EXPECT_EQ(p.eth.src, mac("02:aa:bb:cc:dd:ee"));
    EXPECT_EQ(p.eth.dst, mac("ff:ff:ff:ff:ff:ff"));
    EXPECT_EQ(p.eth.type, 0x88a8);
    ASSERT_EQ(p.vlans.size(), 3u);
    EXPECT_EQ(p.vlans[0].tpid, 0x88a8);
    EXPECT_EQ(p.vlans[0].vid, 300);
    EXPECT_EQ(p.vlans[0].pcp, 5);
    EXPECT_EQ(p.vlans[1].tpid, 0x8100);
    EXPECT_EQ(p.vlans[1].vid, 4094);
    EXPECT_TRUE(p.vlans[1].dei);
    EXPECT_EQ(p.vlans[2].tpid, 0x88a8);
    EXPECT_EQ(p.vlans[2].next_type, 0x0800);
    EXPECT_EQ(p.ethertype, 0x0800);
    EXPECT_EQ(p.l2_len, 26u);
    EXPECT_THROW(Packet().eth().vlan(4096), std::invalid_argument);
    EXPECT_THROW(Packet().vlan(1), std::logic_error);
}

TEST(Layers, NonIpEthertype)
{
    const Packet arp = Packet().eth().ethertype(0x0806).payload(28);
    const ParsedPacket p = parse(arp.build());
    EXPECT_TRUE(p.ok());
    EXPECT_EQ(p.ethertype, 0x0806);
    EXPECT_EQ(p.payload_len, 28u);
    expect_same_layout(arp.layout(), p);
}

TEST(Layers, Ipv4FieldsAndOptions)
{
    const Bytes b = Packet()
                        .ipv4("192.0.2.1", "192.0.2.2")
                        .ttl(3)
                        .dscp(46)
                        .ecn(1)
                        .ip_id(0xbeef)
                        .df()
                        .ip_options({0x07, 0x07, 0x04, 0, 0, 0, 0}) // record route, 1 slot
                        .udp(1, 2)
                        .build();
    const ParsedPacket p = parse(b, {.eth = false});
    ASSERT_TRUE(p.ok()) << join(p.problems);
    const IpInfo &ip = p.ips.at(0);
    EXPECT_EQ(ip.ihl, 7);
    EXPECT_EQ(ip.options, (Bytes{0x07, 0x07, 0x04, 0, 0, 0, 0, 0})); // padded with EOL
    EXPECT_EQ(ip.ttl, 3);
    EXPECT_EQ(ip.dscp(), 46);
    EXPECT_EQ(ip.ecn(), 1);
    EXPECT_EQ(ip.id, 0xbeef);
    EXPECT_TRUE(ip.df);
    EXPECT_FALSE(ip.mf);
    EXPECT_EQ(ip.tot_len, 28 + 8);
    EXPECT_EQ(p.l4_off, 28u);
}

TEST(Layers, Ipv6ExtensionChainsInAnyOrder)
{
    using Ext = std::function<void(Packet &)>;
    const std::vector<std::pair<uint8_t, Ext>> exts = {
        {0,
         [](Packet &p) {
             p.hop_by_hop({5, 2, 0, 0});
         }},
        {60, [](Packet &p) { p.dest_opts(); }},
        {43,
         [](Packet &p) {
             p.routing(4, 2, {"2001:db8::c", "2001:db8::b", "2001:db8::a"});
         }},
        {44, [](Packet &p) { p.frag6(0, false, 0xdeadbeef); }},
        {51, [](Packet &p) { p.ah(0x1000, 42, Bytes(16, 0xab)); }},
    };
    // All orders that keep hop-by-hop first (or leave it out), every L4.
    std::vector<size_t> idx = {1, 2, 3, 4};
    size_t count = 0;
    do {
        for (bool hbh : {false, true}) {
            for (int l4 = 0; l4 < 3; l4++) {
                Packet p = Packet().ipv6("2001:db8::1", "2001:db8::2");
                std::vector<uint8_t> want;
                if (hbh) {
                    exts[0].second(p);
                    want.push_back(0);
                }
                for (size_t i : idx) {
                    exts[i].second(p);
                    want.push_back(exts[i].first);
                }
                if (l4 == 0)
                    p.tcp(1, 2).ack(3);
                else if (l4 == 1)
                    p.udp(3, 4).payload(5);
                else
                    p.icmp6_echo_request(1, 2);
                const Bytes b = p.build();
                const ParsedPacket parsed = parse(b, {.eth = false});
                SCOPED_TRACE(summary(parsed));
                ASSERT_TRUE(parsed.ok()) << join(parsed.problems);
                const IpInfo &ip = parsed.ips.at(0);
                ASSERT_EQ(ip.exts.size(), want.size());
                EXPECT_EQ(ip.proto, want[0]);
                for (size_t i = 0; i < want.size(); i++) {
                    EXPECT_EQ(ip.exts[i].type, want[i]);
                    EXPECT_EQ(ip.exts[i].len % 8, 0u);
                    if (i + 1 < want.size()) {
                        EXPECT_EQ(ip.exts[i].next, want[i + 1]);
                    }
                }
                const uint8_t l4proto = l4 == 0 ? 6 : l4 == 1 ? 17 : 58;
                EXPECT_EQ(ip.exts.back().next, l4proto);
                EXPECT_EQ(ip.l4_proto, l4proto);
                // Segments left 2 on an SRH: the pseudo-header uses segment[0].
                EXPECT_EQ(ip.final_dst, "2001:db8::c");
                EXPECT_TRUE(parsed.l4_checksum_verified);
                const Ipv6ExtInfo *f = ip.ext(44);
                ASSERT_NE(f, nullptr);
                EXPECT_EQ(f->frag_id, 0xdeadbeefu);
                const Ipv6ExtInfo *a = ip.ext(51);
                ASSERT_NE(a, nullptr);
                EXPECT_EQ(a->spi, 0x1000u);
                EXPECT_EQ(a->ah_seq, 42u);
                EXPECT_EQ(a->len, 32u);
                EXPECT_EQ(ip.payload_len, b.size() - 40);
                expect_same_layout(p.layout(), parsed);
                count++;
            }
        }
    } while (std::next_permutation(idx.begin(), idx.end()));
    EXPECT_EQ(count, 24u * 2 * 3);
}

TEST(Layers, Fragments)
{
    // IPv4 first fragment: L4 header parsed, checksum not verifiable.
    ParsedPacket p = parse(v4().mf().ip_id(5).udp(1, 2).payload(100).build());
    EXPECT_TRUE(p.ok()) << join(p.problems);
    ASSERT_TRUE(p.udp.has_value());
    EXPECT_FALSE(p.l4_checksum_verified);
    EXPECT_TRUE(p.ips[0].more_fragments());
    // IPv4 later fragment: no L4 header.
    p = parse(v4().frag_offset(14).ip_proto(17).payload(50).build());
    EXPECT_TRUE(p.ok()) << join(p.problems);
    EXPECT_TRUE(p.ips[0].later_fragment());
    EXPECT_EQ(p.ips[0].frag_offset, 14);
    EXPECT_FALSE(p.udp.has_value());
    EXPECT_EQ(p.payload_len, 50u);
    EXPECT_EQ(p.l4_proto, 17);
    // IPv6 fragment header.
    p = parse(v6().frag6(0, true, 77).tcp(1, 2).payload(64).build());
    EXPECT_TRUE(p.ok()) << join(p.problems);
    ASSERT_TRUE(p.tcp.has_value());
    EXPECT_FALSE(p.l4_checksum_verified);
    p = parse(v6().frag6(9, false, 77).ip_proto(6).payload(16).build());
    EXPECT_TRUE(p.ok()) << join(p.problems);
    EXPECT_TRUE(p.ips[0].later_fragment());
    EXPECT_FALSE(p.tcp.has_value());
    ASSERT_NE(p.ips[0].ext(44), nullptr);
    EXPECT_EQ(p.ips[0].ext(44)->frag_offset, 9);
    EXPECT_EQ(p.ips[0].ext(44)->frag_id, 77u);
}

TEST(Layers, Encapsulation)
{
    struct Case {
        const char *name;
        Packet pkt;
        uint8_t outer_proto;
        uint8_t inner_version;
    };
    const std::vector<Case> cases = {
        {"ipip", Packet().eth().ipv4("10.0.0.1", "10.0.0.2").ipv4("192.0.2.1", "192.0.2.2"), 4, 4},
        {"ip6ip6", Packet().eth().ipv6("fd00::1", "fd00::2").ipv6("2001:db8::1", "2001:db8::2"), 41,
         6},
        {"6in4", Packet().eth().ipv4("10.0.0.1", "10.0.0.2").ipv6("2001:db8::1", "2001:db8::2"), 41,
         6},
        {"4in6", Packet().eth().ipv6("fd00::1", "fd00::2").ipv4("192.0.2.1", "192.0.2.2"), 4, 4},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.name);
        const Packet pkt = Packet(c.pkt).ttl(5).tcp(1000, 80).syn().mss(1360).payload(3);
        const Bytes b = pkt.build();
        const Layout l = pkt.layout();
        const ParsedPacket p = parse(b);
        ASSERT_TRUE(p.ok()) << join(p.problems);
        ASSERT_EQ(p.ips.size(), 2u);
        EXPECT_EQ(p.ips[0].l4_proto, c.outer_proto);
        EXPECT_EQ(p.ips[1].version, c.inner_version);
        EXPECT_EQ(p.ips[1].ttl, 5); // modifiers apply to the most recent header
        EXPECT_EQ(p.ips[0].ttl, 64);
        EXPECT_EQ(p.ips[0].datagram_len, b.size() - 14);
        EXPECT_EQ(p.ips[1].datagram_len, b.size() - l.inner_l3_off);
        EXPECT_EQ(l.inner_l3_off, l.ip_offs[1]);
        EXPECT_EQ(p.tcp->mss, 1360);
        EXPECT_EQ(p.l4_off, l.l4_off);
        expect_same_layout(l, p);
    }
}

TEST(Layers, EthernetPaddingIsNotPayload)
{
    const Packet pkt =
        Packet().eth().ipv4("192.0.2.1", "192.0.2.2").tcp(1, 2).syn().pad_to_min(0xee);
    const Bytes b = pkt.build();
    ASSERT_EQ(b.size(), 60u);
    EXPECT_EQ(b[59], 0xee);
    const Layout l = pkt.layout();
    EXPECT_EQ(l.ip_end, 54u);
    ASSERT_NE(l.find(LayerKind::trailer), nullptr);
    const ParsedPacket p = parse(b);
    EXPECT_TRUE(p.ok()) << join(p.problems);
    EXPECT_EQ(p.trailer_len, 6u);
    EXPECT_TRUE(p.trailer_is_padding);
    EXPECT_EQ(p.payload_len, 0u);
    EXPECT_EQ(p.ips[0].tot_len, 40);
    expect_same_layout(l, p);
    // With a tag the padded frame may be 64 bytes (tag added after padding).
    const Bytes t =
        Packet().eth().vlan(3).ipv4("192.0.2.1", "192.0.2.2").udp(1, 2).pad_to(64).build();
    EXPECT_TRUE(check(t).empty()) << join(check(t));
    // Already long enough: no padding.
    EXPECT_EQ(v4().udp(1, 2).payload(100).pad_to_min().build().size(), 142u);
}

} // namespace
} // namespace xi::test::packet_tests
