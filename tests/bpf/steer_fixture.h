// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The Steer fixture of the steering tests (steer_test.cpp, steer_headers_test.cpp,
// steer_malformed_test.cpp; instantiated once, in steer_test.cpp, for every hand-off mode):
// run a crafted packet through the public ingress as the mode does, and check the decision,
// the counters, the XDP metadata and TC's encapsulation. Outside an anonymous namespace so
// that its TEST_Ps in several files share one fixture type, as GoogleTest requires.
#pragma once

#include <cstring>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <set>
#include <string>
#include <utility>

#include "datapath_fixture.h"
#include "handoff_params.h"
#include "owner.h"
#include "packet.h"
#include "packet_check.h"
#include "privileges.h"
#include "steer_config.h"
#include "xi_reasons.h"

namespace xi::test::steering
{

inline constexpr uint32_t kPubIn = XI_HOOK_TC_PUBLIC_INGRESS;

// What the public ingress did with one packet.
struct Steered {
    bool dropped = false;
    uint16_t owner = XI_NODE_NONE; // the sibling it was sent to
    Counters delta;
    RunResult xdp, tc;
    bool tc_ran = false;
};

class Steer : public ::testing::TestWithParam<HandoffMode>
{
protected:
    void SetUp() override
    {
        XI_REQUIRE_PRIVILEGES();
        mode_ = GetParam();
        fx_ = &fixture_for(mode_);
        if (dirty().erase(mode_.name))
            fx_->publish(kSteerConfig, "edge-a");
        self_ = fx_->node_slot("edge-a");
    }

    // One loaded datapath per hand-off mode for the whole process: loading runs the verifier,
    // most of a case's time (~10x more under TCG, make vmtest's batch). Every check reads
    // counter deltas; a test that publishes another fleet (publish below) has the next test of
    // its mode publish kSteerConfig again.
    static DatapathFixture &fixture_for(const HandoffMode &m)
    {
        static std::map<std::string, std::unique_ptr<DatapathFixture>> fixtures;
        auto &f = fixtures[m.name];
        if (!f)
            f = std::make_unique<DatapathFixture>(
                kSteerConfig, "edge-a",
                FixtureOptions{.mesh = false, .handoff = m.handoff, .mark_fails = m.mark_fails});
        return *f;
    }
    static std::set<std::string> &dirty()
    {
        static std::set<std::string> modes;
        return modes;
    }
    // Publish another fleet file for this test (a reload).
    void publish(const std::string &config_yaml)
    {
        dirty().insert(mode_.name);
        fx_->publish(config_yaml, "edge-a");
    }

    // A client source port whose flow to vip:dport is owned by this edge (or by a sibling).
    uint16_t port_owned(const std::string &client, const std::string &vip, uint16_t dport,
                        uint8_t proto, bool by_self)
    {
        for (uint16_t p = 1024; p < 65000; p++)
            if ((owner_of(client, vip, p, dport, proto) == self_) == by_self)
                return p;
        ADD_FAILURE() << "no port found";
        return 0;
    }

    // A client port whose TCP flow 203.0.113.7 -> 198.51.100.10:443 a sibling owns, and that
    // sibling.
    std::pair<uint16_t, uint16_t> sibling_flow()
    {
        uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 443, IPPROTO_TCP, false);
        return {p, owner_of("203.0.113.7", "198.51.100.10", p, 443, IPPROTO_TCP)};
    }

    uint16_t owner_of(const std::string &c, const std::string &v, uint16_t sp, uint16_t dp,
                      uint8_t proto)
    {
        return flow_owner(fx_->gen(), {*IpAddr::parse(c), *IpAddr::parse(v), sp, dp, proto});
    }

    // The node whose mesh address is the outer destination of an encapsulated frame.
    uint16_t outer_owner(const Bytes &out)
    {
        auto p = parse(out);
        EXPECT_TRUE(p.ok()) << (p.problems.empty() ? "" : p.problems[0]);
        if (p.ips.size() < 2)
            return XI_NODE_NONE;
        const auto &dst = p.ips[0].dst_raw;
        const auto &nodes = fx_->gen().nodes;
        for (size_t i = 0; i < nodes.size(); i++) {
            bool v4 = p.ips[0].version == 4 && std::memcmp(&nodes[i].mesh4, dst.data(), 4) == 0;
            bool v6 = p.ips[0].version == 6 && std::memcmp(nodes[i].mesh6.w, dst.data(), 16) == 0;
            if ((v4 || v6) && (nodes[i].flags & XI_NODE_F_VALID))
                return static_cast<uint16_t>(i);
        }
        return XI_NODE_NONE;
    }

    // Run the packet through the public ingress as this mode does.
    Steered steer(const Bytes &pkt)
    {
        Steered s;
        auto before = fx_->counters();
        s.xdp = fx_->run_xdp(pkt);
        if (s.xdp.retval == XDP_DROP) {
            s.dropped = true;
        } else if (mode_.xdp_decides()) {
            if (s.xdp.meta.size() == sizeof(xi_xdp_meta)) {
                xi_xdp_meta m;
                std::memcpy(&m, s.xdp.meta.data(), sizeof(m));
                if (m.magic == XI_META_MAGIC)
                    s.owner = m.owner;
            }
        } else {
            EXPECT_TRUE(s.xdp.meta.empty()) << "XDP marked in mode " << mode_.name;
            s.tc = fx_->run_tc(Prog::TcPublicIngress, pkt);
            s.tc_ran = true;
            if (s.tc.retval == TC_ACT_SHOT)
                s.dropped = true;
            else if (s.tc.retval == TC_ACT_REDIRECT)
                s.owner = outer_owner(s.tc.out);
        }
        s.delta = fx_->counters() - before;
        return s;
    }

