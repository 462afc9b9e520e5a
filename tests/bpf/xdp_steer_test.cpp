// XDP on the public interface: every branch and counter, on crafted packets (BPF_PROG_TEST_RUN).
#include <cstring>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include "datapath_fixture.h"
#include "owner.h"
#include "packet.h"
#include "packet_check.h"
#include "privileges.h"
#include "steer_config.h"
#include "xi_reasons.h"

namespace xi::test
{
namespace
{

constexpr uint32_t kXdp = XI_HOOK_XDP_PUBLIC;

class XdpSteer : public ::testing::Test
{
protected:
    void SetUp() override
    {
        XI_REQUIRE_PRIVILEGES();
        fx_ = std::make_unique<DatapathFixture>(kSteerConfig, "edge-a");
        self_ = fx_->node_slot("edge-a");
    }

    // A client source port whose flow to vip:dport is owned by `owner` (or not by self).
    uint16_t port_owned(const std::string &client, const std::string &vip, uint16_t dport,
                        uint8_t proto, bool by_self)
    {
        for (uint16_t p = 1024; p < 65000; p++) {
            FlowTuple t{*IpAddr::parse(client), *IpAddr::parse(vip), p, dport, proto};
            if ((flow_owner(fx_->gen(), t) == self_) == by_self)
                return p;
        }
        ADD_FAILURE() << "no port found";
        return 0;
    }

    uint16_t owner_of(const std::string &c, const std::string &v, uint16_t sp, uint16_t dp,
                      uint8_t proto)
    {
        return flow_owner(fx_->gen(), {*IpAddr::parse(c), *IpAddr::parse(v), sp, dp, proto});
    }

    // Run one packet; expect the verdict, exactly one counter, and an unmodified packet.
    RunResult expect(const Bytes &pkt, int verdict, uint32_t reason)
    {
        auto before = fx_->counters();
        auto r = fx_->run_xdp(pkt);
        auto delta = fx_->counters() - before;
        EXPECT_EQ(r.retval, verdict);
        EXPECT_EQ(delta, (Counters{{{kXdp, reason}, 1}})) << to_string(delta);
        EXPECT_EQ(r.out, pkt) << hexdiff(pkt, r.out);
        return r;
    }

    void expect_marked(const RunResult &r, uint16_t owner, bool v6)
    {
        ASSERT_EQ(r.meta.size(), sizeof(xi_xdp_meta));
        xi_xdp_meta m;
        std::memcpy(&m, r.meta.data(), sizeof(m));
        EXPECT_EQ(m.magic, XI_META_MAGIC);
        EXPECT_EQ(m.owner, owner);
        EXPECT_NE(m.owner, self_);
        EXPECT_EQ(m.flags, v6 ? XI_META_F_IPV6 : 0);
    }

    std::unique_ptr<DatapathFixture> fx_;
    uint16_t self_ = 0;
};

Packet tcp4(uint16_t sport, const std::string &dst = "198.51.100.10", uint16_t dport = 443)
{
    return Packet().eth().ipv4("203.0.113.7", dst).tcp(sport, dport).ack().payload(64);
}

TEST_F(XdpSteer, NonIpPassesUntouched)
{
    auto arp = Packet().eth().ethertype(0x0806).payload(28).build();
    expect(arp, XDP_PASS, XI_R_PASS_NOT_IP);
}

TEST_F(XdpSteer, NonVipTrafficPassesUntouched)
{
    expect(tcp4(40000, "203.0.113.99").build(), XDP_PASS, XI_R_PASS_NOT_VIP);
    expect(tcp4(40000, "198.51.100.10", 8080).build(), XDP_PASS, XI_R_PASS_NOT_VIP);
    // Right address and port, wrong protocol.
    auto udp = Packet().eth().ipv4("203.0.113.7", "198.51.100.10").udp(4000, 443).build();
    expect(udp, XDP_PASS, XI_R_PASS_NOT_VIP);
    auto icmp = Packet().eth().ipv4("203.0.113.7", "198.51.100.10").icmp4_echo_request(1, 1);
    expect(icmp.build(), XDP_PASS, XI_R_PASS_NOT_VIP);
}

TEST_F(XdpSteer, LocallyOwnedFlowPassesWithoutMark)
{
    uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 443, IPPROTO_TCP, true);
    auto r = expect(tcp4(p).build(), XDP_PASS, XI_R_LOCAL);
    EXPECT_TRUE(r.meta.empty());
}

TEST_F(XdpSteer, SiblingOwnedFlowIsMarkedForItsOwner)
{
    uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 443, IPPROTO_TCP, false);
    auto r = expect(tcp4(p).build(), XDP_PASS, XI_R_FORWARD);
    expect_marked(r, owner_of("203.0.113.7", "198.51.100.10", p, 443, IPPROTO_TCP), false);
}

