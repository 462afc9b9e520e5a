// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The test packet library checks itself: builder and checker are written independently and
// must agree on every layer combination; both must reproduce known-answer packets that were
// generated once by a third implementation (scapy 2.5, see each vector's comment).
#include "packet.h"
#include "packet_check.h"

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace xi::test
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

std::string join(const std::vector<std::string> &v)
{
    std::string s;
    for (const std::string &x : v)
        s += "\n  " + x;
    return s;
}

bool contains(const std::vector<std::string> &problems, std::string_view needle)
{
    for (const std::string &p : problems) {
        if (p.find(needle) != std::string::npos)
            return true;
    }
    return false;
}

const Mac kMacA = mac("02:00:00:00:00:01");
const Mac kMacB = mac("02:00:00:00:00:02");

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
        {"eth/vlan/ipv4/tcp syn mss",
         Packet()
             .eth(kMacA, kMacB)
             .vlan(100)
             .ipv4("198.51.100.7", "203.0.113.10")
             .ttl(17)
             .tcp(40000, 443)
             .syn()
             .mss(1460)
             .payload(100),
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

// ---- every layer combination ----------------------------------------------------------------

using Step = std::function<void(Packet &)>;
struct Variant {
    const char *name;
    Step step;
};

// The region list of the checker must equal the builder's layer list exactly.
void expect_same_layout(const Layout &l, const ParsedPacket &p)
{
    ASSERT_EQ(l.layers.size(), p.regions.size()) << summary(p);
    for (size_t i = 0; i < l.layers.size(); i++) {
        const Layer &a = l.layers[i];
        const Region &b = p.regions[i];
        EXPECT_EQ(to_string(a.kind), b.kind) << "layer " << i << " " << b.name;
        EXPECT_EQ(a.off, b.off) << "layer " << i << " " << b.name;
        EXPECT_EQ(a.len, b.len) << "layer " << i << " " << b.name;
        EXPECT_EQ(a.depth, b.depth) << "layer " << i << " " << b.name;
    }
    EXPECT_EQ(l.l2_len, p.l2_len);
    ASSERT_EQ(l.ip_offs.size(), p.ips.size());
    for (size_t i = 0; i < l.ip_offs.size(); i++)
        EXPECT_EQ(l.ip_offs[i], p.ips[i].off);
    EXPECT_EQ(l.l4_off, p.l4_off);
    if (l.l4_off != npos) {
        EXPECT_EQ(l.l4_len, p.l4_len);
    }
    EXPECT_EQ(l.payload_off, p.payload_off);
    EXPECT_EQ(l.ip_end, p.ip_end);
    EXPECT_EQ(l.size - l.ip_end, p.trailer_len);
}

TEST(Combinations, BuilderAndCheckerAgree)
{
    const std::vector<Variant> l2s = {
        {"none", [](Packet &) {}},
        {"eth", [](Packet &p) { p.eth(kMacA, kMacB); }},
        {"eth+vlan", [](Packet &p) { p.eth().vlan(100, 3); }},
        {"eth+qinq", [](Packet &p) { p.eth().svlan(10).vlan(20, 7, true); }},
        {"eth+3 tags", [](Packet &p) { p.eth().vlan(1).svlan(4095).vlan_tag(0x8100, 0); }},
    };
    const std::vector<Variant> l3s = {
        {"ipv4", [](Packet &p) { p.ipv4("198.51.100.7", "203.0.113.10").ttl(9).dscp(46); }},
        {"ipv4+opts",
         [](Packet &p) {
             p.ipv4("198.51.100.7", "203.0.113.10").ip_options({1, 1, 0x94});
         }},
        {"ipv6", [](Packet &p) { p.ipv6("2001:db8::1", "2001:db8::2").flow_label(0xabcde); }},
        {"ipv6+ext",
         [](Packet &p) {
             p.ipv6("2001:db8::1", "2001:db8::2")
                 .hop_by_hop()
                 .dest_opts({0x1e, 0x01, 0x00})
                 .routing(4, 1, {"2001:db8::aa", "2001:db8::bb"})
                 .ah(0x100, 7);
         }},
        {"ipip", [](Packet &p) { p.ipv4("10.0.0.1", "10.0.0.2").ipv4("192.0.2.1", "192.0.2.2"); }},
        {"ip6ip6",
         [](Packet &p) { p.ipv6("fd00::1", "fd00::2").ipv6("2001:db8::1", "2001:db8::2"); }},
        {"6in4", [](Packet &p) { p.ipv4("10.0.0.1", "10.0.0.2").ipv6("2001:db8::1", "::1"); }},
        {"4in6", [](Packet &p) { p.ipv6("fd00::1", "fd00::2").ipv4("192.0.2.1", "192.0.2.2"); }},
    };
    // L4 steps get told whether the innermost header is IPv4.
    using L4Step = std::function<void(Packet &, bool)>;
    struct L4Variant {
        const char *name;
        L4Step step;
    };
    const std::vector<L4Variant> l4s = {
        {"none", [](Packet &, bool) {}},
        {"tcp",
         [](Packet &p, bool) {
             p.tcp(40000, 443).syn().ack(77).mss(1460).nop().wscale(7).sack_perm().ts(1, 2);
         }},
        {"udp", [](Packet &p, bool) { p.udp(5353, 53); }},
        {"echo",
         [](Packet &p, bool v4) {
             if (v4)
                 p.icmp4_echo_request(7, 8);
             else
                 p.icmp6_echo_reply(7, 8);
         }},
        {"icmp error",
         [](Packet &p, bool v4) {
             if (v4)
                 p.icmp4_frag_needed(1400).inner(
                     Packet().ipv4("203.0.113.10", "198.51.100.7").tcp(443, 40000).payload(50), 40);
             else
                 p.icmp6_packet_too_big(1280).inner(
                     Packet().ipv6("2001:db8::2", "2001:db8::1").udp(53, 5353).payload(9));
         }},
    };
    const size_t payloads[] = {0, 1, 33};

    size_t n = 0;
    for (const Variant &l2 : l2s) {
        for (const Variant &l3 : l3s) {
            for (const L4Variant &l4 : l4s) {
                for (size_t pl : payloads) {
                    if (std::string(l4.name) == "icmp error" && pl != 0)
                        continue; // inner() is the payload
                    SCOPED_TRACE(std::string(l2.name) + " / " + l3.name + " / " + l4.name +
                                 " / payload " + std::to_string(pl));
                    Packet p;
                    l2.step(p);
                    l3.step(p);
                    std::string l3name = l3.name;
                    bool inner_v4 = l3name == "ipv4" || l3name == "ipv4+opts" || l3name == "ipip" ||
                                    l3name == "4in6";
                    l4.step(p, inner_v4);
                    if (pl)
                        p.payload(pl);
                    const Bytes b = p.build();
                    const Layout lay = p.layout();
                    const ParseOptions opts{.eth = p.has_l2()};
                    const ParsedPacket parsed = parse(b, opts);
                    EXPECT_TRUE(parsed.ok()) << join(parsed.problems) << "\n" << hexdump(b);
                    EXPECT_EQ(lay.size, b.size());
                    expect_same_layout(lay, parsed);
                    EXPECT_FALSE(summary(parsed).empty());
                    if (parsed.tcp) {
                        EXPECT_EQ(parsed.tcp->sport, 40000);
                        EXPECT_EQ(parsed.tcp->ack, 77u);
                        EXPECT_EQ(parsed.tcp->mss, 1460);
                        EXPECT_EQ(parsed.tcp->wscale, 7);
                        EXPECT_TRUE(parsed.tcp->syn() && parsed.tcp->ack_flag());
                        EXPECT_TRUE(parsed.l4_checksum_verified);
                    }
                    if (parsed.udp) {
                        EXPECT_EQ(parsed.udp->dport, 53);
                        EXPECT_EQ(parsed.udp->len, 8 + pl);
                    }
                    EXPECT_EQ(parsed.payload_len, lay.ip_end - lay.payload_off);
                    n++;
                }
            }
        }
    }
    EXPECT_GT(n, 400u);
}

// ---- malformed packets ----------------------------------------------------------------------

struct Bad {
    const char *name;
    Packet pkt;
    const char *needle; // must appear in one of the problems
};

Packet v4()
{
    return Packet().eth().ipv4("198.51.100.7", "203.0.113.10");
}

Packet v6()
{
    return Packet().eth().ipv6("2001:db8::1", "2001:db8::2");
}

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

// ---- layers parse back ----------------------------------------------------------------------

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

// ---- diagnostics ----------------------------------------------------------------------------

TEST(Diagnostics, HexdiffNamesTheFirstDifference)
{
    const Bytes a = v4().tcp(1, 2).syn().payload(20).build();
    const Bytes b = v4().ttl(63).tcp(1, 2).syn().payload(20).build();
    EXPECT_EQ(hexdiff(a, a), "");
    const std::string d = hexdiff(a, b);
    EXPECT_NE(d.find("first difference at offset 22"), std::string::npos) << d;
    EXPECT_NE(d.find("ipv4[0] +8 (ttl)"), std::string::npos) << d;
    EXPECT_NE(d.find("^^"), std::string::npos) << d;
    EXPECT_NE(d.find("expected 74 bytes, actual 74 bytes"), std::string::npos) << d;

    const std::string shorter = hexdiff(a, truncated(a, 60));
    EXPECT_NE(shorter.find("first difference at offset 60"), std::string::npos) << shorter;
    EXPECT_NE(shorter.find("payload +6"), std::string::npos) << shorter;

    const Bytes icmp =
        v4().icmp4_unreach(3).inner(Packet().ipv4("192.0.2.9", "192.0.2.8").udp(1, 2)).build();
    EXPECT_EQ(describe_offset(icmp, 14 + 20 + 8 + 20 + 2), "quoted.udp +2 (dport)");
    EXPECT_EQ(describe_offset(icmp, 14 + 20 + 2), "icmp4 +2 (checksum)");
    EXPECT_EQ(describe_offset(icmp, 12), "eth +12 (type)");
    EXPECT_EQ(describe_offset(icmp, 1000), "past the end");

    const std::string dump = hexdump(Bytes{0x41, 0x42, 0x00});
    EXPECT_EQ(dump.substr(0, 16), "0000  41 42 00  ");
    EXPECT_NE(dump.find("AB."), std::string::npos);

    const std::string s = summary(parse(Packet()
                                            .eth(kMacA, kMacB)
                                            .vlan(100)
                                            .ipv4("198.51.100.7", "203.0.113.10")
                                            .ttl(17)
                                            .tcp(40000, 443)
                                            .syn()
                                            .mss(1460)
                                            .payload(100)
                                            .build()));
    EXPECT_EQ(s, "eth 02:00:00:00:00:01 > 02:00:00:00:00:02 | vlan 100 | ipv4 198.51.100.7 > "
                 "203.0.113.10 ttl 17 | tcp 40000 > 443 [S] seq 1 mss 1460 | payload 100");
}

} // namespace
} // namespace xi::test
