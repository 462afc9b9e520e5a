// Deny events: what the ring buffer carries, and the per-CPU budget that limits it (spent by the
// datapath, refilled by the reader: loader/kernel/event_budget.h).
#include <chrono>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <sched.h>

#include "agent_event.h"
#include "datapath_fixture.h"
#include "event_budget.h"
#include "events.h"
#include <unistd.h>
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
    EventBudget(fx.pin_dir()).refill();
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

TEST_F(Events, NoReaderNoEventsButEveryPacketCounted)
{
    // Nobody refills the budget: the datapath makes no event, and reads no clock to decide so.
    DatapathFixture fx(with_events(1000, 1000), "app-1");
    auto before = fx.counters();
    auto pkt = Packet().eth().ipv4("198.51.100.7", "10.201.0.1").tcp(40003, 22).syn().build();
    for (int i = 0; i < 50; i++)
        fx.run_tc(Prog::MeshIngress, pkt);
    auto d = fx.counters() - before;
    EXPECT_EQ((d[{XI_HOOK_TC_MESH_INGRESS, XI_R_DROP_DEFAULT}]), 50u);
    EXPECT_TRUE(drain(fx).empty());
}

TEST_F(Events, TheBudgetLimitsTheEventRateInTheKernel)
{
    DatapathFixture fx(with_events(10, 5), "app-1");
    EventBudget budget(fx.pin_dir());
    budget.refill(); // the first refill grants the burst
    drain(fx);
    auto before = fx.counters();
    auto pkt = Packet().eth().ipv4("198.51.100.7", "10.201.0.1").tcp(40003, 22).syn().build();
    for (int i = 0; i < 200; i++)
        fx.run_tc(Prog::MeshIngress, pkt);
    // Every packet is counted; only the burst is reported.
    auto d = fx.counters() - before;
    EXPECT_EQ((d[{XI_HOOK_TC_MESH_INGRESS, XI_R_DROP_DEFAULT}]), 200u);
    EXPECT_EQ(drain(fx).size(), 5u);
    // 10 per second: after 0.35 s, three more (refills are time-based, fractions carried).
    usleep(350 * 1000);
    budget.refill();
    for (int i = 0; i < 20; i++)
        fx.run_tc(Prog::MeshIngress, pkt);
    auto more = drain(fx).size();
    EXPECT_GE(more, 3u);
    EXPECT_LE(more, 5u); // a loaded machine sleeps longer; never more than the burst
    // Rate 0 turns events off, and takes back what was left.
    fx.publish(with_events(0, 5), "app-1");
    usleep(100 * 1000);
    budget.refill();
    for (int i = 0; i < 20; i++)
        fx.run_tc(Prog::MeshIngress, pkt);
    EXPECT_TRUE(drain(fx).empty());
}

TEST_F(Events, ClearingTheBudgetStopsEventsUntilTheNextRefill)
{
    // What attach --replace does: a budget an older release left (nanoseconds of credit in the
    // same map) must not read as millions of events.
    DatapathFixture fx(with_events(1000, 1000), "app-1");
    EventBudget budget(fx.pin_dir());
    budget.refill();
    EventBudget::clear(fx.pin_dir());
    auto pkt = Packet().eth().ipv4("198.51.100.7", "10.201.0.1").tcp(40004, 22).syn().build();
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

namespace xi::test
{
namespace
{

// serve's own events (issue #14): the syscall program it runs puts them into the datapath's
// ring buffer, where `monitor` reads them beside the packet events, whatever the budget says.
TEST_F(Events, AgentEventsReachTheRingBufferWithoutBudget)
{
    DatapathFixture fx(with_events(1000, 1000), "app-1");
    drain(fx);
    AgentEventSink sink(fx.pin_dir());
    ASSERT_TRUE(sink.available()) << sink.why();
    xi_event e{};
    e.reason = XI_AGENT_PEER_DOWN;
    e.node = 1;
    e.proto = 17;
    e.sport = e.dport = htons(9471);
    e.src = IpAddr::parse("10.200.0.1")->to_xi();
    e.dst = IpAddr::parse("10.200.0.2")->to_xi();
    ASSERT_TRUE(sink.emit(e));
    e.reason = XI_AGENT_SEEN_DOWN;
    ASSERT_TRUE(sink.emit(e));
    auto evs = drain(fx);
    ASSERT_EQ(evs.size(), 2u) << "no refill happened: agent events take no budget";
    Catalogs names{fx.gen().node_names, {}, {}};
    auto j = event_json(evs[0], names);
    EXPECT_EQ(j["source"], "agent");
    EXPECT_EQ(j["event"], "peer_down");
    EXPECT_EQ(j["node"], fx.gen().node_names.at(1));
    EXPECT_EQ(j["src"], "10.200.0.1");
    EXPECT_EQ(j["dst"], "10.200.0.2");
    EXPECT_EQ(j["port"], 9471);
    EXPECT_GT(evs[0].ts_ns, 0u);
    EXPECT_EQ(evs[0].hook, XI_EV_HOOK_AGENT);
    EXPECT_EQ(event_json(evs[1], names)["event"], "seen_down");
    EXPECT_NE(event_line(j).find("agent peer_down edge " + fx.gen().node_names.at(1)),
              std::string::npos)
        << event_line(j);
}

TEST_F(Events, AnAgentEventSinkWithoutTheRingBufferSaysWhy)
{
    AgentEventSink sink("/nonexistent/xi");
    EXPECT_FALSE(sink.available());
    EXPECT_NE(sink.why().find("does not exist"), std::string::npos) << sink.why();
    EXPECT_FALSE(sink.emit(xi_event{}));
}

} // namespace
} // namespace xi::test