TEST_F(XdpSteer, OwnershipMatchesTheLoaderOnManyFlows)
{
    // Datapath and C++ agree, flow by flow (the CLI `owner` uses the same C++).
    int local = 0, fwd = 0;
    for (uint16_t p = 20000; p < 20400; p++) {
        auto r = fx_->run_xdp(tcp4(p).build());
        uint16_t want = owner_of("203.0.113.7", "198.51.100.10", p, 443, IPPROTO_TCP);
        if (want == self_) {
            EXPECT_TRUE(r.meta.empty()) << p;
            local++;
        } else {
            ASSERT_EQ(r.meta.size(), 8u) << p;
            xi_xdp_meta m;
            std::memcpy(&m, r.meta.data(), sizeof(m));
            EXPECT_EQ(m.owner, want) << p;
            fwd++;
        }
    }
    EXPECT_GT(local, 80); // about a third each
    EXPECT_GT(fwd, 200);
}

TEST_F(XdpSteer, Ipv6AndUdpAndPortAnyVips)
{
    uint16_t p = port_owned("2001:db8:ffff::7", "2001:db8:100::10", 443, IPPROTO_TCP, false);
    auto v6 = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10").tcp(p, 443).syn();
    auto r = expect(v6.build(), XDP_PASS, XI_R_FORWARD);
    expect_marked(r, owner_of("2001:db8:ffff::7", "2001:db8:100::10", p, 443, IPPROTO_TCP), true);

    p = port_owned("203.0.113.7", "198.51.100.53", 53, IPPROTO_UDP, true);
    auto dns = Packet().eth().ipv4("203.0.113.7", "198.51.100.53").udp(p, 53).payload(30);
    expect(dns.build(), XDP_PASS, XI_R_LOCAL);

    p = port_owned("203.0.113.7", "198.51.100.20", 31337, IPPROTO_TCP, false);
    expect(tcp4(p, "198.51.100.20", 31337).build(), XDP_PASS, XI_R_FORWARD);
}

TEST_F(XdpSteer, VlanTagsAreWalked)
{
    uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 80, IPPROTO_TCP, false);
    auto one = Packet().eth().vlan(100).ipv4("203.0.113.7", "198.51.100.10").tcp(p, 80).syn();
    expect(one.build(), XDP_PASS, XI_R_FORWARD);
    auto qinq = Packet().eth().svlan(10).vlan(20).ipv4("203.0.113.7", "198.51.100.10").tcp(p, 80);
    expect(qinq.build(), XDP_PASS, XI_R_FORWARD);
    // A third tag is more than we parse: not IP as far as we can tell.
    auto three = Packet().eth().svlan(1).vlan(2).vlan(3).ipv4("203.0.113.7", "198.51.100.10");
    expect(three.tcp(p, 80).build(), XDP_PASS, XI_R_PASS_NOT_IP);
}

TEST_F(XdpSteer, Ipv4OptionsAreSkipped)
{
    uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 443, IPPROTO_TCP, false);
    // Record-route style option, 12 bytes: the TCP ports start at 34 + 12.
    auto pkt = Packet().eth().ipv4("203.0.113.7", "198.51.100.10");
    pkt.ip_options({7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0}).tcp(p, 443).syn();
    auto r = expect(pkt.build(), XDP_PASS, XI_R_FORWARD);
    expect_marked(r, owner_of("203.0.113.7", "198.51.100.10", p, 443, IPPROTO_TCP), false);
}

TEST_F(XdpSteer, Ipv6ExtensionHeadersAreWalked)
{
    uint16_t p = port_owned("2001:db8:ffff::7", "2001:db8:100::10", 443, IPPROTO_TCP, false);
    auto pkt = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10");
    pkt.hop_by_hop().dest_opts().routing(4, 0, {"2001:db8:100::10"}).tcp(p, 443).syn();
    expect(pkt.build(), XDP_PASS, XI_R_FORWARD);
    // Longer than the bounded walk: handed to the stack unsteered, never dropped.
    auto deep = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10");
    for (int i = 0; i < 7; i++)
        deep.dest_opts();
    expect(deep.tcp(p, 443).build(), XDP_PASS, XI_R_PASS_EXTHDR);
}

