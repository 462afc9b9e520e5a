// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The encapsulation path end to end, through the attached datapath on real devices, in every
// hand-off mode this kernel can run (tests/lib/handoff_modes.h):
//
//   crafted frame -> xi_xdp_public (xdp_mark: decides and marks the packet in the XDP metadata;
//     tc: early drops only; xdp_mark_fails: decides, the mark fails)
//     -> pub0's stack -> xi_tc_pub_in on pub0 (acts on the mark or decides itself; strip tags,
//        encapsulate, bpf_redirect)
//     -> mesh0 (a veth standing in for wg0: it has an Ethernet header, so the L2 mesh entries
//        are attached) -> mesh0p, where an AF_PACKET socket captures what the mesh carries.
//
// Plain skb BPF_PROG_TEST_RUN cannot hand XDP metadata to a TC program. XDP test_run in
// live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES) can: frames the program passes become skbs with
// the metadata and go to netif_receive_skb on the device named by ingress_ifindex, i.e. through
// pub0's real TC ingress. XDP, TC ingress and mesh0's TC egress all run inside the test_run
// call, so the counters are final when it returns; only mesh0p's receive goes through a backlog.
// The GRO cases send from the veth peer pub0p instead, so the frames cross pub0's NAPI (native
// XDP, then GRO) like frames from a NIC.
//
// Everything lives in a throwaway network namespace that the test thread joins (setns applies to
// the calling thread only) and leaves again; the thread is pinned to one CPU meanwhile, so every
// frame and the end-of-capture sentinel share one backlog queue and arrive in order.
//
// The pieces: encap_chain_netns.h (the scratch namespace), encap_chain_env.h (devices, instance,
// capture: ChainEnv), encap_chain_fixture.h (the EncapChain fixture). The cases:
//   encap_chain_test.cpp             the setup, IPIP and IP6IP6 to the owner, VLAN tags, MTU
//   encap_chain_edge_cases_test.cpp  what never reaches the mesh, ICMP errors, padding, lengths
//   encap_chain_gro_test.cpp         GRO-merged segments from the veth peer
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <string>
#include <vector>

#include "encap_chain_fixture.h"

namespace xi::test::chain
{
namespace
{

TEST_P(EncapChain, AttachedLikeAnEdgeWithAnL2Mesh)
{
    // The setup itself: the generation this test computes owners from is the one attach
    // published, native XDP on the veth, the L2 mesh entries on mesh0.
    EXPECT_EQ(env_->gen().table_sha256, env_->report().state.table_sha256);
    EXPECT_TRUE(env_->xdp_native());
    for (const auto &a : env_->report().state.attachments) {
        if (a.ifname == "mesh0") {
            EXPECT_NE(a.prog_name.find("_l2"), std::string::npos) << a.prog_name;
        }
        bool handoff_hook = a.hook == XI_HOOK_XDP_PUBLIC || a.hook == XI_HOOK_TC_PUBLIC_INGRESS;
        EXPECT_EQ(a.handoff, handoff_hook ? mode_.handoff : XI_HANDOFF_NONE) << a.prog_name;
    }
}

TEST_P(EncapChain, Ipv4FlowOfASiblingLeavesAsIpipToItsOwner)
{
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient4, kVip4, sport, 443, IPPROTO_TCP);
    // Non-default TTL, DSCP (AF41 = 34) and ECN (ECT(1)) prove they are copied, not defaulted;
    // the inner packet has no DF, so the outer DF is the encapsulation's own.
    const uint8_t ttl = 37, tos = 34 << 2 | 1;
    auto flow = [&](Packet p) {
        return p.ipv4(kClient4, kVip4)
            .ttl(ttl)
            .tos(tos)
            .ip_id(0x4242)
            .tcp(sport, 443)
            .seq(1000)
            .ack(2000)
            .psh()
            .payload(100);
    };
    Forwarded f;
    ASSERT_NO_FATAL_FAILURE(forward_flow(flow, outer4(owner, ttl, tos), owner, &f));

