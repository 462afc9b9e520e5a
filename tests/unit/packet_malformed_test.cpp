// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Broken packets: every override that crafts a malformed packet is reported by the checker
// (with the problem it names), and packets cut at every offset or with random bytes flipped
// are reported, never read past their end.
#include "packet_test_helpers.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace xi::test::packet_tests
{
namespace
{

bool contains(const std::vector<std::string> &problems, std::string_view needle)
{
    for (const std::string &p : problems) {
        if (p.find(needle) != std::string::npos)
            return true;
    }
    return false;
}

// ---- malformed packets ----------------------------------------------------------------------

struct Bad {
    const char *name;
    Packet pkt;
    const char *needle; // must appear in one of the problems
};

TEST(Malformed, OverridesAreDetected)
{
    const Packet quoted = Packet().ipv4("203.0.113.10", "198.51.100.7").tcp(443, 40000);
    const std::vector<Bad> cases = {
        {"ipv4 checksum", v4().corrupt_ip_checksum().tcp(1, 2), "ipv4[0]: header checksum"},
        {"ipv4 checksum explicit", v4().ip_checksum(0x1234).udp(1, 2), "header checksum 0x1234"},
        {"ihl 4", v4().ihl(4).tcp(1, 2), "ihl 4 < 5"},
        {"ihl 15 past the end", v4().ihl(15).payload(8), "ihl 15 says 60 header bytes"},
        {"ihl 6 without options", v4().ihl(6).udp(1, 2), "header checksum"},
        {"version 5", v4().ip_version(5).tcp(1, 2), "version 5 where IPv4"},
        {"version 4 in ipv6 frame", v6().ip_version(4).udp(1, 2), "version 4 where IPv6"},
        {"ethertype lies", v4().ethertype(0x86dd).tcp(1, 2), "version 4 where IPv6"},
        {"tot_len too big", v4().tot_len(1000).tcp(1, 2), "length 1000 but only 40 bytes"},
        {"tot_len too small", v4().tot_len(30).udp(1, 2).payload(100), "bytes after the IP"},
        {"tot_len below header", v4().tot_len(10).udp(1, 2), "shorter than its headers"},
        {"reserved flag", v4().evil().udp(1, 2), "reserved flag"},
        {"payload_len too big", v6().payload_len(5000).udp(1, 2), "length 5040 but only 48"},
        {"payload_len too small", v6().payload_len(4).udp(1, 2).payload(64), "bytes after"},
        {"tcp checksum v4", v4().tcp(1, 2).syn().corrupt_l4_checksum(), "tcp: checksum"},
        {"tcp checksum v6", v6().tcp(1, 2).syn().payload(3).l4_checksum(0), "tcp: checksum 0x0000"},
        {"udp checksum v4", v4().udp(1, 2).payload(5).corrupt_l4_checksum(), "udp: checksum"},
        {"udp zero checksum over v6", v6().udp(1, 2).l4_checksum(0), "zero checksum over IPv6"},
        {"udp length", v4().udp(1, 2).payload(10).udp_len(9), "udp: length 9"},
        {"udp length < 8", v6().udp(1, 2).udp_len(4), "udp: length 4 < 8"},
        {"icmp checksum", v4().icmp4_echo_request(1, 1).corrupt_l4_checksum(), "icmp4: checksum"},
        {"icmp6 checksum", v6().icmp6_echo_request(1, 1).corrupt_l4_checksum(), "icmp6: checksum"},
        {"icmp4 over ipv6", v6().ip_proto(1).payload(8), "icmp4: carried by IPv6"},
        {"doff 4", v4().tcp(1, 2).doff(4), "doff 4 < 5"},
        {"doff 15", v4().tcp(1, 2).doff(15).payload(4), "doff 15 says 60 header bytes"},
        {"tcp option bad length", v4().tcp(1, 2).tcp_options_raw({2, 1, 0, 0}), "bad length"},
        {"mss of 3 bytes", v4().tcp(1, 2).tcp_option(2, {5}), "option kind 2 has length 3"},
        {"tcp header truncated", v4().ip_proto(6).payload(10), "tcp: header truncated"},
        {"inner tot_len", v4().ipv4("192.0.2.1", "192.0.2.2").tot_len(30).udp(1, 2).payload(10),
         "ipv4[1]: length 30 but the outer header carries 38"},
        {"hbh not first", v6().dest_opts().hop_by_hop().udp(1, 2), "not first"},
        {"ext header past payload_len", v6().hop_by_hop().payload_len(4).payload(8),
         "ipv6[0].hbh: 8 bytes, only 4 present"},
        {"ext header cut", v6().hop_by_hop().truncate(55),
         "ipv6[0].hbh: extension header truncated"},
        {"bad option tlv", v6().dest_opts({0x1e, 0x09}).udp(1, 2), "overruns the header"},
        {"icmp error without quote", v4().icmp4_unreach(3), "quotes no datagram"},
        {"quoted bad ip checksum",
         v4().icmp4_unreach(3).inner(Packet(quoted).corrupt_ip_checksum()),
         "quoted: ipv4[0]: header checksum"},
        {"quoted tcp checksum", v4().icmp4_unreach(3).inner(Packet(quoted).corrupt_l4_checksum()),
         "quoted: tcp: checksum"},
        {"short quoted l4 header", v4().icmp4_unreach(3).inner(quoted, 24),
         "quoted: tcp: only 4 bytes"},
        {"quoted ip header cut", v4().icmp4_time_exceeded().inner(quoted, 12),
         "quoted: ipv4[0]: header truncated (12 of 20"},
        {"quoted ipv6 in icmpv4", v4().icmp4_unreach(1).inner(Packet().ipv6("::1", "::2")),
         "version 6 where IPv4"},
        {"bare ip trailer", Packet().ipv4("192.0.2.1", "192.0.2.2").udp(1, 2).trailer({1, 2}),
         "2 bytes after the IP datagram"},
        {"trailer past min frame", v4().udp(1, 2).payload(40).trailer({0}),
         "1 bytes after the IP datagram"},
        {"vlan tag cut", Packet().eth().vlan(5).ipv4("192.0.2.1", "192.0.2.2").truncate(16),
         "vlan[0]: tag truncated"},
        {"runt frame", Packet().eth().truncate(10), "shorter than an Ethernet header"},
    };
    for (const Bad &c : cases) {
        SCOPED_TRACE(c.name);
        const ParseOptions opts{.eth = c.pkt.has_l2()};
        const Bytes b = c.pkt.build();
        const auto problems = check(b, opts);
        EXPECT_TRUE(contains(problems, c.needle))
            << "want \"" << c.needle << "\", got:" << join(problems) << "\n"
            << hexdump(b);
    }
}

TEST(Malformed, AllowTrailerAndZeroUdpChecksumOverIpv4)
{
    const Bytes b = Packet().ipv4("192.0.2.1", "192.0.2.2").udp(1, 2).trailer({1, 2}).build();
    EXPECT_TRUE(check(b, {.eth = false, .allow_trailer = true}).empty());
    const Bytes z = v4().udp(1, 2).payload(3).l4_checksum(0).build();
    const ParsedPacket p = parse(z);
    EXPECT_TRUE(p.ok()) << join(p.problems);
    EXPECT_FALSE(p.l4_checksum_verified);
}

// ---- truncation and offsets -----------------------------------------------------------------

TEST(Truncation, OffsetsAndEveryCut)
{
    const Packet base = Packet()
                            .eth()
                            .vlan(7)
                            .ipv4("192.0.2.1", "192.0.2.2")
                            .ip_options({1, 1, 1, 1})
                            .tcp(1, 2)
                            .syn()
                            .mss(1460)
                            .payload(10);
    const Layout l = base.layout();
    const Bytes full = base.build();
    EXPECT_EQ(l.l2_len, 18u);
    EXPECT_EQ(l.l3_off, 18u);
    EXPECT_EQ(l.inner_l3_off, 18u);
    EXPECT_EQ(l.l4_off, 42u);
    EXPECT_EQ(l.l4_len, 24u);
    EXPECT_EQ(l.payload_off, 66u);
    EXPECT_EQ(l.ip_end, 76u);
    EXPECT_EQ(l.size, 76u);
    EXPECT_EQ(full.size(), 76u);
    EXPECT_EQ(l.boundaries(), (std::vector<size_t>{0, 14, 18, 42, 66, 76}));
    ASSERT_NE(l.find(LayerKind::tcp), nullptr);
    EXPECT_EQ(l.find(LayerKind::tcp)->off, 42u);
    EXPECT_EQ(l.find(LayerKind::udp), nullptr);
    EXPECT_TRUE(check(full).empty());

    for (size_t n = 0; n <= full.size() + 2; n++) {
        SCOPED_TRACE(n);
        const Bytes cut = Packet(base).truncate(n).build();
        ASSERT_EQ(cut.size(), std::min(n, full.size()));
        EXPECT_TRUE(std::equal(cut.begin(), cut.end(), full.begin()));
        EXPECT_EQ(cut, truncated(full, n));
        const auto problems = check(cut);
        EXPECT_EQ(problems.empty(), n >= full.size()) << join(problems);
    }
}

TEST(Truncation, EveryCutOfComplexPacketsIsReportedNeverCrashes)
{
    const std::vector<Packet> packets = {
        Packet()
            .ipv6("2001:db8::1", "2001:db8::2")
            .hop_by_hop({5, 2, 0, 0})
            .routing(0, 1, {"2001:db8::3"})
            .frag6(0, false, 9)
            .dest_opts()
            .ah(1, 2)
            .tcp(1, 2)
            .sack({{1, 2}, {3, 4}})
            .payload(7),
        Packet().eth().svlan(1).vlan(2).ipv4("10.0.0.1", "10.0.0.2").ipv6("::1", "::2").udp(1, 2),
        Packet()
            .eth()
            .ipv4("192.0.2.1", "192.0.2.2")
            .icmp4_time_exceeded()
            .inner(Packet().ipv4("192.0.2.2", "198.51.100.1").udp(9, 10).payload(30)),
        Packet()
            .ipv6("2001:db8::1", "2001:db8::2")
            .icmp6_unreach(4)
            .inner(
                Packet().ipv6("2001:db8::2", "2001:db8::9").dest_opts().tcp(80, 1000).payload(5)),
    };
    for (const Packet &p : packets) {
        const Bytes full = p.build();
        const ParseOptions opts{.eth = p.has_l2()};
        ASSERT_TRUE(check(full, opts).empty()) << join(check(full, opts));
        for (size_t b : p.layout().boundaries())
            EXPECT_LE(b, full.size());
        for (size_t n = 0; n < full.size(); n++) {
            SCOPED_TRACE(n);
            EXPECT_FALSE(check(truncated(full, n), opts).empty());
        }
    }
}

TEST(Truncation, MutatedBytesNeverCrashTheChecker)
{
    // Random byte flips in valid packets (lengths, ihl, doff, next headers ...): parse() must
    // stay inside the buffer (run under ASan to make this bite) and still describe something.
    const std::vector<Packet> packets = {
        Packet().eth().vlan(1).ipv4("10.0.0.1", "10.0.0.2").ip_options({1, 1}).tcp(1, 2).mss(9),
        Packet().ipv6("2001:db8::1", "2001:db8::2").hop_by_hop().routing(0, 1, {"::3"}).udp(1, 2),
        Packet()
            .eth()
            .ipv4("192.0.2.1", "192.0.2.2")
            .icmp4_unreach(3)
            .inner(Packet().ipv4("192.0.2.2", "198.51.100.1").ipv6("::1", "::2").tcp(9, 10), 70),
        Packet().ipv6("::1", "::2").icmp6_unreach(0).inner(Packet().ipv6("::2", "::3").ah(1, 2)),
    };
    uint32_t x = 7;
    for (const Packet &p : packets) {
        const Bytes full = p.build();
        const ParseOptions opts{.eth = p.has_l2()};
        for (int round = 0; round < 3000; round++) {
            Bytes b = full;
            for (int k = 0; k < 3; k++) {
                x = x * 1103515245 + 12345;
                b[(x >> 8) % b.size()] = static_cast<uint8_t>(x >> 20);
            }
            x = x * 1103515245 + 12345;
            if (x % 4 == 0)
                b.resize((x >> 8) % b.size());
            const ParsedPacket parsed = parse(b, opts);
            for (const Region &r : parsed.regions)
                ASSERT_LE(r.off + r.len, b.size()) << r.name;
            (void)hexdiff(full, b, opts);
        }
    }
}

} // namespace
} // namespace xi::test::packet_tests
