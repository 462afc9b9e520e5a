// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Steering finds the flow behind the headers (Steer fixture, steer_fixture.h): VLAN tags, IPv4
// options, IPv6 extension headers (also beyond TC's first pull), Ethernet padding, the quoted
// datagram of an ICMP error, and fragments, which share their datagram's owner.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <string>
#include <vector>

#include "steer_fixture.h"

namespace xi::test::steering
{
namespace
{

TEST_P(Steer, VlanTagsAreWalked)
{
    uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 80, IPPROTO_TCP, false);
    uint16_t owner = owner_of("203.0.113.7", "198.51.100.10", p, 80, IPPROTO_TCP);
    auto one = Packet().eth().vlan(100).ipv4("203.0.113.7", "198.51.100.10").tcp(p, 80).syn();
    expect(one.build(), XI_R_FORWARD, owner);
    auto qinq = Packet().eth().svlan(10).vlan(20).ipv4("203.0.113.7", "198.51.100.10").tcp(p, 80);
    expect(qinq.build(), XI_R_FORWARD, owner);
    // A third tag is more than we parse: not IP as far as we can tell.
    auto three = Packet().eth().svlan(1).vlan(2).vlan(3).ipv4("203.0.113.7", "198.51.100.10");
    expect(three.tcp(p, 80).build(), XI_R_PASS_NOT_IP);
}

TEST_P(Steer, Ipv4OptionsAreSkipped)
{
    auto [p, owner] = sibling_flow();
    // Record-route style option, 12 bytes: the TCP ports start at 34 + 12.
    auto pkt = Packet().eth().ipv4("203.0.113.7", "198.51.100.10");
    pkt.ip_options({7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0}).tcp(p, 443).syn();
    expect(pkt.build(), XI_R_FORWARD, owner);
}

TEST_P(Steer, Ipv6ExtensionHeadersAreWalked)
{
    uint16_t p = port_owned("2001:db8:ffff::7", "2001:db8:100::10", 443, IPPROTO_TCP, false);
    auto pkt = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10");
    pkt.hop_by_hop().dest_opts().routing(4, 0, {"2001:db8:100::10"}).tcp(p, 443).syn();
    expect(pkt.build(), XI_R_FORWARD,
           owner_of("2001:db8:ffff::7", "2001:db8:100::10", p, 443, IPPROTO_TCP));
    // Longer than the bounded walk: handed to the stack unsteered, never dropped.
    auto deep = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10");
    for (int i = 0; i < 7; i++)
        deep.dest_opts();
    expect(deep.tcp(p, 443).build(), XI_R_PASS_EXTHDR);
}

TEST_P(Steer, HeadersBeyondTheFirstPullAreFound)
{
    // Six 40-byte destination-options headers: TCP starts at 14 + 40 + 240 = 294, beyond the
    // 128 bytes TC makes linear first. TC must look further, as XDP (whole frame) does.
    uint16_t p = port_owned("2001:db8:ffff::7", "2001:db8:100::10", 443, IPPROTO_TCP, false);
    auto pkt = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10");
    std::vector<uint8_t> padn(38, 0); // one PadN option: a 40-byte header
    padn[0] = 1;
    padn[1] = 36;
    for (int i = 0; i < 6; i++)
        pkt.dest_opts(padn);
    expect(pkt.tcp(p, 443).syn().build(), XI_R_FORWARD,
           owner_of("2001:db8:ffff::7", "2001:db8:100::10", p, 443, IPPROTO_TCP));
}

TEST_P(Steer, IcmpErrorsFollowTheFlowTheyAreAbout)
{
    // The client's router says our SYN-ACK was too big: the error carries our packet
    // (VIP -> client), and must reach the owner of client -> VIP.
    for (bool by_self : {true, false}) {
        uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 443, IPPROTO_TCP, by_self);
        auto quoted = Packet().ipv4("198.51.100.10", "203.0.113.7").tcp(443, p).syn().ack();
        auto err = Packet().eth().ipv4("192.0.2.1", "198.51.100.10").icmp4_frag_needed(1400);
        uint16_t owner = owner_of("203.0.113.7", "198.51.100.10", p, 443, IPPROTO_TCP);
        expect(err.inner(quoted, 28).build(), XI_R_ICMP_STEERED, by_self ? XI_NODE_NONE : owner);
    }
    uint16_t p = port_owned("2001:db8:ffff::7", "2001:db8:100::10", 443, IPPROTO_TCP, false);
    auto q6 = Packet().ipv6("2001:db8:100::10", "2001:db8:ffff::7").tcp(443, p).ack();
    auto ptb = Packet().eth().ipv6("2001:db8:1::1", "2001:db8:100::10").icmp6_packet_too_big(1280);
    expect(ptb.inner(q6, 48).build(), XI_R_ICMP_STEERED,
           owner_of("2001:db8:ffff::7", "2001:db8:100::10", p, 443, IPPROTO_TCP));
}

