// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The sibling probe state machine (loader/agent/probe_state.h, issue #14): thresholds,
// hysteresis against flapping, and the jitter of the probe schedule.
#include <gtest/gtest.h>

#include <set>

#include "probe_state.h"

namespace
{

using xi::PeerProbe;
using xi::PeerState;

xi::ProbePolicy policy(uint32_t down_after, uint32_t up_after, uint32_t jitter = 20)
{
    xi::ProbePolicy p;
    p.interval = std::chrono::milliseconds(1000);
    p.down_after = down_after;
    p.up_after = up_after;
    p.jitter_percent = jitter;
    return p;
}

TEST(PeerProbe, StartsUnknownAndNeedsTheThresholdEitherWay)
{
    PeerProbe p(policy(3, 2), 1);
    EXPECT_EQ(p.state(), PeerState::Unknown);
    EXPECT_FALSE(p.record(true));
    EXPECT_EQ(p.record(true), PeerState::Up);
    EXPECT_FALSE(p.record(false));
    EXPECT_FALSE(p.record(false));
    EXPECT_EQ(p.record(false), PeerState::Down);
    EXPECT_FALSE(p.record(false)) << "already down: no new transition";
    EXPECT_FALSE(p.record(true));
    EXPECT_EQ(p.record(true), PeerState::Up);
    EXPECT_EQ(p.transitions(), 3u);
    EXPECT_EQ(p.sent(), 8u);
    EXPECT_EQ(p.answered(), 4u);

    PeerProbe never(policy(3, 2), 1); // a sibling that never answers goes down from unknown
    never.record(false);
    never.record(false);
    EXPECT_EQ(never.record(false), PeerState::Down);
}

TEST(PeerProbe, FlappingNeverFlapsTheState)
{
    PeerProbe p(policy(3, 2), 7);
    p.record(true);
    p.record(true);
    ASSERT_EQ(p.state(), PeerState::Up);
    for (int i = 0; i < 100; i++) // answered, lost, answered, lost...
        EXPECT_FALSE(p.record(i % 2 == 0)) << i;
    // Two lost in a row of every three answered: still up with down_after 3.
    for (int i = 0; i < 99; i++)
        EXPECT_FALSE(p.record(i % 3 == 0)) << i;
    EXPECT_EQ(p.state(), PeerState::Up);
    EXPECT_EQ(p.transitions(), 1u);
    // Once down, single answers between losses do not bring it back with up_after 2.
    p.record(false);
    EXPECT_EQ(p.state(), PeerState::Down);
    for (int i = 0; i < 100; i++)
        EXPECT_FALSE(p.record(i % 2 == 0)) << i;
    EXPECT_EQ(p.state(), PeerState::Down);
}

TEST(PeerProbe, ThresholdsOfOneFollowEveryProbe)
{
    PeerProbe p(policy(1, 1), 3);
    EXPECT_EQ(p.record(false), PeerState::Down);
    EXPECT_EQ(p.record(true), PeerState::Up);
    EXPECT_EQ(p.record(false), PeerState::Down);
    PeerProbe zero(policy(0, 0), 3); // 0 means 1
    EXPECT_EQ(zero.record(true), PeerState::Up);
}

TEST(PeerProbe, WaitsAreJitteredWithinTheBoundsAndDifferPerPair)
{
    PeerProbe p(policy(3, 2, 20), xi::probe_seed("edge-a", "edge-b"));
    std::set<int64_t> seen;
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        auto w = p.next_wait().count();
        ASSERT_GE(w, 800);
        ASSERT_LE(w, 1200);
        seen.insert(w);
        sum += double(w);
    }
    EXPECT_GT(seen.size(), 300u) << "spread over the range";
    EXPECT_NEAR(sum / 10000, 1000, 10);
    // Same pair, same sequence; another pair, another one.
    PeerProbe a(policy(3, 2), xi::probe_seed("edge-a", "edge-b")),
        b(policy(3, 2), xi::probe_seed("edge-a", "edge-b")),
        c(policy(3, 2), xi::probe_seed("edge-b", "edge-a"));
    int same = 0, differ = 0;
    for (int i = 0; i < 100; i++) {
        auto x = a.next_wait(), y = b.next_wait(), z = c.next_wait();
        same += x == y;
        differ += x != z;
    }
    EXPECT_EQ(same, 100);
    EXPECT_GT(differ, 90);
    PeerProbe fixed(policy(3, 2, 0), 5);
    EXPECT_EQ(fixed.next_wait().count(), 1000);
}

} // namespace
