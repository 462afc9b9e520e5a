// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// serve's sibling prober without sockets (loader/agent/probe_engine.h, issue #14): several
// engines probe each other over a simulated mesh with a fake clock. What the datapath would see
// (the xi_peer_state entries each engine writes), the events, and the probe wire format.
#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "probe_engine.h"
#include "probe_wire.h"
#include "prober.h"

namespace
{

using namespace std::chrono_literals;
using xi::PeerState;
using xi::ProbeClock;
using xi::ProbeEngine;
using xi::ProbeMessage;

xi::IpAddr mesh(int n)
{
    return *xi::IpAddr::parse("10.200.0." + std::to_string(n));
}

// A fleet of edges 0..n-1 (node slot = index), each with its own engine, and a mesh whose links
// can be cut one by one. Datagrams take 1 ms.
class Fleet
{
public:
    struct Edge {
        std::unique_ptr<ProbeEngine> engine;
        std::map<uint16_t, xi_peer_state> map; // what the datapath would read
        std::vector<std::pair<uint8_t, uint16_t>> events;
        bool alive = true;
    };

    explicit Fleet(int n, uint32_t recover_s = 600) : n_(n), recover_s_(recover_s)
    {
        edges_.resize(n);
        for (int i = 0; i < n; i++)
            start(i);
    }

    // (Re)start edge i's agent; `initial` is what a previous agent left in its map.
    void start(int i, std::vector<xi_peer_state> initial = {})
    {
        Edge &e = edges_[i];
        e.alive = true;
        e.events.clear();
        xi::ProbeIo io;
        io.send = [this, i](const xi::IpAddr &to, const ProbeMessage &m) {
            for (int j = 0; j < n_; j++)
                if (mesh(j + 1) == to)
                    wire_.push_back({now_ + 1ms, i, j, m});
        };
        io.write = [this, i](uint16_t node, const xi_peer_state &s) { edges_[i].map[node] = s; };
        io.event = [this, i](uint8_t kind, const xi::ProbeSibling &sib, const std::string &) {
            edges_[i].events.push_back({kind, sib.slot});
        };
        io.boot_after = [this](uint32_t s) { return boot_units() + s; };
        io.wall_now = [] { return uint64_t(1700000000); };
        e.engine = std::make_unique<ProbeEngine>(io);
        e.engine->configure(setup(i), initial, now_);
    }

    xi::ProbeSetup setup(int i) const
    {
        xi::ProbeSetup s;
        s.enabled = true;
        s.self = uint16_t(i);
        s.self_name = "edge" + std::to_string(i);
        s.port = 9471;
        s.policy.interval = 100ms;
        s.policy.down_after = 3;
        s.policy.up_after = 2;
        s.policy.jitter_percent = 20;
        s.timeout = 50ms;
        s.recover_s = recover_s_;
        for (int j = 0; j < n_; j++)
            if (j != i)
                s.siblings.push_back({uint16_t(j), "edge" + std::to_string(j), mesh(j + 1)});
        return s;
    }

    void cut(int a, int b, bool down = true) { cut_[{std::min(a, b), std::max(a, b)}] = down; }
    void isolate(int a, bool down = true)
    {
        for (int j = 0; j < n_; j++)
            if (j != a)
                cut(a, j, down);
    }
    // Answers from `from` to `to` are lost with this pattern (true = lost), cycling.
    void lossy(int from, int to, std::vector<bool> pattern)
    {
        loss_[{from, to}] = std::move(pattern);
    }

    // Run for `d` in 1 ms steps; stop early when done() says so. Returns the time it took.
    std::chrono::milliseconds run(std::chrono::milliseconds d,
                                  const std::function<bool()> &done = nullptr)
    {
        auto start = now_;
        while (now_ - start < d) {
            now_ += 1ms;
            deliver();
            for (auto &e : edges_)
                if (e.alive)
                    e.engine->tick(now_);
            if (done && done())
                break;
        }
        return std::chrono::duration_cast<std::chrono::milliseconds>(now_ - start);
    }

    // Everyone up for a second, then `node` dies and the others have a second to notice.
    void kill_and_settle(int node)
    {
        run(std::chrono::seconds(1));
        edges_[node].alive = false;
        run(std::chrono::seconds(1));
    }