TEST_P(Steer, IcmpErrorsWithShortOrForeignInnerHeaders)
{
    auto quoted = Packet().ipv4("198.51.100.10", "203.0.113.7").tcp(443, 5555).ack();
    auto err = Packet().eth().ipv4("192.0.2.1", "198.51.100.10").icmp4_frag_needed(1400);
    // 20 bytes of IP and 2 of TCP: no room for both ports. The stack would discard it too.
    expect(err.inner(quoted, 22).build(), XI_R_DROP_TRUNCATED);
    // An error about a packet that did not come from a VIP is not ours.
    auto other = Packet().ipv4("198.51.100.99", "203.0.113.7").tcp(443, 5555).ack();
    auto foreign = Packet().eth().ipv4("192.0.2.1", "198.51.100.10").icmp4_frag_needed(1400);
    expect(foreign.inner(other, 28).build(), XI_R_PASS_NOT_VIP);
}

TEST_P(Steer, FragmentsOfOneDatagramShareAnOwner)
{
    // First and later fragments hash on (src, dst, proto): same owner, whatever the ports.
    uint16_t o4 = owner_of("203.0.113.7", "198.51.100.53", 0, 0, IPPROTO_UDP);
    uint16_t want4 = o4 == self_ ? XI_NODE_NONE : o4;
    auto first = Packet().eth().ipv4("203.0.113.7", "198.51.100.53").ip_id(77).mf();
    first.udp(5000, 53).payload(100);
    auto later = Packet().eth().ipv4("203.0.113.7", "198.51.100.53").ip_id(77).frag_offset(14);
    later.ip_proto(IPPROTO_UDP).payload(50);
    expect(first.build(), XI_R_FRAGMENT, want4);
    expect(later.build(), XI_R_FRAGMENT, want4);
    // IPv6 fragment header, first and later.
    uint16_t o6 = owner_of("2001:db8:ffff::7", "2001:db8:100::10", 0, 0, IPPROTO_TCP);
    uint16_t want6 = o6 == self_ ? XI_NODE_NONE : o6;
    auto f6 = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10").frag6(0, true, 9);
    auto l6 = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10").frag6(100, false, 9);
    expect(f6.tcp(1234, 443).payload(40).build(), XI_R_FRAGMENT, want6);
    expect(l6.ip_proto(IPPROTO_TCP).payload(40).build(), XI_R_FRAGMENT, want6);
    // Fragments to a VIP address on a protocol it does not serve are not VIP traffic.
    auto tcp53 = Packet().eth().ipv4("203.0.113.7", "198.51.100.53").mf().tcp(1, 53).payload(8);
    expect(tcp53.build(), XI_R_PASS_NOT_VIP);
}

TEST_P(Steer, EthernetPaddingIsNotPayload)
{
    auto [p, owner] = sibling_flow();
    auto pkt =
        Packet().eth().ipv4("203.0.113.7", "198.51.100.10").tcp(p, 443).ack().pad_to_min(0xee);
    expect(pkt.build(), XI_R_FORWARD, owner);
}

} // namespace
} // namespace xi::test::steering
