// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// GRO and GSO in the encapsulation chain (EncapChain fixture, encap_chain_fixture.h): a TCP
// super-frame sent from the veth peer pub0p arrives on pub0 as segments, which GRO merges after
// XDP; TC encapsulates the merged skb once, checked per segment against the mesh MTU, and mesh0
// segments it again into packets that fit the mesh.
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <string>

#include "encap_chain_fixture.h"

namespace xi::test::chain
{
namespace
{

// A TCP super-frame for pub0p to segment (virtio_net_hdr GSO, checksum offload as virtio hands
// it over: the TCP checksum field holds the pseudo-header sum).
struct GsoFrame {
    VnetHdr vh{};
    Bytes frame;
};

GsoFrame tcp4_gso(uint16_t sport, uint16_t mss, unsigned segs, uint32_t seq, uint16_t ip_id,
                  uint8_t ttl, uint8_t tos)
{
    GsoFrame g;
    g.frame = Packet()
                  .eth(kClientMac, kPubMac)
                  .ipv4(kClient4, kVip4)
                  .df()
                  .ip_id(ip_id)
                  .ttl(ttl)
                  .tos(tos)
                  .tcp(sport, 443)
                  .seq(seq)
                  .ack(1)
                  .psh()
                  .payload(static_cast<size_t>(mss) * segs)
                  .build();
    const size_t l3 = ETH_HLEN, l4 = l3 + 20;
    const size_t tcp_len = g.frame.size() - l4;
    Bytes pseudo(g.frame.begin() + l3 + 12, g.frame.begin() + l3 + 20); // saddr, daddr
    pseudo.insert(pseudo.end(), {0, IPPROTO_TCP, static_cast<uint8_t>(tcp_len >> 8),
                                 static_cast<uint8_t>(tcp_len)});
    uint16_t partial = static_cast<uint16_t>(~inet_checksum(pseudo));
    g.frame[l4 + 16] = static_cast<uint8_t>(partial >> 8);
    g.frame[l4 + 17] = static_cast<uint8_t>(partial);
    g.vh.flags = kVnetNeedsCsum;
    g.vh.gso_type = kVnetGsoTcp4;
    g.vh.hdr_len = static_cast<uint16_t>(l4 + 20);
    g.vh.gso_size = mss;
    g.vh.csum_start = static_cast<uint16_t>(l4);
    g.vh.csum_offset = 16;
    return g;
}

TEST_P(EncapChain, GroMergedSegmentsLeaveAsSegmentsThatFitTheMesh)
{
    // pub0p segments one GSO frame into three MSS-1360 segments and hands them to pub0 in one
    // go; pub0's NAPI runs XDP on each (three marks), GRO merges them back into one skb
    // (gso_size 1360), TC encapsulates that skb once (the MTU check is per segment:
    // 20 + 20 + 20 + 1360 = 1420), and mesh0 segments the IPIP GSO packet: three packets of
    // exactly the mesh MTU, each a correct IPIP packet around the original segment.
    constexpr uint16_t mss = 1360;
    constexpr unsigned segs = 3;
    constexpr uint32_t seq = 7000;
    constexpr uint16_t id = 0x1000;
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient4, kVip4, sport, 443, IPPROTO_TCP);
    auto g = tcp4_gso(sport, mss, segs, seq, id, 50, 0x28);
    auto o = env_->send_from_peer(g.vh, g.frame, [](const Counters &d) {
        return xdp_seen(d) >= segs && d.count({kPubIn, XI_R_REDIRECT});
    });
    // One skb through TC: GRO merged the three segments (else redirect would be 3), and in the
    // modes where TC decides, it decided once for all three.
    EXPECT_EQ(o.delta,
              decided(XI_R_FORWARD, true,
                      {{{kPubIn, XI_R_REDIRECT}, 1}, {{kMeshOut, XI_R_STEER_OUT}, 1}}, segs))
        << xi::describe(o.delta);
    // Per-node counters count that skb: its encapsulated length (one set of headers).
    EXPECT_EQ(o.fwd, (NodeFwdMap{{owner, {1, 20 + 40 + segs * mss}}}));
    ASSERT_EQ(o.mesh.size(), segs) << describe(o.mesh);

    Bytes pattern(segs * mss); // Packet::payload(n): bytes 0x00, 0x01, ...
    for (size_t k = 0; k < pattern.size(); k++)
        pattern[k] = static_cast<uint8_t>(k);
    for (unsigned i = 0; i < segs; i++) {
        SCOPED_TRACE("segment " + std::to_string(i));
        const Bytes &out = o.mesh[i];
        auto p = parse(out);
        EXPECT_TRUE(p.ok()) << problems(p); // outer IP and inner IP + TCP checksums included
        ASSERT_EQ(out.size(), ETH_HLEN + kMeshMtu);
        ASSERT_EQ(p.ips.size(), 2u);
        // The outer IP ID of each segment is the kernel's GSO choice: take it from the packet.
        uint16_t outer_id = p.ips[0].id;
        Bytes chunk(pattern.begin() + i * mss, pattern.begin() + (i + 1) * mss);
        auto seg = outer4(owner, 50, 0x28)
                       .ip_id(outer_id)
                       .ipv4(kClient4, kVip4)
                       .df()
                       .ip_id(static_cast<uint16_t>(id + i))
                       .ttl(50)
                       .tos(0x28)
                       .tcp(sport, 443)
                       .seq(seq + i * mss)
                       .ack(1);
        if (i == segs - 1)
            seg.psh(); // GSO keeps PSH on the last segment only
        auto want = seg.payload(chunk).build();
        EXPECT_EQ(out, want) << hexdiff(want, out);
    }
}

TEST_P(EncapChain, GroMergedSegmentsTooBigForTheMeshAreDropped)
{
    // Same, with MSS 1361: the merged skb's segments would be 1421 bytes on the mesh.
    constexpr uint16_t mss = 1361;
    constexpr unsigned segs = 3;
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    auto g = tcp4_gso(sport, mss, segs, 1, 1, 64, 0);
    auto o = env_->send_from_peer(g.vh, g.frame, [](const Counters &d) {
        return xdp_seen(d) >= segs && d.count({kPubIn, XI_R_DROP_MESH_MTU});
    });
    expect_not_forwarded(o, decided(XI_R_FORWARD, true, {{{kPubIn, XI_R_DROP_MESH_MTU}, 1}}, segs));
}

} // namespace
} // namespace xi::test::chain