    bool down_flag(int observer, int node)
    {
        return edges_[observer].map[uint16_t(node)].flags & XI_PEER_F_DOWN;
    }
    Edge &edge(int i) { return edges_[i]; }
    ProbeClock::time_point now() const { return now_; }
    uint32_t boot_units() const
    {
        return uint32_t(
            std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count());
    }
    uint64_t delivered = 0, dropped = 0;

private:
    struct Datagram {
        ProbeClock::time_point at;
        int from, to;
        ProbeMessage m;
    };
    void deliver()
    {
        while (!wire_.empty() && wire_.front().at <= now_) {
            Datagram d = wire_.front();
            wire_.pop_front();
            bool lost = cut_[{std::min(d.from, d.to), std::max(d.from, d.to)}] ||
                        !edges_[d.to].alive || !edges_[d.from].alive;
            // Answers only: a probe lost or its answer lost count the same.
            if (auto it = loss_.find({d.from, d.to});
                it != loss_.end() && d.m.type == ProbeMessage::Type::Answer)
                lost |= it->second[sent_by_[{d.from, d.to}]++ % it->second.size()];
            if (lost) {
                dropped++;
                continue;
            }
            // Through the encoder and decoder, as on the wire.
            auto bytes = xi::encode_probe(d.m);
            auto m = xi::decode_probe(bytes.data(), bytes.size());
            ASSERT_TRUE(m);
            delivered++;
            edges_[d.to].engine->receive(*m, mesh(d.from + 1), now_);
        }
    }

