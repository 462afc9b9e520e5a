// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Health-driven failover in the datapath (bpf/lib/failover.h, issue #14) through
// BPF_PROG_TEST_RUN: what serve writes into xi_peer_state changes where a packet goes, never the
// table. edge-a (this node) of edge-a, edge-b, edge-c (steer_config.h).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include <cstring>
#include <ctime>

#include "datapath_fixture.h"
#include "handoff_modes.h"
#include "owner.h"
#include "packet.h"
#include "privileges.h"
#include "prober.h"
#include "scoped_fd.h"
#include "steer_config.h"
#include "xi_hash.h"
#include "xi_names.h"
#include "xi_reasons.h"

namespace xi::test
{
namespace
{

constexpr uint32_t kPubIn = XI_HOOK_TC_PUBLIC_INGRESS;
constexpr uint32_t kMeshIn = XI_HOOK_TC_MESH_INGRESS;
constexpr uint32_t kXdp = XI_HOOK_XDP_PUBLIC;
const char *kClient = "203.0.113.7";
const char *kVip = "198.51.100.10";

class Failover : public ::testing::Test
{
protected:
    // One loaded datapath for the suite (the verifier's time); every test starts with every
    // peer up, as serve leaves them before its first probe.
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
    void SetUp() override
    {
        XI_REQUIRE_PRIVILEGES();
        peers_ = Fd(bpf_obj_get((fx_->pin_dir() + "/" XI_MAP_PEER_STATE).c_str()));
        ASSERT_GE(peers_.get(), 0) << strerror(errno);
        a_ = fx_->node_slot("edge-a");
        b_ = fx_->node_slot("edge-b");
        c_ = fx_->node_slot("edge-c");
        for (uint16_t n : {a_, b_, c_})
            set_peer(n, 0);
    }

    void set_peer(uint16_t node, uint32_t flags, uint32_t recover_until = 0)
    {
        xi_peer_state s{};
        s.flags = flags;
        s.recover_until = recover_until;
        uint32_t key = node;
        ASSERT_EQ(bpf_map_update_elem(peers_.get(), &key, &s, BPF_ANY), 0) << strerror(errno);
    }
    static uint32_t boot_units()
    {
        timespec ts{};
        clock_gettime(CLOCK_BOOTTIME, &ts);
        return static_cast<uint32_t>((uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec) >> 30);
    }

    // The table slot of the client's TCP flow to the VIP.
    uint32_t slot_of(uint16_t sport) const
    {
        const GenContent &g = fx_->gen();
        FlowTuple t{*IpAddr::parse(kClient), *IpAddr::parse(kVip), sport, 443, IPPROTO_TCP};
        return xi_maglev_slot(flow_hash(t, g.cfg.seed), g.cfg.table_size);
    }
    // A client port whose slot edge `owner` owns and edge `fallback` would take.
    uint16_t port_where(uint16_t owner, uint16_t fallback, uint16_t from = 1024) const
    {
        const GenContent &g = fx_->gen();
        for (uint32_t p = from; p < 65000; p++) {
            uint32_t s = slot_of(static_cast<uint16_t>(p));
            if (XI_MAGLEV_OWNER(g.maglev[s]) == owner && g.fallback[s] == fallback)
                return static_cast<uint16_t>(p);
        }
        ADD_FAILURE() << "no port with owner " << owner << " and fallback " << fallback;
        return 0;
    }
    Bytes syn(uint16_t sport) const
    {
        return Packet().eth().ipv4(kClient, kVip).tcp(sport, 443).syn().build();
    }
    Counters pub_in(const Bytes &pkt, RunResult *r)
    {
        auto before = fx_->counters();
        *r = fx_->run_tc(Prog::TcPublicIngress, pkt);
        return fx_->counters() - before;
    }
    // The outer IPv4 header the public ingress wrote: its destination, and the marker bit.
    static std::string outer_dst(const RunResult &r)
    {
        char dst[INET_ADDRSTRLEN] = "";
        if (r.out.size() >= 14 + 20)
            inet_ntop(AF_INET, &r.out[14 + 16], dst, sizeof(dst));
        return dst;
    }
    static bool marked(const RunResult &r)
    {
        return r.out.size() >= 14 + 20 && (r.out[14 + 4] & 0x80);
    }

