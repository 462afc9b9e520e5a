// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The config's `metadata_guard:` (issue #12): defaults, the mode and mark as the datapath reads
// them (xi_gen_config), the interface list, and every error with its line.
#include <gtest/gtest.h>

#include "base_config.h"
#include "compile.h"
#include "config.h"

namespace
{

xi::Config parsed(const std::string &extra)
{
    auto r = xi::parse_config(xi::test::kBase + extra, "test.yaml");
    EXPECT_TRUE(r.errors.empty()) << r.errors[0].str();
    return *r.config;
}

xi::GenContent compiled(const std::string &extra)
{
    auto c = parsed(extra);
    xi::CompileInput in;
    in.config = &c;
    in.node = "app-1";
    return xi::compile_generation(in);
}

std::string first_error(const std::string &extra)
{
    auto r = xi::parse_config(xi::test::kBase + extra, "test.yaml");
    return r.errors.empty() ? "" : r.errors[0].str();
}

TEST(GuardConfig, EnforcedWithTheDefaultMarkOnEveryInterface)
{
    auto g = compiled("");
    EXPECT_EQ(g.cfg.guard_mark, xi::kGuardDefaultMark);
    EXPECT_EQ(g.cfg.guard_mark, 0x00100000u);
    EXPECT_FALSE(g.cfg.flags & XI_CFG_GUARD_COUNT);
    EXPECT_FALSE(parsed("").guard_interfaces.has_value());
}

TEST(GuardConfig, ModeMarkAndInterfacesReachTheDatapathAndTheLoader)
{
    auto count = compiled("metadata_guard: {mode: count, mark: 0x80000000}\n");
    EXPECT_TRUE(count.cfg.flags & XI_CFG_GUARD_COUNT);
    EXPECT_EQ(count.cfg.guard_mark, 0x80000000u);
    // off: nothing is marked, so nothing is checked.
    auto off = compiled("metadata_guard:\n  mode: off\n  mark: 0x4\n");
    EXPECT_EQ(off.cfg.guard_mark, 0u);
    EXPECT_FALSE(off.cfg.flags & XI_CFG_GUARD_COUNT);
    auto c = parsed("metadata_guard: {interfaces: [eth0, vxlan.calico]}\n");
    ASSERT_TRUE(c.guard_interfaces.has_value());
    EXPECT_EQ(*c.guard_interfaces, (std::vector<std::string>{"eth0", "vxlan.calico"}));
}

TEST(GuardConfig, ErrorsNameTheLine)
{
    const int line = std::count(xi::test::kBase.begin(), xi::test::kBase.end(), '\n') + 1;
    const std::string at = "test.yaml:" + std::to_string(line + 1) + ":";
    EXPECT_EQ(first_error("metadata_guard:\n  mode: audit\n"),
              at + "9: metadata_guard.mode must be enforce, count or off, not 'audit'");
    EXPECT_NE(first_error("metadata_guard:\n  mark: 0\n").find("metadata_guard.mark"),
              std::string::npos);
    EXPECT_NE(first_error("metadata_guard:\n  mark: 0x100000000\n").find("metadata_guard.mark"),
              std::string::npos);
    EXPECT_EQ(first_error("metadata_guard:\n  interfaces: [eth0, a/b]\n"),
              at + "22: metadata_guard.interfaces: 'a/b' is not an interface name");
    EXPECT_NE(first_error("metadata_guard:\n  interfaces: [sixteen-chars-xx]\n")
                  .find("not an interface name"),
              std::string::npos);
    EXPECT_NE(first_error("metadata_guard:\n  interfaces: []\n").find("set mode: off"),
              std::string::npos);
    std::string many = "metadata_guard:\n  interfaces: [";
    for (int i = 0; i < 33; i++)
        many += (i ? ", " : "") + std::string("veth") + std::to_string(i);
    EXPECT_NE(first_error(many + "]\n").find("lists 33 interfaces; at most 32"), std::string::npos);
    EXPECT_NE(first_error("metadata_guard:\n  marks: 1\n").find("unknown key 'marks'"),
              std::string::npos);
}

} // namespace
