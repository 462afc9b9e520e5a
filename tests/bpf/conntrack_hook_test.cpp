// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Connection tracking knows the hook (issue #12, xi_ct_key.a_remote): a connection's packets
// find it only at the hook their sender's packets cross. Only the reverse direction of an
// allowed flow is a reply: the opener's own tuple arriving on the other hook is decided by the
// rules of that hook, and a reply-only role's answers count only where answers arrive.
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include "counters.h"
#include "datapath_fixture.h"
#include "mesh_hook_test.h"
#include "packet.h"
#include "policy_config.h"
#include "privileges.h"
#include "xi_reasons.h"

namespace xi::test
{
namespace
{

const std::string kEdge = "10.200.0.1", kApp2 = "10.201.0.2", kDb = "10.202.0.1",
                  kEdge6 = "fd00:200::1", kApp6 = "fd00:201::2";

class TrackedHooks : public MeshHookTest
{
protected:
    static void SetUpTestSuite() { load(kPolicyConfig, "app-1"); }
};

TEST_F(TrackedHooks, TheOpenersTupleOnTheOtherHookIsNotTracked)
{
    // Opened on egress (default allow), answered on ingress.
    EXPECT_EQ(out(tcp(kEdge, kDb, 41000, 6000).syn().build()), XI_R_ALLOW_DEFAULT);
    EXPECT_EQ(in(tcp(kDb, kEdge, 6000, 41000).syn().ack(1).build()), XI_R_ALLOW_TRACKED);
    // The opener's tuple arriving on ingress: ingress has no rule for it.
    EXPECT_EQ(in(tcp(kEdge, kDb, 41000, 6000).syn().build()), XI_R_DROP_DEFAULT);
    EXPECT_EQ(in(tcp(kEdge, kDb, 41000, 6000).ack(1).build()), XI_R_DROP_DEFAULT);
    // The answer leaving on egress is not an answer there: dbs may only reply.
    EXPECT_EQ(out(tcp(kDb, kEdge, 6000, 41000).ack(1).build()), XI_R_DROP_REPLY_ONLY);
    // while the connection itself goes on where it belongs
    EXPECT_EQ(out(tcp(kEdge, kDb, 41000, 6000).ack(1).build()), XI_R_ALLOW_TRACKED);
    EXPECT_EQ(in(tcp(kDb, kEdge, 6000, 41000).ack(1).build()), XI_R_ALLOW_TRACKED);
}

TEST_F(TrackedHooks, ReplyOnlyRoleAnswersOnlyWhereAnswersArrive)
{
    // edge -> app-2 on 8080 is allowed on ingress: app-2's reply leaves on egress.
    EXPECT_EQ(in(tcp(kEdge, kApp2, 41100, 8080).syn().build()), XI_R_ALLOW_RULE);
    EXPECT_EQ(out(tcp(kApp2, kEdge, 8080, 41100).syn().ack(1).build()), XI_R_ALLOW_TRACKED);
    // the same answer arriving on ingress is app-2 (reply-only) opening something
    EXPECT_EQ(in(tcp(kApp2, kEdge, 8080, 41100).syn().ack(1).build()), XI_R_DROP_REPLY_ONLY);
    // IPv6, UDP: the same
    auto udp = [](const std::string &s, const std::string &d, uint16_t sp, uint16_t dp) {
        return Packet().eth().ipv6(s, d).udp(sp, dp).payload(8).build();
    };
    EXPECT_EQ(out(udp(kEdge6, kApp6, 41200, 7000)), XI_R_ALLOW_DEFAULT);
    EXPECT_EQ(in(udp(kApp6, kEdge6, 7000, 41200)), XI_R_ALLOW_TRACKED);
    EXPECT_EQ(out(udp(kApp6, kEdge6, 7000, 41200)), XI_R_DROP_REPLY_ONLY);
    EXPECT_EQ(in(udp(kEdge6, kApp6, 41200, 7000)), XI_R_DROP_DEFAULT);
}

TEST_F(TrackedHooks, IcmpErrorsRelateOnlyGoingBackToTheSender)
{
    auto syn = tcp(kEdge, kDb, 41300, 6000).syn();
    EXPECT_EQ(out(syn.build()), XI_R_ALLOW_DEFAULT);
    auto quoted = Packet().ipv4(kEdge, kDb).tcp(41300, 6000).syn();
    // from db-1 back to the sender: arrives on ingress
    auto err = Packet().eth().ipv4(kDb, kEdge).icmp4_unreach(3).inner(quoted).build();
    EXPECT_EQ(in(err), XI_R_ALLOW_ICMP_RELATED);
    // the same error leaving on egress goes to a remote sender the entry does not know
    EXPECT_EQ(out(err), XI_R_DROP_REPLY_ONLY);
}

} // namespace
} // namespace xi::test
