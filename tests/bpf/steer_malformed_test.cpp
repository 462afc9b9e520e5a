// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// What steering drops or never steers (Steer fixture, steer_fixture.h): tiny and overlapping
// fragments, tunnelled packets from the Internet, malformed headers, and a VIP packet cut at
// every offset.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <string>
#include <vector>

#include "steer_fixture.h"

namespace xi::test::steering
{
namespace
{

TEST_P(Steer, TinyAndOverlappingFragmentsAreDropped)
{
    // First fragment with 8 bytes of TCP: the flags would be in the next fragment.
    auto tiny =
        Packet().eth().ipv4("203.0.113.7", "198.51.100.10").mf().tcp(1, 443).truncate(14 + 20 + 8);
    auto bytes = tiny.build();
    bytes[14 + 3] = 28; // tot_len: the datagram itself is that short
    bytes[14 + 10] = bytes[14 + 11] = 0;
    expect(bytes, XI_R_DROP_FRAG_TINY);
    // RFC 1858: a TCP fragment at offset 8 rewrites the header of the first one.
    auto overlap = Packet().eth().ipv4("203.0.113.7", "198.51.100.10").frag_offset(1);
    expect(overlap.ip_proto(IPPROTO_TCP).payload(40).build(), XI_R_DROP_FRAG_TINY);
}

TEST_P(Steer, TunnelledPacketsFromTheInternetAreNeverSteered)
{
    // What an attacker would send: IPIP towards a sibling's mesh address, carrying a VIP flow.
    auto ipip =
        Packet().eth().ipv4("203.0.113.7", "10.200.0.2").ipv4("10.200.0.9", "198.51.100.10");
    expect(ipip.tcp(1, 443).syn().build(), XI_R_PUBLIC_ENCAP);
    auto ip6ip6 = Packet().eth().ipv6("2001:db8:ffff::7", "fd00:200::2");
    ip6ip6.ipv6("fd00:200::9", "2001:db8:100::10").tcp(1, 443);
    expect(ip6ip6.build(), XI_R_PUBLIC_ENCAP);
    auto sixin4 = Packet().eth().ipv4("203.0.113.7", "10.200.0.3");
    sixin4.ipv6("2001:db8:ffff::7", "2001:db8:100::10").tcp(1, 443).syn();
    expect(sixin4.build(), XI_R_PUBLIC_ENCAP);
}

TEST_P(Steer, MalformedHeadersAreDropped)
{
    struct Case {
        const char *what;
        Bytes pkt;
        uint32_t reason;
    };
    auto base = [] { return Packet().eth().ipv4("203.0.113.7", "198.51.100.10"); };
    std::vector<Case> cases = {
        {"ihl 4", base().ihl(4).tcp(1, 443).build(), XI_R_DROP_BAD_HEADER},
        {"version 5", base().ip_version(5).tcp(1, 443).build(), XI_R_DROP_BAD_HEADER},
        {"tot_len below header", base().tot_len(10).tcp(1, 443).build(), XI_R_DROP_BAD_HEADER},
        {"tcp doff 4", base().tcp(1, 443).doff(4).build(), XI_R_DROP_BAD_HEADER},
        {"ipv6 version 4",
         Packet().eth().ipv6("2001:db8::1", "2001:db8:100::10").ip_version(4).tcp(1, 443).build(),
         XI_R_DROP_BAD_HEADER},
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.what);
        expect(c.pkt, c.reason);
    }
}

TEST_P(Steer, TruncatedAtEveryOffset)
{
    // Cut a VIP packet (VLAN, IPv4 options, TCP options) at every byte: never a crash, never a
    // steering decision on bytes that are not there.
    auto full = Packet().eth().vlan(7).ipv4("203.0.113.7", "198.51.100.10");
    full.ip_options({1, 1, 1, 1}).tcp(4000, 443).syn().mss(1460);
    auto layout = full.layout();
    auto bytes = full.build();
    for (size_t len = 14; len < layout.l4_off + 20; len++) {
        SCOPED_TRACE("len " + std::to_string(len));
        expect(Bytes(bytes.begin(), bytes.begin() + len), XI_R_DROP_TRUNCATED);
    }
}

} // namespace
} // namespace xi::test::steering