    static inline DatapathFixture *fx_ = nullptr;
    Fd peers_;
    uint16_t a_ = 0, b_ = 0, c_ = 0;
};

TEST_F(Failover, ADownOwnersSlotsGoToTheirFallbackMarkedOnce)
{
    const uint16_t to_c = port_where(b_, c_), to_a = port_where(b_, a_);
    const uint16_t c_owned = port_where(c_, b_);
    RunResult r;
    // Everyone up: b's flows go to b, unmarked.
    auto d = pub_in(syn(to_c), &r);
    EXPECT_EQ(r.retval, TC_ACT_REDIRECT);
    EXPECT_EQ(outer_dst(r), "10.200.0.2");
    EXPECT_FALSE(marked(r));
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_FORWARD}, 1}, {{kPubIn, XI_R_REDIRECT}, 1}}))
        << describe(d);

    set_peer(b_, XI_PEER_F_DOWN);
    // b down: its slot whose fallback is c goes to c, marked (c delivers it, whatever c thinks
    // of b); the one whose fallback is this edge stays here.
    d = pub_in(syn(to_c), &r);
    EXPECT_EQ(r.retval, TC_ACT_REDIRECT);
    EXPECT_EQ(outer_dst(r), "10.200.0.3");
    EXPECT_TRUE(marked(r)) << "the second-chance marker: delivered there, never sent on";
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_FAILOVER_OUT}, 1}, {{kPubIn, XI_R_REDIRECT}, 1}}))
        << describe(d);
    d = pub_in(syn(to_a), &r);
    EXPECT_EQ(r.retval, TC_ACT_UNSPEC);
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_FAILOVER_LOCAL}, 1}})) << describe(d);
    // c's own slots are untouched, even those whose fallback is the down edge.
    d = pub_in(syn(c_owned), &r);
    EXPECT_EQ(outer_dst(r), "10.200.0.3");
    EXPECT_FALSE(marked(r));
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_FORWARD}, 1}, {{kPubIn, XI_R_REDIRECT}, 1}}))
        << describe(d);

    // b up again: new packets go to b, unmarked.
    set_peer(b_, 0);
    d = pub_in(syn(to_c), &r);
    EXPECT_EQ(outer_dst(r), "10.200.0.2");
    EXPECT_FALSE(marked(r));
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_FORWARD}, 1}, {{kPubIn, XI_R_REDIRECT}, 1}}))
        << describe(d);
}

TEST_F(Failover, ThisEdgeSeenDownIsIgnoredForItsOwnSlots)
{
    const uint16_t own = port_where(a_, b_);
    set_peer(a_, XI_PEER_F_DOWN); // a peer's view of us has no say over our own decisions
    RunResult r;
    auto d = pub_in(syn(own), &r);
    EXPECT_EQ(r.retval, TC_ACT_UNSPEC);
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_LOCAL}, 1}})) << describe(d);
}

TEST_F(Failover, BackFromDownOwnSlotsGiveWhatTheyDoNotHoldToTheFallback)
{
    // test_run looks sockets up in this process's namespace, where nothing listens on the VIP:
    // no flow is held here, so every packet of an own slot goes to the fallback while the
    // window lasts.
    const uint16_t own = port_where(a_, c_);
    set_peer(a_, 0, boot_units() + 600);
    RunResult r;
    auto d = pub_in(Packet().eth().ipv4(kClient, kVip).tcp(own, 443).ack().build(), &r);
    EXPECT_EQ(r.retval, TC_ACT_REDIRECT);
    EXPECT_EQ(outer_dst(r), "10.200.0.3");
    EXPECT_TRUE(marked(r));
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_SECOND_CHANCE_OUT}, 1}, {{kPubIn, XI_R_REDIRECT}, 1}}))
        << describe(d);
    // The window has passed: the owner keeps everything again.
    set_peer(a_, 0, 1);
    d = pub_in(Packet().eth().ipv4(kClient, kVip).tcp(own, 443).ack().build(), &r);
    EXPECT_EQ(r.retval, TC_ACT_UNSPEC);
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_LOCAL}, 1}})) << describe(d);
}

