// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Builder and checker agree on every layer combination (L2 x L3 x L4 x payload): the packet
// parses back without problems, to the layout the builder reports (packet_test.cpp says why
// the two are written independently).
#include "packet_test_helpers.h"

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace xi::test::packet_tests
{
namespace
{

using Step = std::function<void(Packet &)>;
struct Variant {
    const char *name;
    Step step;
};

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

} // namespace
} // namespace xi::test::packet_tests