TEST_F(XdpSteer, IcmpErrorsFollowTheFlowTheyAreAbout)
{
    // The client's router says our SYN-ACK was too big: the error carries our packet
    // (VIP -> client), and must reach the owner of client -> VIP.
    for (bool by_self : {true, false}) {
        uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 443, IPPROTO_TCP, by_self);
        auto quoted = Packet().ipv4("198.51.100.10", "203.0.113.7").tcp(443, p).syn().ack();
        auto err = Packet().eth().ipv4("192.0.2.1", "198.51.100.10").icmp4_frag_needed(1400);
        auto r = expect(err.inner(quoted, 28).build(), XDP_PASS, XI_R_ICMP_STEERED);
        if (by_self)
            EXPECT_TRUE(r.meta.empty());
        else
            expect_marked(r, owner_of("203.0.113.7", "198.51.100.10", p, 443, IPPROTO_TCP), false);
    }
    uint16_t p = port_owned("2001:db8:ffff::7", "2001:db8:100::10", 443, IPPROTO_TCP, false);
    auto q6 = Packet().ipv6("2001:db8:100::10", "2001:db8:ffff::7").tcp(443, p).ack();
    auto ptb = Packet().eth().ipv6("2001:db8:1::1", "2001:db8:100::10").icmp6_packet_too_big(1280);
    auto r = expect(ptb.inner(q6, 48).build(), XDP_PASS, XI_R_ICMP_STEERED);
    expect_marked(r, owner_of("2001:db8:ffff::7", "2001:db8:100::10", p, 443, IPPROTO_TCP), true);
}

TEST_F(XdpSteer, IcmpErrorsWithShortOrForeignInnerHeaders)
{
    auto quoted = Packet().ipv4("198.51.100.10", "203.0.113.7").tcp(443, 5555).ack();
    auto err = Packet().eth().ipv4("192.0.2.1", "198.51.100.10").icmp4_frag_needed(1400);
    // 20 bytes of IP and 2 of TCP: no room for both ports. The stack would discard it too.
    auto pkt = err;
    pkt.inner(quoted, 22);
    auto before = fx_->counters();
    auto r = fx_->run_xdp(pkt.build());
    EXPECT_EQ(r.retval, XDP_DROP);
    EXPECT_EQ(fx_->counters() - before, (Counters{{{kXdp, XI_R_DROP_TRUNCATED}, 1}}));
    // An error about a packet that did not come from a VIP is not ours.
    auto other = Packet().ipv4("198.51.100.99", "203.0.113.7").tcp(443, 5555).ack();
    auto foreign = Packet().eth().ipv4("192.0.2.1", "198.51.100.10").icmp4_frag_needed(1400);
    expect(foreign.inner(other, 28).build(), XDP_PASS, XI_R_PASS_NOT_VIP);
}

TEST_F(XdpSteer, FragmentsOfOneDatagramShareAnOwner)
{
    // First and later fragments hash on (src, dst, proto): same owner, whatever the ports.
    auto first = Packet().eth().ipv4("203.0.113.7", "198.51.100.53").ip_id(77).mf();
    first.udp(5000, 53).payload(100);
    auto later = Packet().eth().ipv4("203.0.113.7", "198.51.100.53").ip_id(77).frag_offset(14);
    later.ip_proto(IPPROTO_UDP).payload(50);
    auto r1 = expect(first.build(), XDP_PASS, XI_R_FRAGMENT);
    auto r2 = expect(later.build(), XDP_PASS, XI_R_FRAGMENT);
    EXPECT_EQ(r1.meta, r2.meta);
    uint16_t want = owner_of("203.0.113.7", "198.51.100.53", 0, 0, IPPROTO_UDP);
    if (want != self_)
        expect_marked(r1, want, false);
    // IPv6 fragment header, first and later.
    auto f6 = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10").frag6(0, true, 9);
    auto l6 = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10").frag6(100, false, 9);
    auto a = expect(f6.tcp(1234, 443).payload(40).build(), XDP_PASS, XI_R_FRAGMENT);
    auto b = expect(l6.ip_proto(IPPROTO_TCP).payload(40).build(), XDP_PASS, XI_R_FRAGMENT);
    EXPECT_EQ(a.meta, b.meta);
    // Fragments to a VIP address on a protocol it does not serve are not VIP traffic.
    auto tcp53 = Packet().eth().ipv4("203.0.113.7", "198.51.100.53").mf().tcp(1, 53).payload(8);
    expect(tcp53.build(), XDP_PASS, XI_R_PASS_NOT_VIP);
}