TEST_F(Failover, SteeredToUsForADownOwnerStaysWhenWeAreItsFallback)
{
    // A sibling that still sees b up sends b's flow to b... but here b's slot came to us
    // unmarked because the sender's table said so; we see b down and are its fallback.
    const uint16_t to_a = port_where(b_, a_);
    set_peer(b_, XI_PEER_F_DOWN);
    auto pkt = Packet()
                   .eth()
                   .ipv4("10.200.0.3", "10.200.0.1")
                   .df()
                   .ipv4(kClient, kVip)
                   .tcp(to_a, 443)
                   .syn()
                   .build();
    auto before = fx_->counters();
    auto r = fx_->run_tc(Prog::MeshIngress, pkt);
    auto d = fx_->counters() - before;
    EXPECT_EQ(r.retval, TC_ACT_UNSPEC);
    EXPECT_EQ(d.count({kMeshIn, XI_R_DECAP}), 1u) << describe(d);
    EXPECT_EQ(d.count({kMeshIn, XI_R_SECOND_CHANCE_OUT}), 0u) << describe(d);
}

TEST(FailoverXdp, XdpLeavesADownOwnersSlotsToTc)
{
    XI_REQUIRE_PRIVILEGES();
    bool can = false;
    for (const auto &m : handoff_modes())
        can |= m.xdp_decides();
    if (!can)
        GTEST_SKIP() << "this kernel cannot run the xdp-mark hand-off (no bpf_xdp_adjust_meta)";
    DatapathFixture fx(kSteerConfig, "edge-a",
                       FixtureOptions{.mesh = false, .handoff = XI_HANDOFF_XDP_MARK});
    const GenContent &g = fx.gen();
    const uint16_t b = fx.node_slot("edge-b");
    uint16_t port = 0;
    for (uint32_t p = 1024; p < 65000 && !port; p++) {
        FlowTuple t{*IpAddr::parse(kClient), *IpAddr::parse(kVip), static_cast<uint16_t>(p), 443,
                    IPPROTO_TCP};
        if (XI_MAGLEV_OWNER(g.maglev[xi_maglev_slot(flow_hash(t, g.cfg.seed), g.cfg.table_size)]) ==
            b)
            port = static_cast<uint16_t>(p);
    }
    Fd peers(bpf_obj_get((fx.pin_dir() + "/" XI_MAP_PEER_STATE).c_str()));
    xi_peer_state down{};
    down.flags = XI_PEER_F_DOWN;
    uint32_t key = b;
    ASSERT_EQ(bpf_map_update_elem(peers.get(), &key, &down, BPF_ANY), 0);
    auto before = fx.counters();
    auto r = fx.run_xdp(Packet().eth().ipv4(kClient, kVip).tcp(port, 443).syn().build());
    auto d = fx.counters() - before;
    EXPECT_EQ(r.retval, XDP_PASS);
    EXPECT_EQ(d, (Counters{{{kXdp, XI_R_TC_DECIDES}, 1}})) << describe(d);
}

} // namespace
} // namespace xi::test