    int n_;
    uint32_t recover_s_;
    std::vector<Edge> edges_;
    std::deque<Datagram> wire_;
    std::map<std::pair<int, int>, bool> cut_;
    std::map<std::pair<int, int>, std::vector<bool>> loss_;
    std::map<std::pair<int, int>, uint64_t> sent_by_;
    ProbeClock::time_point now_{std::chrono::hours(1)};
};

size_t count_events(const Fleet::Edge &e, uint8_t kind, int node = -1)
{
    size_t n = 0;
    for (auto [k, s] : e.events)
        n += k == kind && (node < 0 || s == node);
    return n;
}

TEST(ProbeWire, RoundTripsAndRefusesWhatIsNotAProbe)
{
    ProbeMessage m;
    m.type = ProbeMessage::Type::Answer;
    m.from = 7;
    m.to = 255;
    m.seq = 0xdeadbeef;
    m.down.set(0).set(9).set(255);
    auto b = xi::encode_probe(m);
    ASSERT_EQ(b.size(), xi::kProbeWireSize);
    EXPECT_EQ(std::string(b.begin(), b.begin() + 4), "XIPR");
    EXPECT_EQ(b[12], 0xde) << "seq in network order";
    EXPECT_EQ(b[16 + 1], 0x02) << "node 9: byte 1, bit 1";
    auto d = xi::decode_probe(b.data(), b.size());
    ASSERT_TRUE(d);
    EXPECT_EQ(d->type, m.type);
    EXPECT_EQ(d->from, 7);
    EXPECT_EQ(d->to, 255);
    EXPECT_EQ(d->seq, 0xdeadbeefu);
    EXPECT_EQ(d->down, m.down);

    EXPECT_FALSE(xi::decode_probe(b.data(), b.size() - 1)) << "short";
    auto bad = b;
    bad[0] = 'Y';
    EXPECT_FALSE(xi::decode_probe(bad.data(), bad.size())) << "magic";
    bad = b;
    bad[5] = 3;
    EXPECT_FALSE(xi::decode_probe(bad.data(), bad.size())) << "type";
    bad = b;
    bad[4] = 0;
    EXPECT_FALSE(xi::decode_probe(bad.data(), bad.size())) << "version 0";
    bad = b;
    bad[8] = 1; // from = 256 + 7
    EXPECT_FALSE(xi::decode_probe(bad.data(), bad.size())) << "slot out of range";
    auto longer = b;
    longer.resize(64, 0xaa);
    longer[4] = 2;
    EXPECT_TRUE(xi::decode_probe(longer.data(), longer.size())) << "a later version's tail";
}

TEST(ProbeEngine, SiblingsComeUpThenADeadEdgeIsFlaggedWithinItsProbeWindow)
{
    Fleet f(4);
    f.run(1s);
    for (int o = 0; o < 4; o++)
        for (int s = 0; s < 4; s++) {
            if (o == s)
                continue;
            {
                EXPECT_EQ(f.edge(o).engine->state_of(uint16_t(s)), PeerState::Up) << o << "->" << s;
                EXPECT_FALSE(f.down_flag(o, s));
                EXPECT_EQ(f.edge(o).map[uint16_t(s)].state, uint32_t(XI_PEER_UP));
                EXPECT_GT(f.edge(o).map[uint16_t(s)].probes_answered, 5u);
            }
        }
    EXPECT_EQ(f.dropped, 0u);

    f.edge(3).alive = false; // the edge dies: no answers, no probes
    auto took =
        f.run(2s, [&] { return f.down_flag(0, 3) && f.down_flag(1, 3) && f.down_flag(2, 3); });
    // Worst case: just answered, then down_after lost probes, each up to interval+jitter apart,
    // the last one's timeout.
    EXPECT_LE(took, 3 * 120ms + 50ms + 10ms);
    EXPECT_GE(took, 2 * 80ms + 50ms) << "not before down_after probes went unanswered";
    for (int o = 0; o < 3; o++) {
        EXPECT_EQ(count_events(f.edge(o), XI_AGENT_PEER_DOWN, 3), 1u);
        EXPECT_EQ(f.edge(o).map[3].state, uint32_t(XI_PEER_DOWN));
        EXPECT_EQ(f.edge(o).map[3].transitions, 2u) << "unknown -> up -> down";
        EXPECT_EQ(f.edge(o).map[3].changed_at, 1700000000u);
        // Seeing a sibling down opens this edge's own window (the tunnel is likely broken both
        // ways, the sibling may send this edge's flows to their fallback).
        EXPECT_GE(f.edge(o).map[uint16_t(o)].recover_until, f.boot_units() + 599);
        for (int s = 0; s < 3; s++) {
            if (s != o) {
                EXPECT_FALSE(f.down_flag(o, s)) << "the survivors are untouched";
            }
        }
    }
}

TEST(ProbeEngine, AnEdgeThatReturnsLearnsItWasSeenDownAndIsTakenBackAfterUpAfterAnswers)
{
    Fleet f(4, 300);
    f.run(1s);
    f.edge(3).alive = false;
    f.run(1s);
    ASSERT_TRUE(f.down_flag(0, 3));
    // Its agent starts again with an empty map (the namespace was recreated).
    f.start(3);
    EXPECT_EQ(f.edge(3).map[3].recover_until, 0u);
    auto took =
        f.run(2s, [&] { return !f.down_flag(0, 3) && !f.down_flag(1, 3) && !f.down_flag(2, 3); });
    EXPECT_LE(took, 2 * 120ms + 120ms) << "up after up_after answered probes";
    // The probes of the siblings that still saw it down told it so: its window is open for
    // recover_s, and it raised one event per sibling.
    EXPECT_GE(f.edge(3).map[3].recover_until, f.boot_units() + 299);
    EXPECT_EQ(count_events(f.edge(3), XI_AGENT_SEEN_DOWN), 3u);
    for (int o = 0; o < 3; o++) {
        EXPECT_EQ(count_events(f.edge(o), XI_AGENT_PEER_UP, 3), 1u)
            << "down->up only: a first verdict is no event";
    }
    f.run(500ms);
    EXPECT_EQ(f.edge(3).map[3].reported_down, 0u) << "nobody sees it down any more";
    EXPECT_FALSE(f.edge(3).events.empty());
}

TEST(ProbeEngine, APartitionBetweenTwoEdgesIsSeenOnlyByThoseTwo)
{
    Fleet f(4);
    f.run(1s);
    f.cut(0, 2);
    f.run(2s);
    EXPECT_TRUE(f.down_flag(0, 2));
    EXPECT_TRUE(f.down_flag(2, 0));
    for (int o : {1, 3}) {
        for (int s = 0; s < 4; s++) {
            EXPECT_FALSE(f.down_flag(o, s)) << o << " sees " << s << " up: its links work";
        }
    }
    EXPECT_FALSE(f.down_flag(0, 1));
    EXPECT_FALSE(f.down_flag(0, 3));
    EXPECT_EQ(f.edge(0).map[2].transitions, 2u) << "no flapping while the cut lasts";
    // Each learns nothing from the other (cut), so the window comes from its own view.
    EXPECT_GT(f.edge(0).map[0].recover_until, 0u);
    EXPECT_EQ(f.edge(1).map[1].recover_until, 0u);
    f.cut(0, 2, false);
    f.run(1s);
    EXPECT_FALSE(f.down_flag(0, 2));
    EXPECT_FALSE(f.down_flag(2, 0));
}

TEST(ProbeEngine, ALossyLinkThatLosesEveryOtherProbeNeverFlips)
{
    Fleet f(3);
    f.run(1s);
    // Every other answer edge1 gives edge0 is lost, and every third it gives edge2.
    f.lossy(1, 0, {true, false});
    f.lossy(1, 2, {false, false, true});
    f.run(10s);
    for (int o : {0, 2}) {
        EXPECT_EQ(f.edge(o).map[1].transitions, 1u) << "up once, never down";
        EXPECT_FALSE(f.down_flag(o, 1));
    }
    EXPECT_GT(f.edge(0).map[1].probes_sent - f.edge(0).map[1].probes_answered, 40u);
    EXPECT_GT(f.dropped, 70u);
}

TEST(ProbeEngine, OnlyASiblingFromItsOwnMeshAddressIsAnsweredOrBelieved)
{
    Fleet f(3);
    auto &e = *f.edge(0).engine;
    ProbeMessage m;
    m.type = ProbeMessage::Type::Probe;
    m.from = 1;
    m.to = 0;
    m.seq = 5;
    m.down.set(0);
    auto now = ProbeClock::now();
    EXPECT_FALSE(e.receive(m, mesh(9), now)) << "not edge1's address";
    m.to = 2;
    EXPECT_FALSE(e.receive(m, mesh(2), now)) << "meant for another edge";
    m.to = 0;
    m.from = 7;
    EXPECT_FALSE(e.receive(m, mesh(8), now)) << "not a sibling";
    EXPECT_EQ(f.edge(0).map[0].recover_until, 0u) << "nothing believed";
    m.from = 1;
    EXPECT_TRUE(e.receive(m, mesh(2), now));
    EXPECT_GT(f.edge(0).map[0].recover_until, 0u) << "edge1 says it sees us down";
    EXPECT_EQ(f.edge(0).map[0].reported_down, 1u);
}

TEST(ProbeEngine, APreviousAgentsDownFlagStaysUntilTheProbesDecide)
{
    Fleet f(3);
    f.run(1s);
    std::vector<xi_peer_state> left(XI_MAX_NODES);
    left[2].flags = XI_PEER_F_DOWN; // the last agent saw edge2 down; edge2 is up now
    left[0].recover_until = 12345;
    f.start(0, left);
    EXPECT_TRUE(f.down_flag(0, 2)) << "kept until evidence";
    EXPECT_EQ(f.edge(0).map[0].recover_until, 0u) << "the map is only written when it changes";
    f.run(500ms, [&] { return !f.down_flag(0, 2); });
    EXPECT_FALSE(f.down_flag(0, 2)) << "two answered probes clear it";
}

TEST(ProbeEngine, ReconfigureClearsRemovedSiblingsAndDisablingClearsEverything)
{
    Fleet f(3);
    f.kill_and_settle(2);
    ASSERT_TRUE(f.down_flag(0, 2));
    auto &e = *f.edge(0).engine;
    auto s = f.setup(0);
    s.siblings.pop_back(); // edge2 left the fleet (or is inactive)
    e.configure(s, {}, ProbeClock::now());
    EXPECT_FALSE(f.down_flag(0, 2));
    EXPECT_EQ(f.edge(0).map[2].probes_sent, 0u);
    EXPECT_FALSE(e.state_of(2));
    EXPECT_EQ(e.state_of(1), PeerState::Up) << "a sibling that stays keeps its state";
    EXPECT_GT(f.edge(0).map[0].recover_until, 0u);

    auto s2 = f.setup(0);
    s2.enabled = false;
    f.edge(0).map[1].flags = 0;
    e.configure(s2, {}, ProbeClock::now());
    EXPECT_EQ(f.edge(0).map[0].recover_until, 0u) << "failover off: no window either";
    EXPECT_EQ(e.next_deadline(), ProbeClock::time_point::max()) << "nothing is probed";
}

TEST(ProbeEngine, ClearAllDropsTheDownFlagsAndKeepsTheWindow)
{
    Fleet f(3);
    f.kill_and_settle(2);
    ASSERT_TRUE(f.down_flag(0, 2));
    uint32_t until = f.edge(0).map[0].recover_until;
    ASSERT_GT(until, 0u);
    f.edge(0).engine->clear_all(); // serve exits: without an agent the table decides
    EXPECT_FALSE(f.down_flag(0, 2));
    EXPECT_EQ(f.edge(0).map[0].recover_until, until);
}

} // namespace

