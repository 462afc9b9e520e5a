// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// A fleet change in steps (issue #13): edge states in the file, and the Maglev entries built
// from the file alone - owner from the fleet after the step (active + joining), previous owner
// from the fleet before it (active + draining) where they differ. Every edge must build the
// same entries, and a table without a change must be the table releases before built.
#include <gtest/gtest.h>
#include <map>

#include "compile.h"
#include "config.h"
#include "owner.h"

namespace
{

using State = xi::NodeCfg::State;

// N edges edge-00.. (and one backend), with a state for some of them.
std::string fleet(int n, const std::map<int, std::string> &states = {},
                  const std::string &extra_fleet = "")
{
    std::string y = "version: 1\nfleet:\n  hash_seed: 0x77\n" + extra_fleet + "nodes:\n";
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "edge-%02d", i);
        y += std::string("  - name: ") + name +
             "\n    public_interface: eth0\n    mesh_ipv4: 10.200." + std::to_string(i / 200) +
             "." + std::to_string(i % 200 + 1) + "\n";
        if (auto s = states.find(i); s != states.end())
            y += "    state: " + s->second + "\n";
    }
    y += "  - name: app-1\n    mesh_ipv4: 10.201.0.1\n";
    y += "identities:\n  edges: [10.200.0.0/16]\n  apps: [10.201.0.0/24]\ndefault:\n  ingress: "
         "deny\n  egress: allow\n";
    return y;
}

xi::ConfigResult parse(const std::string &y)
{
    return xi::parse_config(y, "fleet.yaml");
}

xi::GenContent compiled(const std::string &y, const std::string &node = "app-1")
{
    auto r = parse(y);
    EXPECT_TRUE(r.errors.empty()) << r.errors[0].str();
    xi::CompileInput in;
    in.config = &*r.config;
    in.node = node;
    return xi::compile_generation(in);
}

uint32_t owner_of(uint32_t e)
{
    return XI_MAGLEV_OWNER(e);
}
uint32_t prev_of(uint32_t e)
{
    return XI_MAGLEV_PREV(e);
}
uint16_t slot_named(const xi::GenContent &g, const std::string &name)
{
    for (size_t i = 0; i < g.node_names.size(); i++)
        if (g.node_names[i] == name)
            return static_cast<uint16_t>(i);
    return XI_NODE_NONE;
}

TEST(FleetStep, StatesParseAndAreRefusedWhereTheyMeanNothing)
{
    auto r = parse(fleet(4, {{1, "joining"}, {2, "draining"}, {3, "inactive"}}));
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].str();
    EXPECT_EQ(r.config->nodes[0].state, State::Active);
    EXPECT_EQ(r.config->nodes[1].state, State::Joining);
    EXPECT_EQ(r.config->nodes[2].state, State::Draining);
    EXPECT_EQ(r.config->nodes[3].state, State::Inactive);
    EXPECT_EQ(r.config->drain_timeout, 600u);
    EXPECT_EQ(parse(fleet(2, {}, "  drain_timeout: 90\n")).config->drain_timeout, 90u);

    auto bad = parse(fleet(2, {{1, "retired"}}));
    ASSERT_FALSE(bad.errors.empty());
    EXPECT_EQ(bad.errors[0].str(), "fleet.yaml:11:12: state must be active, joining, draining or "
                                   "inactive, not 'retired'");
    std::string y = fleet(1);
    y.replace(y.find("    mesh_ipv4: 10.201.0.1"), 0, "    state: draining\n");
    auto not_edge = parse(y);
    ASSERT_FALSE(not_edge.errors.empty());
    EXPECT_NE(not_edge.errors[0].str().find("state applies only to edges"), std::string::npos);
    EXPECT_NE(parse(fleet(2, {}, "  drain_timeout: 0\n")).errors.at(0).str().find("drain_timeout"),
              std::string::npos);
}

TEST(FleetStep, NoChangeNoPreviousOwnersAndTheTableOfBefore)
{
    auto plain = compiled(fleet(8));
    EXPECT_EQ(plain.second_chance_slots, 0u);
    for (uint32_t e : plain.maglev)
        ASSERT_LT(e, XI_MAX_NODES) << "upper bits zero, as releases before wrote them";
    // Naming the default changes nothing, nor does a state that leaves both fleets alike.
    auto named = compiled(fleet(8, {{0, "active"}, {3, "active"}}));
    EXPECT_EQ(named.maglev, plain.maglev);
    EXPECT_EQ(named.table_sha256, plain.table_sha256);
}

