// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The EncapChain fixture (encap_chain_test.cpp, encap_chain_edge_cases_test.cpp,
// encap_chain_gro_test.cpp; instantiated once, in encap_chain_test.cpp, for every hand-off mode):
// a ChainEnv per hand-off mode, the owners of flows, the frames that must leave into the mesh, and
// the checks of an outcome. Outside an anonymous namespace so that its TEST_Ps in several files
// share one fixture type, as GoogleTest requires.
#pragma once

#include <algorithm>
#include <arpa/inet.h>
#include <functional>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <stdexcept>
#include <string>

#include "counters.h"
#include "encap_chain_env.h"
#include "handoff_params.h"
#include "owner.h"
#include "packet.h"
#include "packet_check.h"
#include "privileges.h"

namespace xi::test::chain
{

// The checker's problems on one line, for failure messages.
inline std::string problems(const ParsedPacket &p)
{
    std::string s;
    for (const auto &x : p.problems)
        s += x + "; ";
    return s;
}

// Packets the XDP program has seen, whatever it counted them as.
inline uint64_t xdp_seen(const Counters &d)
{
    uint64_t n = 0;
    for (const auto &[k, v] : d)
        if (k.first == kXdp)
            n += v;
    return n;
}

class EncapChain : public ::testing::TestWithParam<HandoffMode>
{
protected:
    void SetUp() override
    {
        XI_REQUIRE_PRIVILEGES();
        mode_ = GetParam();
        env_ = &env_for(mode_);
        use_.emplace(*env_);
        self_ = slot_of(kNode);
    }

    // One environment per hand-off mode for the whole process (ChainEnv says why); gone at exit.
    static ChainEnv &env_for(const HandoffMode &mode)
    {
        static std::map<std::string, std::unique_ptr<ChainEnv>> envs;
        auto &e = envs[mode.name];
        if (!e)
            e = std::make_unique<ChainEnv>(mode);
        return *e;
    }

    // The counters of a packet decided as `reason` in this mode, plus what followed.
    Counters decided(uint32_t reason, bool forwarded, Counters then = {}, uint64_t xdp_n = 1)
    {
        Counters c = steer_counters(mode_, reason, forwarded, xdp_n);
        for (const auto &[k, v] : then)
            c[k] += v;
        return c;
    }
    void TearDown() override { use_.reset(); }