namespace
{

xi::NodeCfg node(const std::string &name, const char *m4, const char *m6, bool edge = true,
                 xi::NodeCfg::State st = xi::NodeCfg::State::Active)
{
    xi::NodeCfg n;
    n.name = name;
    if (m4)
        n.mesh4 = xi::IpAddr::parse(m4);
    if (m6)
        n.mesh6 = xi::IpAddr::parse(m6);
    if (edge)
        n.public_if = "pub0";
    n.state = st;
    return n;
}

TEST(ProbeSetup, ProbesEveryOtherEdgeThatMayHoldSlotsInTheFamilyBothHave)
{
    using S = xi::NodeCfg::State;
    xi::FleetView f;
    f.drain_timeout = 120;
    f.failover.probe_interval = 700;
    f.nodes = {node("a", "10.0.0.1", "fd00::1"),
               node("b", "10.0.0.2", "fd00::2"),
               node("c", nullptr, "fd00::3", true, S::Draining),
               node("d", "10.0.0.4", nullptr, true, S::Inactive),
               node("e", "10.0.0.5", nullptr, true, S::Joining),
               node("backend", "10.0.0.9", nullptr, false),
               node("new", "10.0.0.6", nullptr)};
    // Slots as the running generation numbers them: "new" has none yet.
    std::vector<std::string> slots = {"e", "", "a", "b", "c", "d", "backend"};
    auto s = xi::probe_setup(f, "a", slots);
    ASSERT_TRUE(s.enabled);
    EXPECT_EQ(s.self, 2);
    EXPECT_EQ(s.recover_s, 120u);
    EXPECT_EQ(s.policy.interval, 700ms);
    EXPECT_EQ(s.port, 9471);
    ASSERT_EQ(s.siblings.size(), 3u) << "b, c (draining still holds flows), e (joining)";
    EXPECT_EQ(s.siblings[0].name, "b");
    EXPECT_EQ(s.siblings[0].slot, 3);
    EXPECT_EQ(s.siblings[0].addr, *xi::IpAddr::parse("10.0.0.2")) << "IPv4 where both have it";
    EXPECT_EQ(s.siblings[1].name, "c");
    EXPECT_EQ(s.siblings[1].addr, *xi::IpAddr::parse("fd00::3"));
    EXPECT_EQ(s.siblings[2].name, "e");
    EXPECT_EQ(s.siblings[2].slot, 0);

    EXPECT_FALSE(xi::probe_setup(f, "backend", slots).enabled) << "a backend probes nobody";
    EXPECT_FALSE(xi::probe_setup(f, "new", slots).enabled) << "no slot yet";
    f.failover.enabled = false;
    EXPECT_FALSE(xi::probe_setup(f, "a", slots).enabled);
}

} // namespace

