// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The config's `tunnels:` (issue #12): defaults, the rollout modes and ports as the datapath
// reads them (xi_gen_config), and every error with its line.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "base_config.h"
#include "compile.h"
#include "config.h"

namespace
{

xi::GenContent compiled(const std::string &extra)
{
    auto r = xi::parse_config(xi::test::kBase + extra, "test.yaml");
    EXPECT_TRUE(r.errors.empty()) << r.errors[0].str();
    xi::CompileInput in;
    in.config = &*r.config;
    in.node = "app-1";
    return xi::compile_generation(in);
}

std::string first_error(const std::string &extra)
{
    auto r = xi::parse_config(xi::test::kBase + extra, "test.yaml");
    return r.errors.empty() ? "" : r.errors[0].str();
}

TEST(TunnelConfig, DefaultsInspectVxlanOnBothLinuxPortsAndGeneve)
{
    auto g = compiled("");
    EXPECT_TRUE(g.cfg.flags & XI_CFG_TUNNEL_INSPECT);
    EXPECT_FALSE(g.cfg.flags & XI_CFG_TUNNEL_COUNT);
    EXPECT_EQ(g.cfg.vxlan_ports[0], htons(4789));
    EXPECT_EQ(g.cfg.vxlan_ports[1], htons(8472));
    EXPECT_EQ(g.cfg.vxlan_ports[2], 0);
    EXPECT_EQ(g.cfg.geneve_ports[0], htons(6081));
    EXPECT_EQ(g.cfg.geneve_ports[1], 0);
}

TEST(TunnelConfig, ModesAndPortsReachTheDatapath)
{
    auto count = compiled("tunnels: {inspect: count, vxlan_ports: [1, 2, 3, 65535]}\n");
    EXPECT_EQ(count.cfg.flags & (XI_CFG_TUNNEL_INSPECT | XI_CFG_TUNNEL_COUNT),
              XI_CFG_TUNNEL_INSPECT | XI_CFG_TUNNEL_COUNT);
    EXPECT_EQ(count.cfg.vxlan_ports[3], htons(65535));
    EXPECT_EQ(count.cfg.geneve_ports[0], htons(6081)); // unnamed: the default
    auto off = compiled("tunnels:\n  inspect: off\n");
    EXPECT_FALSE(off.cfg.flags & (XI_CFG_TUNNEL_INSPECT | XI_CFG_TUNNEL_COUNT));
}

TEST(TunnelConfig, ErrorsNameTheLine)
{
    const int line = std::count(xi::test::kBase.begin(), xi::test::kBase.end(), '\n') + 1;
    const std::string at = "test.yaml:" + std::to_string(line + 1) + ":";
    EXPECT_EQ(first_error("tunnels:\n  inspect: audit\n"),
              at + "12: tunnels.inspect must be enforce, count or off, not 'audit'");
    EXPECT_EQ(first_error("tunnels:\n  vxlan_ports: [1, 2, 3, 4, 5]\n"),
              at + "16: tunnels.vxlan_ports lists 5 ports; at most 4");
    EXPECT_NE(first_error("tunnels:\n  geneve_ports: [0]\n").find("tunnels.geneve_ports"),
              std::string::npos);
    EXPECT_NE(first_error("tunnels:\n  geneve_ports: []\n").find("empty list"), std::string::npos);
    EXPECT_NE(first_error("tunnels:\n  gre: yes\n").find("unknown key 'gre'"), std::string::npos);
}

TEST(UnparsedConfig, DropByDefaultPassWhenSaidWrongWordRefused)
{
    EXPECT_FALSE(compiled("").cfg.flags & XI_CFG_UNPARSED_PASS);
    EXPECT_FALSE(compiled("unparsed: drop\n").cfg.flags & XI_CFG_UNPARSED_PASS);
    EXPECT_TRUE(compiled("unparsed: pass\n").cfg.flags & XI_CFG_UNPARSED_PASS);
    const int line = std::count(xi::test::kBase.begin(), xi::test::kBase.end(), '\n') + 1;
    EXPECT_EQ(first_error("unparsed: allow\n"),
              "test.yaml:" + std::to_string(line) +
                  ":11: unparsed must be drop or pass, not 'allow'");
}

} // namespace
