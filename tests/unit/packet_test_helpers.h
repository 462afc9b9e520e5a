// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// What the packet library's own tests share (packet_test.cpp, packet_combinations_test.cpp,
// packet_malformed_test.cpp, packet_layers_test.cpp, packet_layers_l4_test.cpp,
// packet_diagnostics_test.cpp): base packets, failure-message helpers, and the check that the
// builder's layout and the checker's regions agree.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "packet.h"
#include "packet_check.h"

namespace xi::test::packet_tests
{

// Problems (or any lines) one per line, indented, for failure messages.
inline std::string join(const std::vector<std::string> &v)
{
    std::string s;
    for (const std::string &x : v)
        s += "\n  " + x;
    return s;
}

inline const Mac kMacA = mac("02:00:00:00:00:01");
inline const Mac kMacB = mac("02:00:00:00:00:02");

// The example of packet.h's comment: Ethernet, a VLAN tag, IPv4 with TTL 17, a TCP SYN with an
// MSS option, 100 bytes of payload. A known answer (packet_test.cpp) and the summary() example
// (packet_diagnostics_test.cpp).
inline Packet doc_example()
{
    return Packet()
        .eth(kMacA, kMacB)
        .vlan(100)
        .ipv4("198.51.100.7", "203.0.113.10")
        .ttl(17)
        .tcp(40000, 443)
        .syn()
        .mss(1460)
        .payload(100);
}

// Ethernet and an IP header of each family, for cases that vary what follows.
inline Packet v4()
{
    return Packet().eth().ipv4("198.51.100.7", "203.0.113.10");
}

inline Packet v6()
{
    return Packet().eth().ipv6("2001:db8::1", "2001:db8::2");
}

// The region list of the checker must equal the builder's layer list exactly.
inline void expect_same_layout(const Layout &l, const ParsedPacket &p)
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

} // namespace xi::test::packet_tests
