// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The encapsulation chain's edge cases (EncapChain fixture, encap_chain_fixture.h): flows this
// edge owns and tunnelled packets from the Internet never reach the mesh; ICMP errors go to the
// owner of the flow they quote; Ethernet padding is not carried; a datagram shorter than its
// header says is dropped at the encapsulation.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "encap_chain_fixture.h"

namespace xi::test::chain
{
namespace
{

TEST_P(EncapChain, LocallyOwnedFlowNeverReachesTheMesh)
{
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, true);
    auto pkt = Packet().eth(kClientMac, kPubMac).ipv4(kClient4, kVip4).tcp(sport, 443).syn();
    expect_not_forwarded(env_->inject(pkt.build()), decided(XI_R_LOCAL, false));

    uint16_t sport6 = port_owned(kClient6, kVip6, 443, IPPROTO_TCP, true);
    auto pkt6 = Packet().eth(kClientMac, kPubMac).ipv6(kClient6, kVip6).tcp(sport6, 443).syn();
    expect_not_forwarded(env_->inject(pkt6.build()), decided(XI_R_LOCAL, false));
}

TEST_P(EncapChain, TunnelledPacketsFromTheInternetNeverReachTheMesh)
{
    // What an attacker would send to get into the mesh: IPIP / IP6IP6 addressed to a sibling's
    // mesh address, carrying a VIP flow that sibling owns.
    uint16_t b = slot_of("edge-b");
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    auto ipip = Packet().eth(kClientMac, kPubMac).ipv4(kClient4, mesh4(b)).ipv4(kClient4, kVip4);
    expect_not_forwarded(env_->inject(ipip.tcp(sport, 443).syn().build()),
                         decided(XI_R_PUBLIC_ENCAP, false));

    auto ip6ip6 = Packet().eth(kClientMac, kPubMac).ipv6(kClient6, mesh6(b)).ipv6(kClient6, kVip6);
    expect_not_forwarded(env_->inject(ip6ip6.tcp(1234, 443).syn().build()),
                         decided(XI_R_PUBLIC_ENCAP, false));
}

TEST_P(EncapChain, IcmpErrorsGoToTheOwnerOfTheirFlow)
{
    // A router on the client's path says our SYN-ACK (VIP -> client) was too big: the error
    // belongs to the owner of client -> VIP, which holds the socket.
    uint16_t cport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient4, kVip4, cport, 443, IPPROTO_TCP);
    auto quoted = Packet().ipv4(kVip4, kClient4).df().tcp(443, cport).syn().ack(1).mss(1360);
    auto err = [&](Packet p) {
        return p.ipv4("192.0.2.1", kVip4).ttl(250).tos(0xc0).icmp4_frag_needed(1280).inner(quoted);
    };
    expect_forwarded(env_->inject(err(Packet().eth(kClientMac, kPubMac)).build()),
                     err(outer4(owner, 250, 0xc0)).build(), owner, XI_R_ICMP_STEERED);

    uint16_t cport6 = port_owned(kClient6, kVip6, 443, IPPROTO_TCP, false);
    uint16_t owner6 = owner_of(kClient6, kVip6, cport6, 443, IPPROTO_TCP);
    auto quoted6 = Packet().ipv6(kVip6, kClient6).tcp(443, cport6).ack(1).payload(1200);
    auto ptb = [&](Packet p) {
        return p.ipv6("2001:db8:1::1", kVip6)
            .hop_limit(255)
            .icmp6_packet_too_big(1280)
            .inner(quoted6, 1280 - 48);
    };
    expect_forwarded(env_->inject(ptb(Packet().eth(kClientMac, kPubMac)).build()),
                     ptb(outer6(owner6, 255, 0)).build(), owner6, XI_R_ICMP_STEERED);
}

TEST_P(EncapChain, EthernetPaddingStaysOffTheMesh)
{
    // A bare ACK is 54 bytes: on the wire it is padded to 60. The padding is not part of the
    // datagram and must not travel through the mesh (nor be counted as forwarded bytes).
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient4, kVip4, sport, 443, IPPROTO_TCP);
    auto flow = [&](Packet p) { return p.ipv4(kClient4, kVip4).tcp(sport, 443).ack(77); };
    auto sent = flow(Packet().eth(kClientMac, kPubMac)).pad_to_min(0xee).build();
    ASSERT_EQ(sent.size(), kEthMinFrame);
    expect_forwarded(env_->inject(sent), flow(outer4(owner, 64, 0)).build(), owner);
}

TEST_P(EncapChain, DatagramShorterThanItsHeaderSaysIsNotForwarded)
{
    // tot_len claims 20 bytes more than the frame holds: the stack would drop it, and the outer
    // header would carry the wrong length. Dropped at the encapsulation, counted.
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    auto pkt = Packet().eth(kClientMac, kPubMac).ipv4(kClient4, kVip4).tcp(sport, 443).ack(1);
    auto bytes = pkt.payload(100).build();
    bytes.resize(bytes.size() - 20);
    expect_not_forwarded(env_->inject(bytes),
                         decided(XI_R_FORWARD, true, {{{kPubIn, XI_R_DROP_BAD_HEADER}, 1}}));
}

} // namespace
} // namespace xi::test::chain