    uint16_t slot_of(const std::string &name) const
    {
        const auto &names = env_->gen().node_names;
        for (size_t i = 0; i < names.size(); i++)
            if (names[i] == name)
                return static_cast<uint16_t>(i);
        throw std::runtime_error("no node " + name);
    }
    uint16_t owner_of(const std::string &c, const std::string &v, uint16_t sp, uint16_t dp,
                      uint8_t proto) const
    {
        return flow_owner(env_->gen(), {*IpAddr::parse(c), *IpAddr::parse(v), sp, dp, proto});
    }
    // A client port whose flow to vip:dport is owned by this edge (by_self) or by a sibling.
    uint16_t port_owned(const std::string &client, const std::string &vip, uint16_t dport,
                        uint8_t proto, bool by_self) const
    {
        for (uint16_t p = 1024; p < 65000; p++)
            if ((owner_of(client, vip, p, dport, proto) == self_) == by_self)
                return p;
        throw std::runtime_error("no such port");
    }
    std::string mesh4(uint16_t slot) const
    {
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &env_->gen().nodes.at(slot).mesh4, buf, sizeof(buf));
        return buf;
    }
    std::string mesh6(uint16_t slot) const
    {
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, env_->gen().nodes.at(slot).mesh6.w, buf, sizeof(buf));
        return buf;
    }

    // The frame as it must leave into the mesh: the public frame's Ethernet header unchanged
    // (bpf_redirect drops it on an L3 device like wg0; on this L2 stand-in it stays, still
    // addressed to pub0), the outer header from this edge to the owner, the client's packet.
    Packet outer4(uint16_t owner, uint8_t ttl, uint8_t tos) const
    {
        return Packet()
            .eth(kClientMac, kPubMac)
            .ipv4(mesh4(self_), mesh4(owner))
            .ttl(ttl)
            .tos(tos)
            .df();
    }
    Packet outer6(uint16_t owner, uint8_t hops, uint8_t tclass) const
    {
        return Packet()
            .eth(kClientMac, kPubMac)
            .ipv6(mesh6(self_), mesh6(owner))
            .hop_limit(hops)
            .traffic_class(tclass);
    }

    // Exactly one frame on the mesh, byte for byte `want`, valid by the independent checker;
    // counted as decided `reason` (where this mode decides), TC redirect, mesh egress steer_out,
    // and in the owner's per-node counters with the encapsulated IP packet's length.
    void expect_forwarded(const Outcome &o, const Bytes &want, uint16_t owner,
                          uint32_t reason = XI_R_FORWARD)
    {
        EXPECT_EQ(o.delta, decided(reason, true,
                                   {{{kPubIn, XI_R_REDIRECT}, 1}, {{kMeshOut, XI_R_STEER_OUT}, 1}}))
            << xi::describe(o.delta);
        EXPECT_EQ(o.fwd, (NodeFwdMap{{owner, {1, want.size() - ETH_HLEN}}}));
        ASSERT_EQ(o.mesh.size(), 1u) << describe(o.mesh);
        const Bytes &out = o.mesh[0];
        EXPECT_EQ(out, want) << hexdiff(want, out);
        auto p = parse(out);
        EXPECT_TRUE(p.ok()) << problems(p);
    }

    // What forward_flow saw: the client's frame, and the one frame on the mesh, parsed.
    struct Forwarded {
        Bytes sent;
        ParsedPacket mesh;
    };

    // A flow's packet as the client sends it, flow(Ethernet header), and as it must leave into
    // the mesh, flow(outer) (expect_forwarded): an outer header from this edge to the owner,
    // then the client's datagram byte for byte. The checks of each family's outer header are
    // the caller's, on f->mesh.ips[0]. Call it in ASSERT_NO_FATAL_FAILURE.
    void forward_flow(const std::function<Packet(Packet)> &flow, const Packet &outer,
                      uint16_t owner, Forwarded *f)
    {
        f->sent = flow(Packet().eth(kClientMac, kPubMac)).build();
        auto want = flow(outer).build();
        auto o = env_->inject(f->sent);
        expect_forwarded(o, want, owner);
        ASSERT_EQ(o.mesh.size(), 1u);
        f->mesh = parse(o.mesh[0]);
        ASSERT_EQ(f->mesh.ips.size(), 2u) << summary(f->mesh);
        const IpInfo &out = f->mesh.ips[0];
        const bool v4 = out.version == 4;
        EXPECT_EQ(out.src, v4 ? mesh4(self_) : mesh6(self_));
        EXPECT_EQ(out.dst, v4 ? mesh4(owner) : mesh6(owner));
        // The inner packet, byte-identical to what the client sent.
        const size_t outer_len = v4 ? 20 : 40;
        EXPECT_TRUE(std::equal(f->sent.begin() + ETH_HLEN, f->sent.end(),
                               o.mesh[0].begin() + ETH_HLEN + outer_len, o.mesh[0].end()));
    }

    // Nothing on the mesh, exactly these counters, no per-node forwarding.
    void expect_not_forwarded(const Outcome &o, const Counters &want)
    {
        EXPECT_EQ(o.delta, want) << xi::describe(o.delta);
        EXPECT_TRUE(o.fwd.empty());
        EXPECT_TRUE(o.mesh.empty()) << describe(o.mesh);
    }

    HandoffMode mode_{kModeTc};
    ChainEnv *env_ = nullptr;
    std::optional<ChainEnv::Use> use_;
    uint16_t self_ = 0;
};

} // namespace xi::test::chain
