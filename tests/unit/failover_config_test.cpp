// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The config's `fleet.failover:` (issue #14): defaults, every setting, every error with its line.
#include <gtest/gtest.h>

#include "base_config.h"
#include "config.h"

namespace
{

// kBase with `failover` (indented under fleet:) inserted after hash_seed.
xi::ConfigResult with_failover(const std::string &block)
{
    std::string y = xi::test::kBase;
    const std::string seed = "  hash_seed: 0x1234\n";
    y.insert(y.find(seed) + seed.size(), block);
    return xi::parse_config(y, "test.yaml");
}

TEST(FailoverConfig, DefaultsProbeEverySecondDownAfterThreeUpAfterTwo)
{
    auto r = with_failover("");
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].str();
    const auto &f = r.config->failover;
    EXPECT_TRUE(f.enabled);
    EXPECT_EQ(f.probe_port, 9471);
    EXPECT_EQ(f.probe_interval, 1000u);
    EXPECT_EQ(f.probe_timeout, 500u);
    EXPECT_EQ(f.jitter_percent, 20u);
    EXPECT_EQ(f.down_after, 3u);
    EXPECT_EQ(f.up_after, 2u);
}

TEST(FailoverConfig, EverySettingIsRead)
{
    auto r = with_failover("  failover:\n    enabled: false\n    probe_port: 7000\n"
                           "    probe_interval: 200\n    probe_timeout: 150\n    jitter: 0\n"
                           "    down_after: 5\n    up_after: 4\n");
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].str();
    const auto &f = r.config->failover;
    EXPECT_FALSE(f.enabled);
    EXPECT_EQ(f.probe_port, 7000);
    EXPECT_EQ(f.probe_interval, 200u);
    EXPECT_EQ(f.probe_timeout, 150u);
    EXPECT_EQ(f.jitter_percent, 0u);
    EXPECT_EQ(f.down_after, 5u);
    EXPECT_EQ(f.up_after, 4u);
}

TEST(FailoverConfig, ErrorsNameTheLineAndTheReason)
{
    auto first = [](const std::string &block) {
        auto r = with_failover(block);
        return r.errors.empty() ? std::string() : r.errors[0].str();
    };
    EXPECT_EQ(first("  failover:\n    probe_interval: 10\n"),
              "test.yaml:5:21: fleet.failover.probe_interval 10 is out of range 50..60000");
    EXPECT_EQ(first("  failover:\n    down_after: 0\n"),
              "test.yaml:5:17: fleet.failover.down_after 0 is out of range 1..100");
    EXPECT_EQ(first("  failover:\n    probe_interval: 400\n    probe_timeout: 400\n"),
              "test.yaml:5:5: fleet.failover.probe_timeout (400 ms) must be shorter than the "
              "shortest wait between two probes (probe_interval 400 ms - 20 % jitter = 320 ms)");
    EXPECT_EQ(first("  failover:\n    probe_interval: 1000\n    probe_timeout: 900\n"),
              "test.yaml:5:5: fleet.failover.probe_timeout (900 ms) must be shorter than the "
              "shortest wait between two probes (probe_interval 1000 ms - 20 % jitter = 800 ms)")
        << "a jittered probe would come before the timeout of the one before";
    EXPECT_EQ(first("  failover:\n    enabled: maybe\n"),
              "test.yaml:5:14: fleet.failover.enabled must be true or false");
    EXPECT_NE(first("  failover:\n    probes: 3\n").find("test.yaml:5:5:"), std::string::npos);
    EXPECT_NE(first("  failover:\n    probes: 3\n").find("probes"), std::string::npos);
}

} // namespace