    // One packet: decided as `reason`, sent to `owner` (XI_NODE_NONE: stays here), exactly the
    // counters of this mode, and nothing rewritten but what a forward must rewrite.
    Steered expect(const Bytes &pkt, uint32_t reason, uint16_t owner = XI_NODE_NONE)
    {
        auto s = steer(pkt);
        bool fwd = owner != XI_NODE_NONE;
        // TC is not run when XDP marks: skb test_run has no metadata input.
        Counters want = steer_counters(mode_, reason, fwd);
        if (mode_.xdp_decides())
            std::erase_if(want, [](const auto &kv) { return kv.first.first == kPubIn; });
        else if (fwd)
            want[{kPubIn, XI_R_REDIRECT}] = 1;
        EXPECT_EQ(s.delta, want) << describe(s.delta);
        EXPECT_EQ(s.dropped, reason >= XI_DROP_BASE);
        EXPECT_EQ(s.owner, owner);
        if (!s.dropped) {
            EXPECT_EQ(s.xdp.out, pkt) << hexdiff(pkt, s.xdp.out);
        }
        if (mode_.xdp_decides() && !s.dropped)
            expect_meta(s, owner, pkt, reason);
        if (s.tc_ran && !fwd && !s.dropped) {
            EXPECT_EQ(s.tc.out, pkt) << hexdiff(pkt, s.tc.out);
        }
        if (s.tc_ran && fwd)
            expect_encapsulated(s.tc.out, pkt, owner);
        return s;
    }

    void expect_meta(const Steered &s, uint16_t owner, const Bytes &pkt, uint32_t reason)
    {
        if (reason == XI_R_PASS_NOT_IP) {
            EXPECT_TRUE(s.xdp.meta.empty());
            return;
        }
        ASSERT_EQ(s.xdp.meta.size(), sizeof(xi_xdp_meta));
        xi_xdp_meta m;
        std::memcpy(&m, s.xdp.meta.data(), sizeof(m));
        if (owner == XI_NODE_NONE) {
            EXPECT_EQ(m.magic, XI_META_PASS);
            EXPECT_EQ(m.owner, 0);
            return;
        }
        EXPECT_EQ(m.magic, XI_META_MAGIC);
        EXPECT_NE(m.owner, self_);
        bool v6 = parse(pkt).ips.at(0).version == 6;
        EXPECT_EQ(m.flags, v6 ? XI_META_F_IPV6 : 0);
    }

    // TC's output: the frame's Ethernet addresses, an outer header from this edge to the owner,
    // the client's datagram unchanged (tags and Ethernet padding removed).
    void expect_encapsulated(const Bytes &out, const Bytes &in, uint16_t owner)
    {
        auto pin = parse(in), pout = parse(out);
        ASSERT_TRUE(pout.ok()) << pout.problems[0];
        ASSERT_EQ(pout.ips.size(), pin.ips.size() + 1) << summary(pout);
        const auto &outer = pout.ips[0];
        const auto &node = fx_->gen().nodes.at(owner), &self = fx_->gen().nodes.at(self_);
        if (outer.version == 4) {
            EXPECT_EQ(outer.proto, IPPROTO_IPIP);
            EXPECT_EQ(std::memcmp(outer.src_raw.data(), &self.mesh4, 4), 0);
            EXPECT_EQ(std::memcmp(outer.dst_raw.data(), &node.mesh4, 4), 0);
            EXPECT_TRUE(outer.df);
        } else {
            EXPECT_EQ(outer.proto, IPPROTO_IPV6);
            EXPECT_EQ(std::memcmp(outer.src_raw.data(), self.mesh6.w, 16), 0);
            EXPECT_EQ(std::memcmp(outer.dst_raw.data(), node.mesh6.w, 16), 0);
        }
        EXPECT_EQ(outer.ttl, pin.ips[0].ttl);
        EXPECT_EQ(outer.tos, pin.ips[0].tos);
        size_t l3 = pin.ips[0].off, len = pin.ips[0].datagram_len;
        Bytes datagram(in.begin() + l3, in.begin() + l3 + len);
        Bytes carried(out.begin() + ETH_HLEN + outer.hdr_len, out.end());
        EXPECT_EQ(carried, datagram) << hexdiff(datagram, carried);
        EXPECT_TRUE(std::equal(in.begin(), in.begin() + 12, out.begin())); // MAC addresses
    }

    HandoffMode mode_{kModeTc};
    DatapathFixture *fx_ = nullptr;
    uint16_t self_ = 0;
};

// A TCP ACK with 64 bytes of payload from the client 203.0.113.7 (default: to the web VIP).
inline Packet tcp4(uint16_t sport, const std::string &dst = "198.51.100.10", uint16_t dport = 443)
{
    return Packet().eth().ipv4("203.0.113.7", dst).tcp(sport, dport).ack().payload(64);
}

} // namespace xi::test::steering
