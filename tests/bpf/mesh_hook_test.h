// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The base of the suites that run crafted packets through the mesh hooks (policy, tunnels,
// tracking by hook): one datapath per suite, loaded by the suite's SetUpTestSuite with load(),
// and one packet through a hook at a time, checking that exactly one reason was counted there
// (an MSS clamp is counted on top of the verdict) and that the verdict matches it.
#pragma once

#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include "counters.h"
#include "datapath_fixture.h"
#include "packet.h"
#include "privileges.h"
#include "tunnel_packets.h"
#include "xi_reasons.h"

namespace xi::test
{

constexpr uint32_t kIn = XI_HOOK_TC_MESH_INGRESS;
constexpr uint32_t kOut = XI_HOOK_TC_MESH_EGRESS;

// A TCP segment of either family (by the source's spelling), Ethernet first (the L2 entries).
inline Packet tcp(const std::string &src, const std::string &dst, uint16_t sport, uint16_t dport)
{
    Packet p = Packet().eth();
    if (src.find(':') != std::string::npos)
        p.ipv6(src, dst);
    else
        p.ipv4(src, dst);
    return p.tcp(sport, dport);
}

class MeshHookTest : public ::testing::Test
{
protected:
    // Suites run one after another: one pointer serves them all.
    static void load(const std::string &config, const std::string &node)
    {
        if (have_bpf_privileges())
            fx_ = new DatapathFixture(config, node);
    }
    static void TearDownTestSuite()
    {
        delete fx_;
        fx_ = nullptr;
    }
    void SetUp() override { XI_REQUIRE_PRIVILEGES(); }

    // Every counter the packet moved, at any hook.
    Counters moved(uint32_t hook, const Bytes &pkt, RunResult *out = nullptr)
    {
        auto before = fx_->counters();
        auto r = fx_->run_tc(hook == kIn ? Prog::MeshIngress : Prog::MeshEgress, pkt);
        if (out)
            *out = r;
        return fx_->counters() - before;
    }
    // The one reason the packet was decided with.
    uint32_t run(uint32_t hook, const Bytes &pkt, RunResult *out = nullptr)
    {
        RunResult r;
        auto d = moved(hook, pkt, &r);
        if (out)
            *out = r;
        d.erase({hook, XI_R_MSS_CLAMPED});
        EXPECT_EQ(d.size(), 1u) << describe(d);
        if (d.size() != 1)
            return 0;
        auto [key, n] = *d.begin();
        EXPECT_EQ(key.first, hook);
        EXPECT_EQ(n, 1u);
        bool drop = key.second >= XI_DROP_BASE;
        EXPECT_EQ(r.retval, drop ? TC_ACT_SHOT : TC_ACT_UNSPEC) << reason_info(key.second)->label;
        return key.second;
    }
    uint32_t in(const Bytes &pkt) { return run(kIn, pkt); }
    uint32_t out(const Bytes &pkt) { return run(kOut, pkt); }

    static inline DatapathFixture *fx_ = nullptr;
};

// The overlay fleet of tests/lib/tunnel_packets.h (app-1 and app-2 may run tunnels between
// them), as app-1, published afresh before every test (a test may publish a variant of it).
class OverlayFleetTest : public MeshHookTest
{
protected:
    static void SetUpTestSuite() { load(tunnel_config(""), "app-1"); }
    void SetUp() override
    {
        MeshHookTest::SetUp();
        if (fx_)
            fx_->publish(tunnel_config(""), "app-1");
    }
};

} // namespace xi::test