TEST(FleetStep, DrainingEdgeLeavesPreviousOwnersOnExactlyTheSlotsThatMoved)
{
    auto before = compiled(fleet(8));
    auto step = compiled(fleet(8, {{5, "draining"}}));
    auto after = compiled(fleet(8, {{5, "inactive"}}));
    const uint16_t drained = slot_named(step, "edge-05");
    uint32_t with_prev = 0;
    for (size_t s = 0; s < step.maglev.size(); s++) {
        uint32_t e = step.maglev[s];
        // Owner: the table without the draining edge, i.e. the table once it is gone.
        ASSERT_EQ(owner_of(e), after.maglev[s]) << s;
        ASSERT_NE(owner_of(e), drained);
        // Previous owner: where the table with it active said someone else.
        if (before.maglev[s] != after.maglev[s]) {
            ASSERT_EQ(prev_of(e), before.maglev[s]) << s;
            with_prev++;
        } else {
            ASSERT_EQ(prev_of(e), XI_NODE_NONE) << s;
        }
    }
    EXPECT_EQ(with_prev, step.second_chance_slots);
    // Every slot the drained edge held has it as previous owner; Maglev moves few others.
    uint32_t held = std::count(before.maglev.begin(), before.maglev.end(), drained);
    EXPECT_GE(with_prev, held);
    EXPECT_LT(with_prev, held + held / 10) << "Maglev's disruption beyond the drained share";
    EXPECT_NE(step.table_sha256, after.table_sha256) << "previous owners are part of the hash";
    EXPECT_EQ(step.maglev, compiled(fleet(8, {{5, "draining"}}), "edge-02").maglev)
        << "every edge builds the same entries";
}

TEST(FleetStep, JoiningEdgeTakesItsSlotsAndTheirOwnersStayPrevious)
{
    auto eight = compiled(fleet(8));
    auto step = compiled(fleet(9, {{8, "joining"}}));
    auto nine = compiled(fleet(9));
    const uint16_t joined = slot_named(step, "edge-08");
    uint32_t taken = 0;
    for (size_t s = 0; s < step.maglev.size(); s++) {
        uint32_t e = step.maglev[s];
        ASSERT_EQ(owner_of(e), nine.maglev[s]) << s;
        if (eight.maglev[s] != nine.maglev[s])
            ASSERT_EQ(prev_of(e), eight.maglev[s]) << s;
        else
            ASSERT_EQ(prev_of(e), XI_NODE_NONE) << s;
        taken += owner_of(e) == joined;
    }
    EXPECT_GE(step.second_chance_slots, taken);
}

TEST(FleetStep, ShareOfSlotsWithAPreviousOwnerWhenOneEdgeJoins)
{
    // The cost side of second chance: only these slots pay for a socket lookup.
    for (int n : {8, 64}) {
        auto step = compiled(fleet(n + 1, {{n, "joining"}}));
        double share = double(step.second_chance_slots) / step.maglev.size();
        double ideal = 1.0 / (n + 1);
        std::printf("one edge joins %d: %u of %zu slots (%.2f%%) have a previous owner; the "
                    "joiner's share is %.2f%%\n",
                    n, step.second_chance_slots, step.maglev.size(), 100 * share, 100 * ideal);
        EXPECT_GE(share, ideal * 0.95);
        EXPECT_LE(share, ideal * 1.5); // Maglev moves some slots among the others too
    }
}

TEST(FleetStep, DrainingSelfIsFlaggedForHealth)
{
    auto g = compiled(fleet(3, {{1, "draining"}}), "edge-01");
    EXPECT_TRUE(g.cfg.flags & XI_CFG_SELF_DRAINING);
    EXPECT_FALSE(compiled(fleet(3, {{1, "draining"}}), "edge-00").cfg.flags & XI_CFG_SELF_DRAINING);
    EXPECT_FALSE(g.cfg.flags & XI_CFG_SELF_INACTIVE);
}

TEST(FleetStep, InactiveSelfIsFlaggedForHealth)
{
    auto g = compiled(fleet(3, {{1, "inactive"}}), "edge-01");
    EXPECT_TRUE(g.cfg.flags & XI_CFG_SELF_INACTIVE);
    EXPECT_FALSE(g.cfg.flags & XI_CFG_SELF_DRAINING);
    EXPECT_FALSE(compiled(fleet(3, {{1, "inactive"}}), "edge-00").cfg.flags & XI_CFG_SELF_INACTIVE);
}

TEST(FleetStep, OwnerLookupReadsTheOwnerOfAPackedEntry)
{
    auto step = compiled(fleet(8, {{5, "draining"}}));
    auto after = compiled(fleet(8, {{5, "inactive"}}));
    for (uint16_t port = 1000; port < 1200; port++) {
        xi::FlowTuple t;
        t.src = *xi::IpAddr::parse("192.0.2.7");
        t.dst = *xi::IpAddr::parse("198.51.100.10");
        t.sport = port;
        t.dport = 443;
        t.proto = 6;
        ASSERT_EQ(xi::flow_owner(step, t), xi::flow_owner(after, t));
    }
}

} // namespace
