// TC side of steering, on crafted packets: MSS clamp of VIP SYN-ACKs (public egress),
// decapsulation on the mesh (L2 entry: skb test_run always builds an Ethernet frame; the L3
// entry runs end to end on a real wg0). The public ingress decision: steer_test.cpp.
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include "datapath_fixture.h"
#include "owner.h"
#include "packet.h"
#include "packet_check.h"
#include "privileges.h"
#include "steer_config.h"
#include "xi_reasons.h"

namespace xi::test
{
namespace
{

class TcSteer : public ::testing::Test
{
protected:
    // One loaded datapath for the suite: loading runs the verifier over every object, most of
    // a case's time (~10x more under TCG, make vmtest's batch); every check reads deltas.
    static void SetUpTestSuite()
    {
        if (have_bpf_privileges())
            fx_ = new DatapathFixture(kSteerConfig, "edge-a");
    }
    static void TearDownTestSuite()
    {
        delete fx_;
        fx_ = nullptr;
    }
    void SetUp() override { XI_REQUIRE_PRIVILEGES(); }

    RunResult run(Prog p, const Bytes &pkt, int verdict, Counters want)
    {
        auto before = fx_->counters();
        auto r = fx_->run_tc(p, pkt);
        EXPECT_EQ(r.retval, verdict);
        auto d = fx_->counters() - before;
        EXPECT_EQ(d, want) << describe(d);
        return r;
    }