namespace xi::test
{
namespace
{

// The sibling probes cross the mesh policy whatever the rules say, and nothing else does:
// a fleet whose default is deny and whose rules allow nothing on UDP.
TEST(FailoverProbe, ProbesBetweenEdgesPassADenyPolicyNothingElseDoes)
{
    XI_REQUIRE_PRIVILEGES();
    std::string cfg = kSteerConfig;
    cfg.replace(cfg.find("  ingress: allow\n  egress: allow\n"),
                strlen("  ingress: allow\n  egress: allow\n"), "  ingress: deny\n  egress: deny\n");
    DatapathFixture fx(cfg, "edge-a");
    auto udp = [](const char *src, const char *dst, uint16_t sport, uint16_t dport) {
        return Packet().eth().ipv4(src, dst).udp(sport, dport).payload(16).build();
    };
    auto verdict = [&](Prog prog, const Bytes &pkt, uint32_t *reason) {
        auto before = fx.counters();
        auto r = fx.run_tc(prog, pkt);
        auto d = fx.counters() - before;
        *reason = d.empty() ? 0 : d.begin()->first.second;
        EXPECT_EQ(d.size(), 1u) << describe(d);
        return r.retval;
    };
    uint32_t why = 0;
    // edge-b probes edge-a; edge-a answers (egress, from the probe port).
    EXPECT_EQ(verdict(Prog::MeshIngress, udp("10.200.0.2", "10.200.0.1", 40000, 9471), &why),
              TC_ACT_UNSPEC);
    EXPECT_EQ(why, XI_R_ALLOW_PROBE);
    EXPECT_EQ(verdict(Prog::MeshEgress, udp("10.200.0.1", "10.200.0.2", 9471, 40000), &why),
              TC_ACT_UNSPEC);
    EXPECT_EQ(why, XI_R_ALLOW_PROBE);
    // Another port, or the probe port from a node that is not an edge: the rules decide (deny).
    EXPECT_EQ(verdict(Prog::MeshIngress, udp("10.200.0.2", "10.200.0.1", 40000, 9472), &why),
              TC_ACT_SHOT);
    EXPECT_EQ(why, XI_R_DROP_DEFAULT);
    EXPECT_EQ(verdict(Prog::MeshIngress, udp("10.201.0.1", "10.200.0.1", 40000, 9471), &why),
              TC_ACT_SHOT);
    EXPECT_EQ(why, XI_R_DROP_DEFAULT);
    // Failover off: no exception.
    cfg.replace(cfg.find("  hash_seed:"), 0, "  failover:\n    enabled: false\n");
    fx.publish(cfg, "edge-a");
    EXPECT_EQ(verdict(Prog::MeshIngress, udp("10.200.0.2", "10.200.0.1", 40000, 9471), &why),
              TC_ACT_SHOT);
    EXPECT_EQ(why, XI_R_DROP_DEFAULT);
}

} // namespace
} // namespace xi::test

namespace xi::test
{
namespace
{

// serve taking over an instance whose file no longer parses probes the fleet the running
// generation has (issue #14): the same siblings, slots and addresses as the file gave.
TEST(FailoverPins, TheFleetInThePinsProbesWhatTheFileWould)
{
    XI_REQUIRE_PRIVILEGES();
    DatapathFixture fx(kSteerConfig, "edge-a");
    auto pinned = fleet_from_pins(fx.pin_dir());
    ASSERT_TRUE(pinned);
    auto parsed = parse_config(kSteerConfig, "steer.yaml");
    ASSERT_TRUE(parsed.config);
    std::vector<std::string> slots = fx.gen().node_names;
    auto from_pins = probe_setup(*pinned, "edge-a", slots);
    auto from_file = probe_setup(fleet_view(*parsed.config), "edge-a", slots);
    ASSERT_TRUE(from_pins.enabled);
    EXPECT_EQ(from_pins.self, from_file.self);
    EXPECT_EQ(from_pins.port, from_file.port);
    ASSERT_EQ(from_pins.siblings.size(), 2u) << "edge-b and edge-c; the backend is not probed";
    EXPECT_EQ(from_pins.siblings, from_file.siblings);
    bool has_mesh_if = false;
    for (const auto &n : pinned->nodes)
        has_mesh_if |= n.name == "edge-a" && !n.mesh_if.empty();
    EXPECT_TRUE(has_mesh_if) << "the probe sockets bind to this edge's mesh interface";
}

} // namespace
} // namespace xi::test
