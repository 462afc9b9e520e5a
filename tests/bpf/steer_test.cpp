// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The steering decision on the public interface, in every hand-off mode this kernel can run
// (tests/lib/handoff_modes.h), on crafted packets (BPF_PROG_TEST_RUN): every branch and counter.
//
//   tc              XDP must only drop malformed packets; TC ingress decides and, for a flow a
//                   sibling owns, encapsulates it (the output is checked: outer header, inner
//                   packet unchanged)
//   xdp_mark        XDP decides; the decision is read from the metadata it wrote (the TC side of
//                   a mark, which skb test_run cannot feed, runs in encap_chain_test.cpp)
//   xdp_mark_fails  XDP decides, every mark fails; TC decides again, as in tc
//
// Whichever hook decides, the owner is the one `xdp-ingress owner` computes (flow_owner).
//
// The cases, on the Steer fixture (steer_fixture.h):
//   steer_test.cpp            who owns a flow: VIP or not, local or a sibling, across generations
//   steer_headers_test.cpp    finding the flow behind tags, options, extension headers, padding,
//                             inside ICMP errors and fragments
//   steer_malformed_test.cpp  what is dropped or never steered: tiny fragments, tunnels from the
//                             Internet, malformed and truncated headers
//   steer_tc_decides_test.cpp TC deciding alone, without XDP in front
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <string>

#include "steer_fixture.h"

namespace xi::test::steering
{
namespace
{

TEST_P(Steer, NonIpPassesUntouched)
{
    auto arp = Packet().eth().ethertype(0x0806).payload(28).build();
    expect(arp, XI_R_PASS_NOT_IP);
}

TEST_P(Steer, NonVipTrafficPassesUntouched)
{
    expect(tcp4(40000, "203.0.113.99").build(), XI_R_PASS_NOT_VIP);
    expect(tcp4(40000, "198.51.100.10", 8080).build(), XI_R_PASS_NOT_VIP);
    // Right address and port, wrong protocol.
    auto udp = Packet().eth().ipv4("203.0.113.7", "198.51.100.10").udp(4000, 443).build();
    expect(udp, XI_R_PASS_NOT_VIP);
    auto icmp = Packet().eth().ipv4("203.0.113.7", "198.51.100.10").icmp4_echo_request(1, 1);
    expect(icmp.build(), XI_R_PASS_NOT_VIP);
}

TEST_P(Steer, LocallyOwnedFlowStaysHere)
{
    uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 443, IPPROTO_TCP, true);
    expect(tcp4(p).build(), XI_R_LOCAL);
}

TEST_P(Steer, SiblingOwnedFlowGoesToItsOwner)
{
    auto [p, owner] = sibling_flow();
    expect(tcp4(p).build(), XI_R_FORWARD, owner);
}

TEST_P(Steer, OwnershipMatchesTheLoaderOnManyFlows)
{
    // Datapath and C++ agree, flow by flow (the CLI `owner` uses the same C++).
    int local = 0, fwd = 0;
    for (uint16_t p = 20000; p < 20300; p++) {
        auto s = steer(tcp4(p).build());
        uint16_t want = owner_of("203.0.113.7", "198.51.100.10", p, 443, IPPROTO_TCP);
        ASSERT_FALSE(s.dropped) << p;
        EXPECT_EQ(s.owner, want == self_ ? XI_NODE_NONE : want) << p;
        (want == self_ ? local : fwd)++;
    }
    EXPECT_GT(local, 60); // about a third each
    EXPECT_GT(fwd, 150);
}

TEST_P(Steer, Ipv6AndUdpAndPortAnyVips)
{
    uint16_t p = port_owned("2001:db8:ffff::7", "2001:db8:100::10", 443, IPPROTO_TCP, false);
    auto v6 = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10").tcp(p, 443).syn();
    expect(v6.build(), XI_R_FORWARD,
           owner_of("2001:db8:ffff::7", "2001:db8:100::10", p, 443, IPPROTO_TCP));

    p = port_owned("203.0.113.7", "198.51.100.53", 53, IPPROTO_UDP, true);
    auto dns = Packet().eth().ipv4("203.0.113.7", "198.51.100.53").udp(p, 53).payload(30);
    expect(dns.build(), XI_R_LOCAL);

    p = port_owned("203.0.113.7", "198.51.100.20", 31337, IPPROTO_TCP, false);
    expect(tcp4(p, "198.51.100.20", 31337).build(), XI_R_FORWARD,
           owner_of("203.0.113.7", "198.51.100.20", p, 31337, IPPROTO_TCP));
}

TEST_P(Steer, NoGenerationOrNotAnEdgeMeansNoSteering)
{
    // A node that is not an edge in the running generation never steers.
    std::string backend = kSteerConfig;
    auto at = backend.find("  - name: edge-a\n    public_interface: pub0\n");
    backend.erase(at + strlen("  - name: edge-a\n"), strlen("    public_interface: pub0\n"));
    publish(backend);
    expect(tcp4(sibling_flow().first).build(), XI_R_PASS_NOT_STEERED);
}

TEST_P(Steer, NewGenerationTakesEffectAtOnce)
{
    auto [p, owner] = sibling_flow();
    expect(tcp4(p).build(), XI_R_FORWARD, owner);
    // Drain the siblings: every flow is now ours.
    std::string drained = kSteerConfig;
    for (const char *n : {"10.200.0.2\n", "10.200.0.3\n"}) {
        auto at = drained.find(n);
        drained.insert(at + strlen(n), "    weight: 0\n");
    }
    publish(drained);
    expect(tcp4(p).build(), XI_R_LOCAL);
}

INSTANTIATE_TEST_SUITE_P(Handoff, Steer, ::testing::ValuesIn(handoff_modes()), handoff_mode_name);

} // namespace
} // namespace xi::test::steering