TEST_F(XdpSteer, TinyAndOverlappingFragmentsAreDropped)
{
    // First fragment with 8 bytes of TCP: the flags would be in the next fragment.
    auto tiny =
        Packet().eth().ipv4("203.0.113.7", "198.51.100.10").mf().tcp(1, 443).truncate(14 + 20 + 8);
    auto bytes = tiny.build();
    bytes[14 + 3] = 28; // tot_len: the datagram itself is that short
    bytes[14 + 10] = bytes[14 + 11] = 0;
    auto before = fx_->counters();
    EXPECT_EQ(fx_->run_xdp(bytes).retval, XDP_DROP);
    // RFC 1858: a TCP fragment at offset 8 rewrites the header of the first one.
    auto overlap = Packet().eth().ipv4("203.0.113.7", "198.51.100.10").frag_offset(1);
    EXPECT_EQ(fx_->run_xdp(overlap.ip_proto(IPPROTO_TCP).payload(40).build()).retval, XDP_DROP);
    EXPECT_EQ(fx_->counters() - before, (Counters{{{kXdp, XI_R_DROP_FRAG_TINY}, 2}}));
}

TEST_F(XdpSteer, TunnelledPacketsFromTheInternetAreNeverSteered)
{
    auto ipip =
        Packet().eth().ipv4("203.0.113.7", "198.51.100.10").ipv4("10.200.0.9", "198.51.100.10");
    expect(ipip.tcp(1, 443).build(), XDP_PASS, XI_R_PUBLIC_ENCAP);
    auto ip6ip6 = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10");
    ip6ip6.ipv6("fd00:200::9", "2001:db8:100::10").tcp(1, 443);
    expect(ip6ip6.build(), XDP_PASS, XI_R_PUBLIC_ENCAP);
}

TEST_F(XdpSteer, MalformedHeadersAreDropped)
{
    struct Case {
        const char *what;
        Bytes pkt;
        uint32_t reason;
    };
    auto base = [] { return Packet().eth().ipv4("203.0.113.7", "198.51.100.10"); };
    std::vector<Case> cases = {
        {"ihl 4", base().ihl(4).tcp(1, 443).build(), XI_R_DROP_BAD_HEADER},
        {"version 5", base().ip_version(5).tcp(1, 443).build(), XI_R_DROP_BAD_HEADER},
        {"tot_len below header", base().tot_len(10).tcp(1, 443).build(), XI_R_DROP_BAD_HEADER},
        {"tcp doff 4", base().tcp(1, 443).doff(4).build(), XI_R_DROP_BAD_HEADER},
        {"ipv6 version 4",
         Packet().eth().ipv6("2001:db8::1", "2001:db8:100::10").ip_version(4).tcp(1, 443).build(),
         XI_R_DROP_BAD_HEADER},
    };
    for (const auto &c : cases) {
        auto before = fx_->counters();
        EXPECT_EQ(fx_->run_xdp(c.pkt).retval, XDP_DROP) << c.what;
        EXPECT_EQ(fx_->counters() - before, (Counters{{{kXdp, c.reason}, 1}})) << c.what;
    }
}

TEST_F(XdpSteer, TruncatedAtEveryOffset)
{
    // Cut a VIP packet (VLAN, IPv4 options, TCP options) at every byte: never a crash, never a
    // steering decision on bytes that are not there.
    auto full = Packet().eth().vlan(7).ipv4("203.0.113.7", "198.51.100.10");
    full.ip_options({1, 1, 1, 1}).tcp(4000, 443).syn().mss(1460);
    auto layout = full.layout();
    auto bytes = full.build();
    for (size_t len = 0; len < layout.l4_off + 20; len++) {
        Bytes cut(bytes.begin(), bytes.begin() + len);
        if (cut.size() < 14) // test_run refuses frames shorter than an Ethernet header
            continue;
        auto before = fx_->counters();
        auto r = fx_->run_xdp(cut);
        auto d = fx_->counters() - before;
        EXPECT_EQ(r.retval, XDP_DROP) << "len " << len;
        EXPECT_EQ(d, (Counters{{{kXdp, XI_R_DROP_TRUNCATED}, 1}})) << "len " << len;
    }
}

TEST_F(XdpSteer, EthernetPaddingIsNotPayload)
{
    uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 443, IPPROTO_TCP, false);
    auto pkt =
        Packet().eth().ipv4("203.0.113.7", "198.51.100.10").tcp(p, 443).ack().pad_to_min(0xee);
    expect(pkt.build(), XDP_PASS, XI_R_FORWARD);
}

TEST_F(XdpSteer, NewGenerationTakesEffectAtOnce)
{
    uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 443, IPPROTO_TCP, false);
    expect(tcp4(p).build(), XDP_PASS, XI_R_FORWARD);
    // Drain the siblings: every flow is now ours.
    std::string drained = kSteerConfig;
    for (const char *n : {"10.200.0.2\n", "10.200.0.3\n"}) {
        auto at = drained.find(n);
        drained.insert(at + strlen(n), "    weight: 0\n");
    }
    fx_->publish(drained, "edge-a");
    expect(tcp4(p).build(), XDP_PASS, XI_R_LOCAL);
}

} // namespace
} // namespace xi::test
