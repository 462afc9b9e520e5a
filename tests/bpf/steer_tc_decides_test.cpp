// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// TC deciding alone, without XDP in front (detached, or never attached on a device): its own
// parse drops what XDP would have, and a GRO-merged skb is checked per segment against the mesh
// MTU. One mode is enough: no hand-off happens here.
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <memory>
#include <netinet/in.h>

#include "datapath_fixture.h"
#include "owner.h"
#include "packet.h"
#include "privileges.h"
#include "steer_config.h"
#include "xi_reasons.h"

namespace xi::test
{
namespace
{

constexpr uint32_t kPubIn = XI_HOOK_TC_PUBLIC_INGRESS;

class TcDecides : public ::testing::Test
{
protected:
    void SetUp() override
    {
        XI_REQUIRE_PRIVILEGES();
        fx_ = std::make_unique<DatapathFixture>(kSteerConfig, "edge-a",
                                                FixtureOptions{.mesh = false});
    }
    std::unique_ptr<DatapathFixture> fx_;
};

TEST_F(TcDecides, MalformedPacketsXdpDidNotSeeAreDroppedByTc)
{
    // Without XDP in front (detached, or never attached on a device), TC's own parse drops
    // what XDP would have: the same reason, counted at TC.
    auto base = [] { return Packet().eth().ipv4("203.0.113.7", "198.51.100.10"); };
    struct Case {
        const char *what;
        Bytes pkt;
        uint32_t reason;
    } cases[] = {
        {"ihl 4", base().ihl(4).tcp(1, 443).build(), XI_R_DROP_BAD_HEADER},
        {"truncated TCP", base().tcp(1, 443).truncate(14 + 20 + 10).build(), XI_R_DROP_TRUNCATED},
        {"tiny fragment", base().frag_offset(1).ip_proto(IPPROTO_TCP).payload(40).build(),
         XI_R_DROP_FRAG_TINY},
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.what);
        auto before = fx_->counters();
        auto r = fx_->run_tc(Prog::TcPublicIngress, c.pkt);
        EXPECT_EQ(r.retval, TC_ACT_SHOT);
        EXPECT_EQ(fx_->counters() - before, (Counters{{{kPubIn, c.reason}, 1}}));
    }
}

TEST_F(TcDecides, GsoPacketsAreCheckedPerSegmentAgainstTheMeshMtu)
{
    // A GRO-merged skb (gso_size set) is decided once and checked per segment: 1361 bytes of
    // TCP payload + 20 TCP + 20 IP + 20 outer = 1421 > 1420. (That 1360 fits, and what the mesh
    // then carries, needs a real GSO skb: EncapChain.GroMergedSegments* in every mode.)
    uint16_t self = fx_->node_slot("edge-a");
    uint16_t p = 1024;
    while (flow_owner(fx_->gen(), {*IpAddr::parse("203.0.113.7"), *IpAddr::parse("198.51.100.10"),
                                   p, 443, IPPROTO_TCP}) == self)
        p++;
    auto pkt = Packet().eth().ipv4("203.0.113.7", "198.51.100.10").df().tcp(p, 443).ack(1);
    auto before = fx_->counters();
    auto r = fx_->run_tc(Prog::TcPublicIngress, pkt.payload(2 * 1361).build(), 1361);
    EXPECT_EQ(r.retval, TC_ACT_SHOT);
    EXPECT_EQ(fx_->counters() - before,
              (Counters{{{kPubIn, XI_R_FORWARD}, 1}, {{kPubIn, XI_R_DROP_MESH_MTU}, 1}}));
}

} // namespace
} // namespace xi::test
