// Deny events: what the ring buffer carries, and the per-CPU token bucket that limits it.
#include <chrono>
#include <gtest/gtest.h>
#include <sched.h>

#include "datapath_fixture.h"
#include "events.h"
#include "packet.h"
#include "policy_config.h"
#include "privileges.h"
#include "xi_reasons.h"

namespace xi::test
{
namespace
{

std::string with_events(int rate, int burst)
{
    std::string c = kPolicyConfig;
    auto at = c.find("events:");
    return c.substr(0, at) + "events:\n  rate: " + std::to_string(rate) +
           "\n  burst: " + std::to_string(burst) + "\n";
}

std::vector<xi_event> drain(DatapathFixture &fx)
{
    std::vector<xi_event> out;
    poll_events(
        fx.map_fd("xi_events"),
        [&](const xi_event &e) {
            out.push_back(e);
            return true;
        },
        0, 50);
    return out;
}

class Events : public ::testing::Test
{
protected:
    void SetUp() override
    {
        XI_REQUIRE_PRIVILEGES();
        // One CPU: the bucket is per CPU, so the limit is exact only when every run lands on
        // the same one.
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        sched_getaffinity(0, sizeof(saved_), &saved_);
        sched_setaffinity(0, sizeof(set), &set);
    }
    void TearDown() override { sched_setaffinity(0, sizeof(saved_), &saved_); }
    cpu_set_t saved_;
};

TEST_F(Events, DenyEventCarriesTupleRolesAndRule)
{
    DatapathFixture fx(with_events(1000, 1000), "app-1");
    drain(fx);
    auto pkt = Packet().eth().ipv4("10.200.0.1", "10.201.0.1").tcp(40001, 9050).syn().build();
    ASSERT_EQ(fx.run_tc(Prog::MeshIngress, pkt).retval, 2 /* TC_ACT_SHOT */);
    auto evs = drain(fx);
    ASSERT_EQ(evs.size(), 1u);
    Catalogs names{fx.gen().node_names, fx.gen().rule_names, {"world", "edges", "apps"}};
    auto j = event_json(evs[0], names);
    EXPECT_EQ(j["verdict"], "deny");
    EXPECT_EQ(j["hook"], "mesh/tc/ingress");
    EXPECT_EQ(j["reason"], "deny_rule");
    EXPECT_EQ(j["rule"], "edge-apps-no-9050");
    EXPECT_EQ(j["src"], "10.200.0.1");
    EXPECT_EQ(j["dst"], "10.201.0.1");
    EXPECT_EQ(j["sport"], 40001);
    EXPECT_EQ(j["dport"], 9050);
    EXPECT_EQ(j["proto"], "tcp");
    EXPECT_EQ(j["src_role"], "edges");
    EXPECT_EQ(j["dst_role"], "apps");
    EXPECT_EQ(event_line(j),
              "deny mesh/tc/ingress tcp 10.200.0.1:40001 -> 10.201.0.1:9050 (edges -> apps) "
              "deny_rule rule edge-apps-no-9050");
    // Allowed packets make no event.
    auto ok = Packet().eth().ipv4("10.200.0.1", "10.201.0.1").tcp(40002, 8080).syn().build();
    fx.run_tc(Prog::MeshIngress, ok);
    EXPECT_TRUE(drain(fx).empty());
}

TEST_F(Events, TokenBucketLimitsTheEventRateInTheKernel)
{
    DatapathFixture fx(with_events(10, 5), "app-1");
    drain(fx);
    auto before = fx.counters();
    auto pkt = Packet().eth().ipv4("198.51.100.7", "10.201.0.1").tcp(40003, 22).syn().build();
    for (int i = 0; i < 200; i++)
        fx.run_tc(Prog::MeshIngress, pkt);
    // Every packet is counted; only the burst (plus what refilled meanwhile: 10/s) is reported.
    auto d = fx.counters() - before;
    EXPECT_EQ((d[{XI_HOOK_TC_MESH_INGRESS, XI_R_DROP_DEFAULT}]), 200u);
    auto evs = drain(fx);
    EXPECT_GE(evs.size(), 5u);
    EXPECT_LE(evs.size(), 7u);
    // Rate 0 turns events off.
    fx.publish(with_events(0, 5), "app-1");
    for (int i = 0; i < 20; i++)
        fx.run_tc(Prog::MeshIngress, pkt);
    EXPECT_TRUE(drain(fx).empty());
}

TEST_F(Events, PollingEndsWhenAskedToStopWithoutAnyEvent)
{
    // `monitor` on a quiet instance must still end on SIGINT/SIGTERM: the stop predicate is
    // asked while no event arrives, not only when one does.
    DatapathFixture fx(kPolicyConfig, "app-1");
    drain(fx);
    int asked = 0;
    auto t0 = std::chrono::steady_clock::now();
    auto seen = poll_events(
        fx.map_fd("xi_events"), [](const xi_event &) { return true; }, 0, 10000,
        [&] { return ++asked > 2; });
    EXPECT_EQ(seen, 0u);
    EXPECT_EQ(asked, 3);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

} // namespace
} // namespace xi::test
