// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The fallback column (loader/model/fallback.h, issue #14): for every slot, the owner it would
// have without its owner. Every edge must compute the same column from the same file, and it
// must be exactly where the flows stay when the dead edge is then removed from the file.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "compile.h"
#include "config.h"
#include "fallback.h"
#include "maglev.h"
#include "xi_structs.h"

namespace
{

std::vector<xi::MaglevBackend> edges(int n, uint16_t weight = 100)
{
    std::vector<xi::MaglevBackend> v;
    for (int i = 0; i < n; i++)
        v.push_back({"edge-" + std::to_string(i), weight, static_cast<uint16_t>(i * 3 + 1)});
    return v;
}

TEST(Fallback, IsTheOwnerOfTheTableWithoutTheOwner)
{
    auto es = edges(5);
    es[2].weight = 300; // weights count: the column follows the weighted tables
    auto table = xi::build_maglev(es, 65537);
    auto fb = xi::build_fallback(es, table);
    ASSERT_EQ(fb.size(), table.size());
    for (const auto &gone : es) {
        std::vector<xi::MaglevBackend> others;
        for (const auto &e : es)
            if (e.node != gone.node)
                others.push_back(e);
        auto without = xi::build_maglev(others, 65537);
        ASSERT_EQ(xi::build_maglev_without(es, gone.node, 65537), without) << gone.name;
        size_t n = 0;
        for (size_t s = 0; s < table.size(); s++)
            if (table[s] == gone.node) {
                ASSERT_EQ(fb[s], without[s]) << gone.name << " slot " << s;
                ASSERT_NE(fb[s], gone.node);
                n++;
            }
        EXPECT_GT(n, 0u) << gone.name << " owns no slot";
    }
}

TEST(Fallback, SpreadsADeadEdgesSlotsOverTheOthers)
{
    auto es = edges(8);
    auto table = xi::build_maglev(es, 65537);
    auto fb = xi::build_fallback(es, table);
    std::map<uint16_t, size_t> got; // where edge-3's slots go
    size_t total = 0;
    for (size_t s = 0; s < table.size(); s++)
        if (table[s] == es[3].node) {
            got[fb[s]]++;
            total++;
        }
    EXPECT_EQ(got.size(), 7u) << "every other edge takes a share";
    for (const auto &[node, n] : got) {
        EXPECT_NE(node, es[3].node);
        EXPECT_GT(n, total / 7 / 2) << "node " << node;
        EXPECT_LT(n, total / 7 * 2) << "node " << node;
    }
}

TEST(Fallback, NoneWithOneEdgeNoneForEmptySlots)
{
    auto one = edges(1);
    auto t1 = xi::build_maglev(one, 251);
    for (uint16_t f : xi::build_fallback(one, t1))
        EXPECT_EQ(f, XI_NODE_NONE);
    // A drained edge (weight 0) owns nothing and is nobody's fallback.
    auto es = edges(3);
    es[1].weight = 0;
    auto t = xi::build_maglev(es, 251);
    auto fb = xi::build_fallback(es, t);
    for (size_t s = 0; s < t.size(); s++) {
        EXPECT_NE(fb[s], es[1].node);
        EXPECT_NE(fb[s], t[s]);
    }
}

std::string fleet(const std::string &extra_node = "")
{
    std::string y = "version: 1\nfleet:\n  hash_seed: 0x1d\nnodes:\n";
    for (int i = 0; i < 4; i++)
        y += "  - name: edge-" + std::to_string(i) +
             "\n    public_interface: eth0\n    mesh_ipv4: 10.200.0." + std::to_string(i + 1) +
             "\n";
    y += extra_node;
    y += "  - name: app-1\n    mesh_ipv4: 10.201.0.1\nidentities:\n  edges: [10.200.0.0/24]\n  "
         "apps: [10.201.0.0/24]\n"
         "default:\n  ingress: deny\n  egress: allow\n";
    return y;
}

xi::GenContent compiled(const std::string &y, const std::string &node)
{
    auto r = xi::parse_config(y, "fleet.yaml");
    EXPECT_TRUE(r.errors.empty()) << r.errors[0].str();
    xi::CompileInput in;
    in.config = &*r.config;
    in.node = node;
    return xi::compile_generation(in);
}

// The column by owner name, so that edges with different slot numbers compare.
std::vector<std::string> by_name(const xi::GenContent &g)
{
    std::vector<std::string> v;
    for (uint16_t f : g.fallback)
        v.push_back(f < g.node_names.size() ? g.node_names[f] : "-");
    return v;
}

TEST(Fallback, EveryEdgeCompilesTheSameColumnAndPublishesItBehindTheEntries)
{
    auto a = compiled(fleet(), "edge-0"), b = compiled(fleet(), "edge-3"),
         app = compiled(fleet(), "app-1");
    EXPECT_EQ(by_name(a), by_name(b));
    EXPECT_EQ(by_name(a), by_name(app));
    auto w = xi::maglev_words(a);
    ASSERT_EQ(w.size(), a.maglev.size() * 2);
    for (size_t s = 0; s < a.maglev.size(); s++) {
        ASSERT_EQ(w[s], a.maglev[s]);
        ASSERT_EQ(w[a.maglev.size() + s], a.fallback[s]);
    }
    // Not in the fleet-wide table hash (releases without the column must not look divergent),
    // but in the digest a reload compares before reusing the running inner map.
    auto again = compiled(fleet(), "edge-1");
    EXPECT_EQ(a.table_sha256, again.table_sha256);
    EXPECT_EQ(a.table_digests[xi::kTableMaglev], again.table_digests[xi::kTableMaglev]);
}

TEST(Fallback, ValidateAndOwnerCompileWithoutTheColumnAndBuildWhatTheyAsk)
{
    auto r = xi::parse_config(fleet(), "fleet.yaml");
    ASSERT_TRUE(r.errors.empty());
    xi::CompileInput in;
    in.config = &*r.config;
    in.node = "app-1";
    in.fallback = false;
    auto lean = xi::compile_generation(in);
    EXPECT_TRUE(lean.fallback.empty());
    ASSERT_EQ(lean.edges_after.size(), 4u);
    auto full = compiled(fleet(), "app-1");
    EXPECT_EQ(lean.maglev, full.maglev);
    EXPECT_EQ(lean.table_sha256, full.table_sha256);
    // What owner builds per owner is the published column.
    for (const auto &e : lean.edges_after) {
        auto col = xi::build_maglev_without(lean.edges_after, e.node, lean.cfg.table_size);
        for (size_t s = 0; s < lean.maglev.size(); s++)
            if (XI_MAGLEV_OWNER(lean.maglev[s]) == e.node) {
                ASSERT_EQ(col[s], full.fallback[s]) << e.name << " slot " << s;
            }
    }
}

TEST(Fallback, IsWhereTheFlowsStayWhenTheDeadEdgeIsRemoved)
{
    auto before = compiled(fleet(), "app-1");
    std::string y = fleet();
    y.replace(y.find("    mesh_ipv4: 10.200.0.3\n"), 0, "    state: inactive\n"); // edge-2
    auto after = compiled(y, "app-1");
    const auto fb = by_name(before);
    size_t moved = 0;
    for (size_t s = 0; s < before.maglev.size(); s++)
        if (before.node_names[XI_MAGLEV_OWNER(before.maglev[s])] == "edge-2") {
            ASSERT_EQ(fb[s], after.node_names[XI_MAGLEV_OWNER(after.maglev[s])]) << s;
            moved++;
        }
    EXPECT_NEAR(double(moved) / before.maglev.size(), 0.25, 0.01);
}

} // namespace
