// Mesh policy on crafted packets (BPF_PROG_TEST_RUN through the L2 entries; the L3 entries
// share every line after the link layer and run end to end on a real wg0).
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <thread>

#include "counters.h"
#include "datapath_fixture.h"
#include "mesh_hook_test.h"
#include "packet.h"
#include "packet_check.h"
#include "policy_config.h"
#include "privileges.h"
#include "xi_reasons.h"

namespace xi::test
{
namespace
{

class Policy : public MeshHookTest
{
protected:
    static void SetUpTestSuite() { load(kPolicyConfig, "app-1"); }

    std::pair<uint64_t, uint64_t> rule_counter(const std::string &name)
    {
        const auto &names = fx_->gen().rule_names;
        for (uint32_t s = 0; s < names.size(); s++)
            if (names[s] == name) {
                auto v = percpu_sum_n(fx_->map_fd("xi_rule_stats"), s, 2);
                return {v[0], v[1]};
            }
        ADD_FAILURE() << "no rule " << name;
        return {};
    }
};

const std::string kEdge = "10.200.0.1", kApp = "10.201.0.1", kApp2 = "10.201.0.2",
                  kDb = "10.202.0.1", kMon = "10.203.0.5", kAdmin = "10.201.0.200",
                  kWorld = "198.51.100.7";

TEST_F(Policy, RuleShapesAndDefaults)
{
    EXPECT_EQ(in(tcp(kEdge, kApp, 40001, 8080).syn().build()), XI_R_ALLOW_RULE);
    EXPECT_EQ(in(tcp(kEdge, kApp, 40002, 9000).syn().build()), XI_R_ALLOW_RULE);
    EXPECT_EQ(in(tcp(kEdge, kApp, 40003, 9100).syn().build()), XI_R_ALLOW_RULE);
    EXPECT_EQ(in(tcp(kEdge, kApp, 40004, 8999).syn().build()), XI_R_DROP_DEFAULT);
    EXPECT_EQ(in(tcp(kEdge, kApp, 40005, 9101).syn().build()), XI_R_DROP_DEFAULT);
    // `any` destination role, UDP, ICMP any->any.
    EXPECT_EQ(in(tcp(kMon, kDb, 40006, 9105).syn().build()), XI_R_ALLOW_RULE);
    auto dns = Packet().eth().ipv4(kEdge, kDb).udp(40007, 53).payload(20).build();
    EXPECT_EQ(in(dns), XI_R_ALLOW_RULE);
    auto ping = Packet().eth().ipv4(kEdge, kApp).icmp4_echo_request(7, 1).build();
    EXPECT_EQ(in(ping), XI_R_ALLOW_RULE);
    // Protocol mismatch: the TCP rule does not cover UDP 8080.
    auto udp8080 = Packet().eth().ipv4(kEdge, kApp).udp(40008, 8080).build();
    EXPECT_EQ(in(udp8080), XI_R_DROP_DEFAULT);
    // Egress default is allow (the receiving side's ingress rules decide).
    EXPECT_EQ(out(tcp(kEdge, kMon, 40009, 7).syn().build()), XI_R_ALLOW_DEFAULT);
}

TEST_F(Policy, PrecedenceNarrowerRuleThenDenyAtEqualSpecificity)
{
    // 9050 sits inside the allowed 9000-9100 range; the one-port deny is more specific.
    EXPECT_EQ(in(tcp(kEdge, kApp, 40101, 9050).syn().build()), XI_R_DROP_RULE);
    EXPECT_EQ(in(tcp(kEdge, kApp, 40102, 9049).syn().build()), XI_R_ALLOW_RULE);
    // allow 100-110 and deny 105-115 cover 11 ports each: deny wins where they overlap.
    EXPECT_EQ(in(tcp(kEdge, kMon, 40103, 104).syn().build()), XI_R_ALLOW_RULE);
    EXPECT_EQ(in(tcp(kEdge, kMon, 40104, 105).syn().build()), XI_R_DROP_RULE);
    EXPECT_EQ(in(tcp(kEdge, kMon, 40105, 110).syn().build()), XI_R_DROP_RULE);
    EXPECT_EQ(in(tcp(kEdge, kMon, 40106, 115).syn().build()), XI_R_DROP_RULE);
    EXPECT_EQ(in(tcp(kEdge, kMon, 40107, 116).syn().build()), XI_R_DROP_DEFAULT);
}

TEST_F(Policy, LongestPrefixDecidesTheRole)
{
    // 10.201.0.200 is in apps (/24) and admin (/25): admin, which may reach the database.
    EXPECT_EQ(in(tcp(kAdmin, kDb, 40201, 22).syn().build()), XI_R_ALLOW_RULE);
    // 10.201.0.5 is only in apps: reply-only, it cannot open anything.
    EXPECT_EQ(in(tcp("10.201.0.5", kDb, 40202, 22).syn().build()), XI_R_DROP_REPLY_ONLY);
    // Outside every identity: world, which no rule allows in.
    EXPECT_EQ(in(tcp(kWorld, kApp, 40203, 8080).syn().build()), XI_R_DROP_DEFAULT);
}

TEST_F(Policy, RuleCountersCountPacketsAndBytes)
{
    auto [p0, b0] = rule_counter("admin-db");
    // From an app (reply-only) the packet never reaches a rule: nothing counted.
    EXPECT_EQ(out(tcp(kApp, kDb, 40301, 5432).syn().build()), XI_R_DROP_REPLY_ONLY);
    EXPECT_EQ(rule_counter("admin-db").first, p0);
    // From admin, the rule decides: one packet, its bytes.
    auto syn = tcp(kAdmin, kDb, 40302, 5432).syn().build();
    EXPECT_EQ(in(syn), XI_R_ALLOW_RULE);
    EXPECT_EQ(in(tcp(kAdmin, kDb, 40303, 5432).syn().build()), XI_R_ALLOW_RULE);
    auto [p1, b1] = rule_counter("admin-db");
    EXPECT_EQ(p1 - p0, 2u);
    EXPECT_EQ(b1 - b0, 2 * syn.size());
}

TEST_F(Policy, MetadataServicesAreDeniedInEveryForm)
{
    struct Case {
        std::string src, dst;
    };
    std::vector<Case> cases = {
        {kApp, "169.254.169.254"},
        {kApp, "169.254.170.2"},
        {kApp, "168.63.129.16"},
        {kApp, "100.100.100.200"},
        {"fd00:201::1", "fd00:ec2::254"},
        {"fd00:201::1", "::ffff:169.254.169.254"}, // IPv4-mapped, in an IPv6 header
        {kApp, "192.0.2.53"},                      // metadata_extra
        {"169.254.169.254", kApp},                 // and from them
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.src + " -> " + c.dst);
        auto pkt = tcp(c.src, c.dst, 40401, 80).syn().build();
        EXPECT_EQ(in(pkt), XI_R_DROP_METADATA);
        EXPECT_EQ(out(pkt), XI_R_DROP_METADATA);
    }
    // Not even an established-looking connection or an allowing rule gets through: the
    // metadata check is first. (ping any->any allows ICMP.)
    auto ping = Packet().eth().ipv4(kEdge, "169.254.169.254").icmp4_echo_request(1, 1).build();
    EXPECT_EQ(out(ping), XI_R_DROP_METADATA);
}

TEST_F(Policy, ReplyOnlyRoleAnswersButNeverOpens)
{
    // edge -> app SYN allowed by a rule: tracked. The app's answers pass, nothing else does.
    EXPECT_EQ(in(tcp(kEdge, kApp, 40501, 8080).syn().build()), XI_R_ALLOW_RULE);
    EXPECT_EQ(out(tcp(kApp, kEdge, 8080, 40501).syn().ack(1).build()), XI_R_ALLOW_TRACKED);
    EXPECT_EQ(in(tcp(kEdge, kApp, 40501, 8080).ack(1).build()), XI_R_ALLOW_TRACKED);
    EXPECT_EQ(out(tcp(kApp, kEdge, 8080, 40501).ack(1).payload(100).build()), XI_R_ALLOW_TRACKED);
    EXPECT_EQ(in(tcp(kEdge, kApp, 40501, 8080).fin().ack(1).build()), XI_R_ALLOW_TRACKED);

    // The app opening a connection: refused at its own egress and at the peer's ingress.
    EXPECT_EQ(out(tcp(kApp, kApp2, 40502, 8080).syn().build()), XI_R_DROP_REPLY_ONLY);
    EXPECT_EQ(in(tcp(kApp2, kApp, 40503, 8080).syn().build()), XI_R_DROP_REPLY_ONLY);
    // Forged segments from the app for connections nobody opened.
    EXPECT_EQ(out(tcp(kApp, kEdge, 8080, 40504).ack(5).build()), XI_R_DROP_REPLY_ONLY);
    EXPECT_EQ(out(tcp(kApp, kEdge, 8080, 40505).rst().build()), XI_R_DROP_REPLY_ONLY);
    EXPECT_EQ(out(tcp(kApp, kEdge, 8080, 40506).syn().ack(1).build()), XI_R_DROP_REPLY_ONLY);
}

TEST_F(Policy, ResponderCannotSpeakBeforeAnsweringOrAfterReset)
{
    EXPECT_EQ(in(tcp(kEdge, kApp, 40601, 8080).syn().build()), XI_R_ALLOW_RULE);
    // Data from the app before its SYN-ACK: not an answer.
    EXPECT_EQ(out(tcp(kApp, kEdge, 8080, 40601).ack(1).payload(10).build()), XI_R_DROP_REPLY_ONLY);
    EXPECT_EQ(out(tcp(kApp, kEdge, 8080, 40601).syn().ack(1).build()), XI_R_ALLOW_TRACKED);
    // A reset closes the connection; what follows from the app is refused.
    EXPECT_EQ(out(tcp(kApp, kEdge, 8080, 40601).rst().build()), XI_R_ALLOW_TRACKED);
    EXPECT_EQ(out(tcp(kApp, kEdge, 8080, 40601).ack(1).payload(10).build()), XI_R_DROP_REPLY_ONLY);
    // The edge reusing the tuple opens a new connection through the rules again.
    EXPECT_EQ(in(tcp(kEdge, kApp, 40601, 8080).syn().build()), XI_R_ALLOW_RULE);
    EXPECT_EQ(out(tcp(kApp, kEdge, 8080, 40601).syn().ack(1).build()), XI_R_ALLOW_TRACKED);
}

TEST_F(Policy, UdpAndEchoAreTrackedByIdleTimeout)
{
    auto q = Packet().eth().ipv4(kEdge, kDb).udp(40701, 53).payload(30).build();
    auto a = Packet().eth().ipv4(kDb, kEdge).udp(53, 40701).payload(60).build();
    EXPECT_EQ(in(q), XI_R_ALLOW_RULE);
    EXPECT_EQ(out(a), XI_R_ALLOW_TRACKED);
    // Another port from the database: not an answer.
    EXPECT_EQ(out(Packet().eth().ipv4(kDb, kEdge).udp(53, 40702).build()), XI_R_DROP_REPLY_ONLY);
    // Echo: the request opens, the reply answers; an app's own request is refused.
    EXPECT_EQ(in(Packet().eth().ipv4(kEdge, kApp).icmp4_echo_request(77, 1).build()),
              XI_R_ALLOW_RULE);
    EXPECT_EQ(out(Packet().eth().ipv4(kApp, kEdge).icmp4_echo_reply(77, 1).build()),
              XI_R_ALLOW_TRACKED);
    EXPECT_EQ(out(Packet().eth().ipv4(kApp, kEdge).icmp4_echo_request(78, 1).build()),
              XI_R_DROP_REPLY_ONLY);
    // conntrack.udp is 1 s in this config: after it, the answer is no longer one.
    std::this_thread::sleep_for(std::chrono::milliseconds(1300));
    EXPECT_EQ(out(a), XI_R_DROP_REPLY_ONLY);
}

TEST_F(Policy, IcmpErrorsOfTrackedConnectionsAlwaysPass)
{
    EXPECT_EQ(in(tcp(kEdge, kApp, 40801, 8080).syn().build()), XI_R_ALLOW_RULE);
    // The app (reply-only) reports that the edge's segment was too big: related, passes.
    auto quoted = Packet().ipv4(kEdge, kApp).tcp(40801, 8080).ack(1);
    auto err = Packet().eth().ipv4(kApp, kEdge).icmp4_frag_needed(1300).inner(quoted, 28);
    EXPECT_EQ(out(err.build()), XI_R_ALLOW_ICMP_RELATED);
    // The same error about a connection that does not exist: the app may not send it.
    auto other = Packet().ipv4(kEdge, kApp).tcp(40899, 8080).ack(1);
    auto unrelated = Packet().eth().ipv4(kApp, kEdge).icmp4_frag_needed(1300).inner(other, 28);
    EXPECT_EQ(out(unrelated.build()), XI_R_DROP_REPLY_ONLY);
    // IPv6: Packet Too Big for a tracked connection.
    EXPECT_EQ(in(tcp("fd00:200::1", "fd00:201::1", 40802, 8080).syn().build()), XI_R_ALLOW_RULE);
    auto q6 = Packet().ipv6("fd00:200::1", "fd00:201::1").tcp(40802, 8080).ack(1);
    auto ptb = Packet().eth().ipv6("fd00:201::1", "fd00:200::1").icmp6_packet_too_big(1280);
    EXPECT_EQ(out(ptb.inner(q6, 48).build()), XI_R_ALLOW_ICMP_RELATED);
}

TEST_F(Policy, IcmpErrorsSentElsewhereRelateToNothing)
{
    // Found by the nftables differential test: an error about a tracked connection is related
    // only on its way back to the quoted packet's sender, else a reply-only role could send
    // errors quoting a tracked tuple to anyone.
    EXPECT_EQ(in(tcp(kEdge, kApp, 40851, 8080).syn().build()), XI_R_ALLOW_RULE);
    auto quoted = Packet().ipv4(kEdge, kApp).tcp(40851, 8080).ack(1);
    auto to_db = Packet().eth().ipv4(kApp, kDb).icmp4_frag_needed(1300).inner(quoted, 28);
    EXPECT_EQ(out(to_db.build()), XI_R_DROP_REPLY_ONLY);
    auto to_world = Packet().eth().ipv4(kApp, kWorld).icmp4_unreach(3).inner(quoted, 28);
    EXPECT_EQ(out(to_world.build()), XI_R_DROP_REPLY_ONLY);
    auto back = Packet().eth().ipv4(kApp, kEdge).icmp4_frag_needed(1300).inner(quoted, 28);
    EXPECT_EQ(out(back.build()), XI_R_ALLOW_ICMP_RELATED);
}

TEST_F(Policy, IcmpRulesCoverIcmpv6)
{
    // Found by the nftables differential test: `protocol: icmp` (the ping rule) is ICMP of the
    // packet's family, so IPv6 ping is allowed and its reply tracked like IPv4's.
    auto req = Packet().eth().ipv6("fd00:200::1", "fd00:201::1").icmp6_echo_request(91, 1);
    EXPECT_EQ(in(req.build()), XI_R_ALLOW_RULE);
    auto rep = Packet().eth().ipv6("fd00:201::1", "fd00:200::1").icmp6_echo_reply(91, 1);
    EXPECT_EQ(out(rep.build()), XI_R_ALLOW_TRACKED);
    EXPECT_GE(rule_counter("ping").first, 1u);
}

TEST_F(Policy, FragmentsCannotHidePorts)
{
    // Allowed first fragment: the later fragments of the datagram follow it.
    auto first =
        Packet().eth().ipv4(kEdge, kApp).ip_id(1001).mf().tcp(40901, 8080).syn().payload(64);
    auto later = Packet()
                     .eth()
                     .ipv4(kEdge, kApp)
                     .ip_id(1001)
                     .frag_offset(11)
                     .ip_proto(IPPROTO_TCP)
                     .payload(64);
    EXPECT_EQ(in(first.build()), XI_R_ALLOW_RULE);
    EXPECT_EQ(in(later.build()), XI_R_ALLOW_RULE);
    // Denied first fragment: the later ones are denied with it.
    auto bad = Packet().eth().ipv4(kEdge, kApp).ip_id(1002).mf().tcp(40902, 7777).syn().payload(64);
    auto bad_later = Packet()
                         .eth()
                         .ipv4(kEdge, kApp)
                         .ip_id(1002)
                         .frag_offset(11)
                         .ip_proto(IPPROTO_TCP)
                         .payload(64);
    EXPECT_EQ(in(bad.build()), XI_R_DROP_DEFAULT);
    EXPECT_EQ(in(bad_later.build()), XI_R_DROP_DEFAULT);
    // A later fragment whose first never came (or came out of order): dropped.
    auto orphan = Packet()
                      .eth()
                      .ipv4(kEdge, kApp)
                      .ip_id(1003)
                      .frag_offset(11)
                      .ip_proto(IPPROTO_TCP)
                      .payload(64);
    EXPECT_EQ(in(orphan.build()), XI_R_DROP_FRAG_UNTRACKED);
    // First fragment too short to show the ports it would be judged by.
    auto tiny = Packet().eth().ipv4(kEdge, kApp).mf().ip_proto(IPPROTO_TCP).payload(8);
    EXPECT_EQ(in(tiny.build()), XI_R_DROP_FRAG_TINY);
    // IPv6: first fragment behind extension headers, then a later one.
    auto f6 = Packet().eth().ipv6("fd00:200::1", "fd00:201::1").hop_by_hop().frag6(0, true, 55);
    EXPECT_EQ(in(f6.tcp(40903, 7777).syn().payload(64).build()), XI_R_DROP_DEFAULT);
    auto l6 = Packet().eth().ipv6("fd00:200::1", "fd00:201::1").frag6(10, false, 55);
    EXPECT_EQ(in(l6.ip_proto(IPPROTO_TCP).payload(64).build()), XI_R_DROP_DEFAULT);
}

TEST_F(Policy, ExtensionHeadersCannotHidePorts)
{
    auto hidden = Packet().eth().ipv6("fd00:200::1", "fd00:201::1").hop_by_hop().dest_opts();
    EXPECT_EQ(in(hidden.routing(4, 0, {"fd00:201::1"}).tcp(41001, 7777).syn().build()),
              XI_R_DROP_DEFAULT);
    auto allowed = Packet().eth().ipv6("fd00:200::1", "fd00:201::1").hop_by_hop().dest_opts();
    EXPECT_EQ(in(allowed.tcp(41002, 8080).syn().build()), XI_R_ALLOW_RULE);
    // Longer than the walk: never passed on as "unknown".
    auto deep = Packet().eth().ipv6("fd00:200::1", "fd00:201::1");
    for (int i = 0; i < 7; i++)
        deep.dest_opts();
    EXPECT_EQ(in(deep.tcp(41003, 8080).syn().build()), XI_R_DROP_EXTHDR);
}

TEST_F(Policy, NeighbourDiscoveryOnTheLinkIsAllowed)
{
    auto ns = Packet().eth().ipv6("fe80::1", "ff02::1:ff00:1").ttl(255).icmp6(135, 0).payload(20);
    EXPECT_EQ(in(ns.build()), XI_R_ALLOW_NDP);
    // A routed "NDP" packet (hop limit < 255) is just ICMPv6: the rules decide, here the ping
    // rule (icmp covers ICMPv6), not the link-control exception.
    auto routed =
        Packet().eth().ipv6("2001:db8::1", "fd00:201::1").ttl(64).icmp6(135, 0).payload(20);
    EXPECT_EQ(in(routed.build()), XI_R_ALLOW_RULE);
}

TEST_F(Policy, MssIsClampedOnTheMeshNeverRaised)
{
    RunResult r;
    // mesh MTU 1420: IPv4 1380, IPv6 1360.
    EXPECT_EQ(run(kIn, tcp(kEdge, kApp, 41101, 8080).syn().mss(1460).wscale(7).build(), &r),
              XI_R_ALLOW_RULE);
    auto p = parse(r.out);
    EXPECT_TRUE(p.ok()) << p.problems[0];
    EXPECT_EQ(*p.tcp->mss, 1380);
    EXPECT_EQ(run(kOut, tcp(kApp, kEdge, 8080, 41101).syn().ack(1).nop().mss(8960).build(), &r),
              XI_R_ALLOW_TRACKED);
    p = parse(r.out);
    EXPECT_TRUE(p.ok()) << p.problems[0];
    EXPECT_EQ(*p.tcp->mss, 1380);
    auto v6 = tcp("fd00:200::1", "fd00:201::1", 41102, 8080).syn().mss(1440).build();
    EXPECT_EQ(run(kIn, v6, &r), XI_R_ALLOW_RULE);
    EXPECT_EQ(*parse(r.out).tcp->mss, 1360);
    for (auto pkt : {tcp(kEdge, kApp, 41103, 8080).syn().mss(1200).build(),
                     tcp(kEdge, kApp, 41104, 8080).syn().build()}) {
        EXPECT_EQ(run(kIn, pkt, &r), XI_R_ALLOW_RULE);
        EXPECT_EQ(r.out, pkt) << hexdiff(pkt, r.out);
    }
}

TEST_F(Policy, TruncatedPacketsAreDropped)
{
    // skb test_run refuses frames whose IP header is incomplete (-EINVAL), so cuts start
    // after it; cuts inside the IP header reach the same parser through the XDP tests.
    auto full = tcp(kEdge, kApp, 41201, 8080).syn().mss(1460);
    auto bytes = full.build();
    for (size_t len = full.layout().l4_off; len < full.layout().l4_off + 20; len++) {
        Bytes cut(bytes.begin(), bytes.begin() + len);
        try {
            EXPECT_EQ(in(cut), XI_R_DROP_TRUNCATED) << "len " << len;
        } catch (const std::exception &e) {
            ADD_FAILURE() << "len " << len << ": " << e.what();
        }
    }
}

TEST_F(Policy, MetadataBlockCanBeTurnedOff)
{
    std::string off = kPolicyConfig + "metadata_block: false\n";
    fx_->publish(off, "app-1");
    // No longer blocked: the ordinary policy decides (egress default allow).
    EXPECT_EQ(out(tcp(kEdge, "169.254.169.254", 41301, 80).syn().build()), XI_R_ALLOW_DEFAULT);
    fx_->publish(kPolicyConfig, "app-1");
    EXPECT_EQ(out(tcp(kEdge, "169.254.169.254", 41302, 80).syn().build()), XI_R_DROP_METADATA);
}

} // namespace
} // namespace xi::test
