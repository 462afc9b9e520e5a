// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The metadata guard (bpf/lib/guard.h, issue #12): mesh ingress marks what it passes; on every
// other interface a marked packet bound for a metadata address is dropped, an unmarked one (a
// local process, a pod) is not. Here the hooks are run one at a time with the mark test_run
// gives in and takes out; that the kernel keeps the mark through its own decapsulation is
// shown end to end (e2e.tunnel_metadata: VXLAN on the host, GRE and IPIP in the VMs).
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include "counters.h"
#include "datapath_fixture.h"
#include "mesh_hook_test.h"
#include "packet.h"
#include "tunnel_packets.h"
#include "xi_reasons.h"

namespace xi::test
{
namespace
{

constexpr uint32_t kGuardIn = XI_HOOK_TC_GUARD_INGRESS;
constexpr uint32_t kGuardOut = XI_HOOK_TC_GUARD_EGRESS;
constexpr uint32_t kMark = 0x00100000;  // the default
constexpr uint32_t kOtherMark = 0x4000; // kube-proxy's masquerade bit: not ours

class Guard : public OverlayFleetTest
{
protected:
    // Through one guard hook (L2 entry: test_run builds an Ethernet frame) with skb->mark set;
    // the counters it moved, and its verdict in *rv.
    Counters guard(uint32_t hook, const Bytes &pkt, uint32_t mark, int *rv)
    {
        auto before = fx_->counters();
        auto r = fx_->run_tc(hook == kGuardIn ? Prog::GuardIngressL2 : Prog::GuardEgressL2, pkt, 0,
                             mark);
        *rv = r.retval;
        EXPECT_EQ(r.mark, mark) << "the guard changes no mark";
        return fx_->counters() - before;
    }
    // Dropped with exactly one counter, `reason`, at the hook.
    void expect_drop(uint32_t hook, const Bytes &pkt, uint32_t mark, uint32_t reason)
    {
        int rv = 0;
        auto d = guard(hook, pkt, mark, &rv);
        EXPECT_EQ(rv, TC_ACT_SHOT);
        EXPECT_EQ(d, (Counters{{{hook, reason}, 1}})) << describe(d);
    }
    // Passed on, counting nothing (or exactly `reason` when it is not 0).
    void expect_pass(uint32_t hook, const Bytes &pkt, uint32_t mark, uint32_t reason = 0)
    {
        int rv = 0;
        auto d = guard(hook, pkt, mark, &rv);
        EXPECT_EQ(rv, TC_ACT_UNSPEC);
        if (reason)
            EXPECT_EQ(d, (Counters{{{hook, reason}, 1}})) << describe(d);
        else
            EXPECT_TRUE(d.empty()) << describe(d);
    }
    // Mesh ingress: the verdict's action and the mark the packet leaves with.
    RunResult mesh_in(const Bytes &pkt, uint32_t mark = 0)
    {
        return fx_->run_tc(Prog::MeshIngress, pkt, 0, mark);
    }
};

Bytes udp_to(const std::string &dst)
{
    Packet p = Packet().eth();
    if (dst.find(':') != std::string::npos)
        p.ipv6("fd00:201::2", dst);
    else
        p.ipv4("10.201.0.2", dst);
    return p.udp(40000, 80).payload(8).build();
}

TEST_F(Guard, MeshIngressMarksWhatItPassesAndKeepsOtherMarks)
{
    auto allowed = tcp("10.201.0.2", "10.201.0.1", 40000, 22).syn().build(); // apps-overlay
    auto r = mesh_in(allowed);
    EXPECT_EQ(r.retval, TC_ACT_UNSPEC);
    EXPECT_EQ(r.mark, kMark);
    r = mesh_in(allowed, kOtherMark);
    EXPECT_EQ(r.mark, kMark | kOtherMark);
    auto v6 = tcp("fd00:201::2", "fd00:201::1", 40000, 22).syn().build();
    EXPECT_EQ(mesh_in(v6).mark, kMark);
    // ARP passes (pass_not_ip) and is marked like the rest: nothing that came in is unmarked.
    EXPECT_EQ(mesh_in(Packet().eth().ethertype(0x0806).payload(28).build()).mark, kMark);
    // Dropped: no mark to speak of (the packet is gone); the verdict is the drop.
    auto denied = tcp("198.51.100.7", "10.201.0.1", 40000, 22).syn().build(); // world
    EXPECT_EQ(mesh_in(denied).retval, TC_ACT_SHOT);
    // Mesh egress marks nothing: what the node sends is its own.
    EXPECT_EQ(fx_->run_tc(Prog::MeshEgress, allowed).mark, 0u);
}

TEST_F(Guard, ConfiguredMarkIsTheOneSetAndChecked)
{
    fx_->publish(tunnel_config("metadata_guard: {mark: 0x4}\n"), "app-1");
    auto allowed = tcp("10.201.0.2", "10.201.0.1", 40000, 22).syn().build();
    EXPECT_EQ(mesh_in(allowed).mark, 0x4u);
    expect_drop(kGuardIn, udp_to("169.254.169.254"), 0x4, XI_R_DROP_MESH_TO_METADATA);
    expect_pass(kGuardIn, udp_to("169.254.169.254"), kMark); // the default bit is not ours now
}

TEST_F(Guard, MarkedAndBoundForMetadataIsDroppedOnBothHooksInEveryForm)
{
    for (uint32_t hook : {kGuardIn, kGuardOut}) {
        SCOPED_TRACE(hook == kGuardIn ? "guard ingress" : "guard egress");
        for (const char *dst :
             {"169.254.169.254", "169.254.170.2", "169.254.170.23", "168.63.129.16",
              "100.100.100.200", "fd00:ec2::254", "fd00:ec2::23", "fd20:ce::254",
              "::ffff:169.254.169.254", "::169.254.169.254", "64:ff9b::a9fe:a9fe"}) {
            SCOPED_TRACE(dst);
            expect_drop(hook, udp_to(dst), kMark, XI_R_DROP_MESH_TO_METADATA);
            expect_drop(hook, udp_to(dst), kMark | kOtherMark, XI_R_DROP_MESH_TO_METADATA);
        }
        // TCP too, and a fragment (it carries the destination like any other).
        expect_drop(hook, tcp("10.201.0.2", "169.254.169.254", 40000, 80).syn().build(), kMark,
                    XI_R_DROP_MESH_TO_METADATA);
        expect_drop(
            hook,
            Packet().eth().ipv4("10.201.0.2", "169.254.169.254").frag_offset(8).payload(64).build(),
            kMark, XI_R_DROP_MESH_TO_METADATA);
    }
}

TEST_F(Guard, UnmarkedOrNotMetadataBoundPassesUncounted)
{
    for (uint32_t hook : {kGuardIn, kGuardOut}) {
        SCOPED_TRACE(hook == kGuardIn ? "guard ingress" : "guard egress");
        // A local process or a pod: never marked, keeps its metadata service.
        expect_pass(hook, udp_to("169.254.169.254"), 0);
        expect_pass(hook, udp_to("fd00:ec2::254"), 0);
        // Someone else's mark bits only.
        expect_pass(hook, udp_to("169.254.169.254"), kOtherMark);
        // Came in through the mesh, going anywhere else.
        expect_pass(hook, udp_to("10.201.0.9"), kMark);
        expect_pass(hook, udp_to("2001:db8::1"), kMark);
        expect_pass(hook, udp_to("169.254.1.1"), kMark); // link-local, not a metadata service
        expect_pass(hook, Packet().eth().ethertype(0x0806).payload(28).build(), kMark);
    }
}

TEST_F(Guard, CountModeCountsOffAndNoBlockingPass)
{
    fx_->publish(tunnel_config("metadata_guard: {mode: count}\n"), "app-1");
    auto allowed = tcp("10.201.0.2", "10.201.0.1", 40000, 22).syn().build();
    EXPECT_EQ(mesh_in(allowed).mark, kMark) << "count mode marks as enforce does";
    expect_pass(kGuardIn, udp_to("169.254.169.254"), kMark, XI_R_GUARD_METADATA_SEEN);
    expect_pass(kGuardOut, udp_to("fd00:ec2::254"), kMark, XI_R_GUARD_METADATA_SEEN);

    fx_->publish(tunnel_config("metadata_guard: {mode: off}\n"), "app-1");
    EXPECT_EQ(mesh_in(allowed).mark, 0u) << "off: nothing marked";
    expect_pass(kGuardIn, udp_to("169.254.169.254"), kMark);

    fx_->publish(tunnel_config("metadata_block: false\n"), "app-1");
    expect_pass(kGuardOut, udp_to("169.254.169.254"), kMark);
}

TEST_F(Guard, MarkedPacketsItCannotParseFollowTheUnparsedRule)
{
    auto deep = Packet()
                    .eth()
                    .vlan(1)
                    .vlan(2)
                    .vlan(3)
                    .ipv4("10.201.0.2", "169.254.169.254")
                    .udp(40000, 80)
                    .build();
    expect_drop(kGuardIn, deep, kMark, XI_R_DROP_VLAN_DEPTH);
    expect_pass(kGuardIn, deep, 0); // unmarked: none of the guard's business
    auto cut = truncated(udp_to("169.254.169.254"), 14 + 20 + 4); // half a UDP header
    expect_drop(kGuardOut, cut, kMark, XI_R_DROP_TRUNCATED);

    fx_->publish(tunnel_config("unparsed: pass\n"), "app-1");
    expect_pass(kGuardIn, deep, kMark, XI_R_PASS_VLAN_DEPTH);
}

} // namespace
} // namespace xi::test