namespace
{

TEST(ProbeEngine, NewProbeSettingsKeepEachSiblingsVerdictAndCounts)
{
    Fleet f(3);
    f.kill_and_settle(2);
    ASSERT_TRUE(f.down_flag(0, 2));
    auto &e = *f.edge(0).engine;
    const uint64_t sent = f.edge(0).map[2].probes_sent;
    const size_t events = f.edge(0).events.size();
    auto s = f.setup(0);
    s.policy.interval = 150ms; // a reload with other probe settings
    e.configure(s, {}, f.now());
    EXPECT_EQ(e.state_of(2), PeerState::Down);
    EXPECT_TRUE(f.down_flag(0, 2)) << "still failed over";
    EXPECT_EQ(e.state_of(1), PeerState::Up);
    f.run(1s);
    EXPECT_TRUE(f.down_flag(0, 2));
    EXPECT_GT(f.edge(0).map[2].probes_sent, sent) << "counts go on, never back";
    EXPECT_EQ(f.edge(0).events.size(), events) << "no second peer_down, no peer_up";
}

TEST(ProbeEngine, ASiblingThatGoesSilentStopsCountingAsSeeingUsDown)
{
    Fleet f(3);
    f.run(1s);
    // Edge2's answers to edge1 are lost, its probes and edge1's probes are not: edge1 sees
    // edge2 down and says so in every probe it sends there. Then edge1 dies.
    f.lossy(2, 1, {true});
    f.run(1s);
    ASSERT_EQ(f.edge(2).map[2].reported_down, 1u);
    f.edge(1).alive = false;
    f.run(1s);
    EXPECT_TRUE(f.down_flag(2, 1));
    EXPECT_EQ(f.edge(2).map[2].reported_down, 0u) << "a sibling it cannot hear says nothing";
}

} // namespace