    // A client port whose flow to vip:dport edge-a owns (owned) or another edge owns.
    uint16_t port_owned(const char *client, const char *vip, uint16_t dport, bool owned)
    {
        const uint16_t self = fx_->node_slot("edge-a");
        for (uint32_t sport = 40000; sport < 60000; sport++) {
            FlowTuple t{*IpAddr::parse(client), *IpAddr::parse(vip), static_cast<uint16_t>(sport),
                        dport, IPPROTO_TCP};
            if ((flow_owner(fx_->gen(), t) == self) == owned)
                return static_cast<uint16_t>(sport);
        }
        ADD_FAILURE() << "no such port";
        return 0;
    }
    static inline DatapathFixture *fx_ = nullptr;
};

constexpr uint32_t kPubOut = XI_HOOK_TC_PUBLIC_EGRESS;
constexpr uint32_t kMeshIn = XI_HOOK_TC_MESH_INGRESS;
constexpr uint32_t kMeshOut = XI_HOOK_TC_MESH_EGRESS;

Packet synack4(uint16_t mss)
{
    auto p = Packet().eth().ipv4("198.51.100.10", "203.0.113.7").df().tcp(443, 40000).syn().ack(1);
    if (mss)
        p.mss(mss);
    return p.sack_perm().ts(1, 2).nop().wscale(7);
}

TEST_F(TcSteer, VipSynAckMssIsClampedToFitTheMesh)
{
    // mesh MTU 1420: 1420 - 20 (outer) - 20 (IP) - 20 (TCP) = 1360; IPv6: 1420 - 100 = 1320.
    auto r = run(Prog::TcPublicEgress, synack4(1460).build(), TC_ACT_UNSPEC,
                 {{{kPubOut, XI_R_MSS_CLAMPED}, 1}});
    auto p = parse(r.out);
    EXPECT_TRUE(p.ok()) << p.problems[0]; // checksum verified independently
    ASSERT_TRUE(p.tcp && p.tcp->mss);
    EXPECT_EQ(*p.tcp->mss, 1360);

    auto v6 =
        Packet().eth().ipv6("2001:db8:100::10", "2001:db8:ffff::7").tcp(443, 40000).syn().ack(1);
    r = run(Prog::TcPublicEgress, v6.mss(1440).wscale(7).build(), TC_ACT_UNSPEC,
            {{{kPubOut, XI_R_MSS_CLAMPED}, 1}});
    p = parse(r.out);
    EXPECT_TRUE(p.ok()) << p.problems[0];
    EXPECT_EQ(*p.tcp->mss, 1320);
}

TEST_F(TcSteer, MssAtAnOddOffsetKeepsTheChecksumRight)
{
    // NOP first: the MSS value straddles two 16-bit checksum words.
    auto pkt = Packet().eth().ipv4("198.51.100.10", "203.0.113.7").tcp(80, 40000).syn().ack(1);
    auto r = run(Prog::TcPublicEgress, pkt.nop().mss(9000).nop().nop().nop().build(), TC_ACT_UNSPEC,
                 {{{kPubOut, XI_R_MSS_CLAMPED}, 1}});
    auto p = parse(r.out);
    EXPECT_TRUE(p.ok()) << p.problems[0];
    EXPECT_EQ(*p.tcp->mss, 1360);
}

TEST_F(TcSteer, MssIsNeverRaisedNorInvented)
{
    for (auto pkt : {synack4(1200).build(), synack4(1360).build(), synack4(0).build()}) {
        auto r = run(Prog::TcPublicEgress, pkt, TC_ACT_UNSPEC, {});
        EXPECT_EQ(r.out, pkt) << hexdiff(pkt, r.out);
    }
}

TEST_F(TcSteer, OnlyVipSynAcksAreClamped)
{
    std::vector<Bytes> untouched = {
        // a SYN-ACK from a non-VIP address, and from the VIP on a port it does not serve
        Packet()
            .eth()
            .ipv4("198.51.100.99", "203.0.113.7")
            .tcp(443, 4000)
            .syn()
            .ack(1)
            .mss(1460)
            .build(),
        Packet()
            .eth()
            .ipv4("198.51.100.10", "203.0.113.7")
            .tcp(22, 4000)
            .syn()
            .ack(1)
            .mss(1460)
            .build(),
        // a SYN (outgoing connection), data segments
        Packet().eth().ipv4("198.51.100.10", "203.0.113.7").tcp(443, 4000).syn().mss(1460).build(),
        Packet()
            .eth()
            .ipv4("198.51.100.10", "203.0.113.7")
            .tcp(443, 4000)
            .ack(1)
            .payload(100)
            .build(),
        // malformed option lists are left alone
        Packet()
            .eth()
            .ipv4("198.51.100.10", "203.0.113.7")
            .tcp(443, 4000)
            .syn()
            .ack(1)
            .tcp_options_raw({2, 1, 5, 0xb4})
            .build(),
    };
    for (const auto &pkt : untouched) {
        auto r = run(Prog::TcPublicEgress, pkt, TC_ACT_UNSPEC, {});
        EXPECT_EQ(r.out, pkt) << hexdiff(pkt, r.out);
    }
}

// ---- decapsulation on the mesh (L2 entry) --------------------------------------------------

Packet steered4(const std::string &from_mesh, const std::string &vip, uint16_t dport,
                uint16_t sport = 40000)
{
    return Packet()
        .eth()
        .ipv4(from_mesh, "10.200.0.1")
        .ttl(63)
        .ipv4("203.0.113.7", vip)
        .tcp(sport, dport)
        .syn();
}

TEST_F(TcSteer, SiblingSteeringTrafficIsDecapsulated)
{
    const uint16_t sp = port_owned("203.0.113.7", "198.51.100.10", 443, true);
    auto in = steered4("10.200.0.2", "198.51.100.10", 443, sp);
    auto r = run(Prog::MeshIngress, in.build(), TC_ACT_UNSPEC, {{{kMeshIn, XI_R_DECAP}, 1}});
    auto want = Packet().eth().ipv4("203.0.113.7", "198.51.100.10").tcp(sp, 443).syn().build();
    EXPECT_EQ(r.out, want) << hexdiff(want, r.out);

    // A flow our own table gives to another edge (the sender reloaded a fleet change before
    // we did, or the fleet files differ), not held here: it goes to that owner, marked, once.
    const uint16_t theirs = port_owned("203.0.113.7", "198.51.100.10", 443, false);
    run(Prog::MeshIngress, steered4("10.200.0.2", "198.51.100.10", 443, theirs).build(),
        TC_ACT_REDIRECT, {{{kMeshIn, XI_R_SECOND_CHANCE_OUT}, 1}});

    auto in6 = Packet()
                   .eth()
                   .ipv6("fd00:200::3", "fd00:200::1")
                   .ipv6("2001:db8:ffff::7", "2001:db8:100::10");
    const uint16_t sp6 = port_owned("2001:db8:ffff::7", "2001:db8:100::10", 443, true);
    r = run(Prog::MeshIngress, in6.tcp(sp6, 443).ack().payload(10).build(), TC_ACT_UNSPEC,
            {{{kMeshIn, XI_R_DECAP}, 1}});
    auto want6 = Packet()
                     .eth()
                     .ipv6("2001:db8:ffff::7", "2001:db8:100::10")
                     .tcp(sp6, 443)
                     .ack()
                     .payload(10)
                     .build();
    EXPECT_EQ(r.out, want6) << hexdiff(want6, r.out);
}

TEST_F(TcSteer, DecapRefusesWhatIsNotSteeringFromASibling)
{
    struct Case {
        const char *what;
        Bytes pkt;
        uint32_t reason;
    };
    std::vector<Case> cases = {
        {"outer source is a backend, not an edge",
         steered4("10.201.0.1", "198.51.100.10", 443).build(), XI_R_DROP_DECAP_UNKNOWN},
        {"outer source outside the fleet", steered4("192.0.2.66", "198.51.100.10", 443).build(),
         XI_R_DROP_DECAP_UNKNOWN},
        {"outer source is this node", steered4("10.200.0.1", "198.51.100.10", 443).build(),
         XI_R_DROP_DECAP_UNKNOWN},
        {"inner packet not to a VIP", steered4("10.200.0.2", "10.201.0.1", 5432).build(),
         XI_R_DROP_STEERED_NOT_VIP},
        {"inner VIP port not served", steered4("10.200.0.2", "198.51.100.10", 22).build(),
         XI_R_DROP_STEERED_NOT_VIP},
        {"inner packet to a metadata service",
         steered4("10.200.0.2", "169.254.169.254", 80).build(), XI_R_DROP_METADATA},
        {"fragmented outer packet",
         Packet()
             .eth()
             .ipv4("10.200.0.2", "10.200.0.1")
             .mf()
             .ipv4("203.0.113.7", "198.51.100.10")
             .tcp(1, 443)
             .build(),
         XI_R_DROP_DECAP_FAILED},
        {"IPv6 inside IPv4 (mixed families are refused)",
         Packet()
             .eth()
             .ipv4("10.200.0.2", "10.200.0.1")
             .ipv6("2001:db8:ffff::7", "2001:db8:100::10")
             .tcp(1, 443)
             .build(),
         XI_R_DROP_DECAP_FAILED},
        {"truncated inner header",
         steered4("10.200.0.2", "198.51.100.10", 443).truncate(14 + 20 + 12).build(),
         XI_R_DROP_TRUNCATED},
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.what);
        run(Prog::MeshIngress, c.pkt, TC_ACT_SHOT, {{{kMeshIn, c.reason}, 1}});
    }
}

TEST_F(TcSteer, OwnSteeringTrafficLeavesThroughTheMesh)
{
    auto out = Packet().eth().ipv4("10.200.0.1", "10.200.0.3").ipv4("203.0.113.7", "198.51.100.10");
    run(Prog::MeshEgress, out.tcp(1, 443).build(), TC_ACT_UNSPEC,
        {{{kMeshOut, XI_R_STEER_OUT}, 1}});
}

} // namespace
} // namespace xi::test