    // The outer header, field by field, read by the independent parser.
    const IpInfo &out = f.mesh.ips[0];
    EXPECT_NE(owner, self_);
    EXPECT_EQ(out.proto, IPPROTO_IPIP);
    EXPECT_EQ(out.tot_len, f.sent.size() - ETH_HLEN + 20);
    EXPECT_TRUE(out.df);
    EXPECT_FALSE(out.mf);
    EXPECT_EQ(out.frag_offset, 0);
    EXPECT_EQ(out.ttl, ttl);
    EXPECT_EQ(out.tos, tos);
    EXPECT_EQ(out.ihl, 5);
}

TEST_P(EncapChain, Ipv6FlowOfASiblingLeavesAsIp6ip6ToItsOwner)
{
    uint16_t sport = port_owned(kClient6, kVip6, 443, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient6, kVip6, sport, 443, IPPROTO_TCP);
    const uint8_t hops = 9, tclass = 46 << 2 | 2; // EF, ECT(0)
    auto flow = [&](Packet p) {
        return p.ipv6(kClient6, kVip6)
            .hop_limit(hops)
            .traffic_class(tclass)
            .flow_label(0xbeef5)
            .tcp(sport, 443)
            .ack(1)
            .payload(200);
    };
    // The outer flow label is 0: ours to choose (RFC 2473), the inner one travels inside.
    Forwarded f;
    ASSERT_NO_FATAL_FAILURE(forward_flow(flow, outer6(owner, hops, tclass), owner, &f));

    const IpInfo &out = f.mesh.ips[0];
    EXPECT_EQ(out.proto, IPPROTO_IPV6);
    EXPECT_EQ(out.payload_len, f.sent.size() - ETH_HLEN);
    EXPECT_EQ(out.ttl, hops);
    EXPECT_EQ(out.tos, tclass);
    EXPECT_EQ(out.flow_label, 0u);
}

TEST_P(EncapChain, VlanAndQinqTagsStayOffTheMesh)
{
    // The stack moves the outer tag out of the frame before TC (skb vlan_present); a QinQ
    // frame keeps its inner tag in the data. Both must be gone: the mesh is L3.
    uint16_t sport = port_owned(kClient4, kVip4, 80, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient4, kVip4, sport, 80, IPPROTO_TCP);
    auto flow4 = [&](Packet p) {
        return p.ipv4(kClient4, kVip4).ttl(60).tos(8).tcp(sport, 80).syn().mss(1460);
    };
    auto want4 = flow4(outer4(owner, 60, 8)).build();
    struct Case {
        const char *what;
        Packet l2;
    };
    std::vector<Case> cases = {
        {"802.1Q", Packet().eth(kClientMac, kPubMac).vlan(100, 5)},
        {"QinQ 802.1ad + 802.1Q", Packet().eth(kClientMac, kPubMac).svlan(10).vlan(20)},
        {"QinQ 802.1Q + 802.1Q", Packet().eth(kClientMac, kPubMac).vlan(30).vlan(40)},
    };
    for (auto &c : cases) {
        SCOPED_TRACE(c.what);
        expect_forwarded(env_->inject(flow4(c.l2).build()), want4, owner);
    }

    uint16_t sport6 = port_owned(kClient6, kVip6, 443, IPPROTO_TCP, false);
    uint16_t owner6 = owner_of(kClient6, kVip6, sport6, 443, IPPROTO_TCP);
    auto flow6 = [&](Packet p) {
        return p.ipv6(kClient6, kVip6).hop_limit(50).tcp(sport6, 443).ack(9).payload(33);
    };
    SCOPED_TRACE("IPv6 in QinQ");
    expect_forwarded(
        env_->inject(flow6(Packet().eth(kClientMac, kPubMac).svlan(7).vlan(8)).build()),
        flow6(outer6(owner6, 50, 0)).build(), owner6);
}

TEST_P(EncapChain, MeshMtuIsTheLimitAfterEncapsulation)
{
    // Decided: a packet that would exceed the mesh MTU once encapsulated is dropped and counted
    // (mesh_mtu), never fragmented (outer DF) and not answered with ICMP: the owner clamps the
    // MSS of every VIP flow so that TCP never gets there.
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient4, kVip4, sport, 443, IPPROTO_TCP);
    auto flow4 = [&](Packet p, size_t ip_len) {
        return p.ipv4(kClient4, kVip4).df().tcp(sport, 443).ack(1).payload(ip_len - 40);
    };
    {
        SCOPED_TRACE("IPv4 1400 + 20 = 1420: fits");
        auto o = env_->inject(flow4(Packet().eth(kClientMac, kPubMac), 1400).build());
        expect_forwarded(o, flow4(outer4(owner, 64, 0), 1400).build(), owner);
        ASSERT_EQ(o.mesh.size(), 1u);
        EXPECT_EQ(o.mesh[0].size(), ETH_HLEN + kMeshMtu);
    }
    {
        SCOPED_TRACE("IPv4 1401 + 20: dropped");
        auto o = env_->inject(flow4(Packet().eth(kClientMac, kPubMac), 1401).build());
        expect_not_forwarded(o, decided(XI_R_FORWARD, true, {{{kPubIn, XI_R_DROP_MESH_MTU}, 1}}));
    }

    uint16_t sport6 = port_owned(kClient6, kVip6, 443, IPPROTO_TCP, false);
    uint16_t owner6 = owner_of(kClient6, kVip6, sport6, 443, IPPROTO_TCP);
    auto flow6 = [&](Packet p, size_t ip_len) {
        return p.ipv6(kClient6, kVip6).tcp(sport6, 443).ack(1).payload(ip_len - 60);
    };
    {
        SCOPED_TRACE("IPv6 1380 + 40 = 1420: fits");
        auto o = env_->inject(flow6(Packet().eth(kClientMac, kPubMac), 1380).build());
        expect_forwarded(o, flow6(outer6(owner6, 64, 0), 1380).build(), owner6);
        ASSERT_EQ(o.mesh.size(), 1u);
        EXPECT_EQ(o.mesh[0].size(), ETH_HLEN + kMeshMtu);
    }
    {
        SCOPED_TRACE("IPv6 1381 + 40: dropped");
        auto o = env_->inject(flow6(Packet().eth(kClientMac, kPubMac), 1381).build());
        expect_not_forwarded(o, decided(XI_R_FORWARD, true, {{{kPubIn, XI_R_DROP_MESH_MTU}, 1}}));
    }
}

INSTANTIATE_TEST_SUITE_P(Handoff, EncapChain, ::testing::ValuesIn(handoff_modes()),
                         handoff_mode_name);

} // namespace
} // namespace xi::test::chain
