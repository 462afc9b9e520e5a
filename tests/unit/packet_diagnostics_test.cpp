// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The checker's text for failure messages: hexdiff names the first difference and its field,
// describe_offset finds fields inside quoted datagrams, hexdump, and summary() of the example
// packet of packet.h.
#include "packet_test_helpers.h"

#include <string>

#include <gtest/gtest.h>

namespace xi::test::packet_tests
{
namespace
{

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

    const std::string s = summary(parse(doc_example().build()));
    EXPECT_EQ(s, "eth 02:00:00:00:00:01 > 02:00:00:00:00:02 | vlan 100 | ipv4 198.51.100.7 > "
                 "203.0.113.10 ttl 17 | tcp 40000 > 443 [S] seq 1 mss 1460 | payload 100");
}

} // namespace
} // namespace xi::test::packet_tests
