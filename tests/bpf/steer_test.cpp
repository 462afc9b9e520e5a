// The steering decision on the public interface, in every hand-off mode this kernel can run
// (tests/lib/handoff_modes.h), on crafted packets (BPF_PROG_TEST_RUN): every branch and counter.
//
//   tc              XDP must only drop malformed packets; TC ingress decides and, for a flow a
//                   sibling owns, encapsulates it (the output is checked: outer header, inner
//                   packet unchanged)
//   xdp_mark        XDP decides; the decision is read from the metadata it wrote (the TC side of
//                   a mark, which skb test_run cannot feed, runs in encap_chain_test.cpp)
//   xdp_mark_fails  XDP decides, every mark fails; TC decides again, as in tc
//
// Whichever hook decides, the owner is the one `xdp-ingress owner` computes (flow_owner).
#include <arpa/inet.h>
#include <cstring>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include "datapath_fixture.h"
#include "handoff_params.h"
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
constexpr uint32_t kPubIn = XI_HOOK_TC_PUBLIC_INGRESS;

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
        fx_ = std::make_unique<DatapathFixture>(kSteerConfig, "edge-a",
                                                FixtureOptions{.mesh = false,
                                                               .handoff = mode_.handoff,
                                                               .mark_fails = mode_.mark_fails});
        self_ = fx_->node_slot("edge-a");
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
    std::unique_ptr<DatapathFixture> fx_;
    uint16_t self_ = 0;
};

Packet tcp4(uint16_t sport, const std::string &dst = "198.51.100.10", uint16_t dport = 443)
{
    return Packet().eth().ipv4("203.0.113.7", dst).tcp(sport, dport).ack().payload(64);
}

TEST_P(Steer, NonIpPassesUntouched)
{
    auto arp = Packet().eth().ethertype(0x0806).payload(28).build();
    expect(arp, XI_R_PASS_NOT_IP);
}

TEST_P(Steer, NonVipTrafficPassesUntouched)
{
    expect(tcp4(40000, "203.0.113.99").build(), XI_R_PASS_NOT_VIP);
    expect(tcp4(40000, "198.51.100.10", 8080).build(), XI_R_PASS_NOT_VIP);
    // Right address and port, wrong protocol.
    auto udp = Packet().eth().ipv4("203.0.113.7", "198.51.100.10").udp(4000, 443).build();
    expect(udp, XI_R_PASS_NOT_VIP);
    auto icmp = Packet().eth().ipv4("203.0.113.7", "198.51.100.10").icmp4_echo_request(1, 1);
    expect(icmp.build(), XI_R_PASS_NOT_VIP);
}

TEST_P(Steer, LocallyOwnedFlowStaysHere)
{
    uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 443, IPPROTO_TCP, true);
    expect(tcp4(p).build(), XI_R_LOCAL);
}

TEST_P(Steer, SiblingOwnedFlowGoesToItsOwner)
{
    auto [p, owner] = sibling_flow();
    expect(tcp4(p).build(), XI_R_FORWARD, owner);
}

TEST_P(Steer, OwnershipMatchesTheLoaderOnManyFlows)
{
    // Datapath and C++ agree, flow by flow (the CLI `owner` uses the same C++).
    int local = 0, fwd = 0;
    for (uint16_t p = 20000; p < 20300; p++) {
        auto s = steer(tcp4(p).build());
        uint16_t want = owner_of("203.0.113.7", "198.51.100.10", p, 443, IPPROTO_TCP);
        ASSERT_FALSE(s.dropped) << p;
        EXPECT_EQ(s.owner, want == self_ ? XI_NODE_NONE : want) << p;
        (want == self_ ? local : fwd)++;
    }
    EXPECT_GT(local, 60); // about a third each
    EXPECT_GT(fwd, 150);
}

TEST_P(Steer, Ipv6AndUdpAndPortAnyVips)
{
    uint16_t p = port_owned("2001:db8:ffff::7", "2001:db8:100::10", 443, IPPROTO_TCP, false);
    auto v6 = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10").tcp(p, 443).syn();
    expect(v6.build(), XI_R_FORWARD,
           owner_of("2001:db8:ffff::7", "2001:db8:100::10", p, 443, IPPROTO_TCP));

    p = port_owned("203.0.113.7", "198.51.100.53", 53, IPPROTO_UDP, true);
    auto dns = Packet().eth().ipv4("203.0.113.7", "198.51.100.53").udp(p, 53).payload(30);
    expect(dns.build(), XI_R_LOCAL);

    p = port_owned("203.0.113.7", "198.51.100.20", 31337, IPPROTO_TCP, false);
    expect(tcp4(p, "198.51.100.20", 31337).build(), XI_R_FORWARD,
           owner_of("203.0.113.7", "198.51.100.20", p, 31337, IPPROTO_TCP));
}

TEST_P(Steer, VlanTagsAreWalked)
{
    uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 80, IPPROTO_TCP, false);
    uint16_t owner = owner_of("203.0.113.7", "198.51.100.10", p, 80, IPPROTO_TCP);
    auto one = Packet().eth().vlan(100).ipv4("203.0.113.7", "198.51.100.10").tcp(p, 80).syn();
    expect(one.build(), XI_R_FORWARD, owner);
    auto qinq = Packet().eth().svlan(10).vlan(20).ipv4("203.0.113.7", "198.51.100.10").tcp(p, 80);
    expect(qinq.build(), XI_R_FORWARD, owner);
    // A third tag is more than we parse: not IP as far as we can tell.
    auto three = Packet().eth().svlan(1).vlan(2).vlan(3).ipv4("203.0.113.7", "198.51.100.10");
    expect(three.tcp(p, 80).build(), XI_R_PASS_NOT_IP);
}

TEST_P(Steer, Ipv4OptionsAreSkipped)
{
    auto [p, owner] = sibling_flow();
    // Record-route style option, 12 bytes: the TCP ports start at 34 + 12.
    auto pkt = Packet().eth().ipv4("203.0.113.7", "198.51.100.10");
    pkt.ip_options({7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0}).tcp(p, 443).syn();
    expect(pkt.build(), XI_R_FORWARD, owner);
}

TEST_P(Steer, Ipv6ExtensionHeadersAreWalked)
{
    uint16_t p = port_owned("2001:db8:ffff::7", "2001:db8:100::10", 443, IPPROTO_TCP, false);
    auto pkt = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10");
    pkt.hop_by_hop().dest_opts().routing(4, 0, {"2001:db8:100::10"}).tcp(p, 443).syn();
    expect(pkt.build(), XI_R_FORWARD,
           owner_of("2001:db8:ffff::7", "2001:db8:100::10", p, 443, IPPROTO_TCP));
    // Longer than the bounded walk: handed to the stack unsteered, never dropped.
    auto deep = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10");
    for (int i = 0; i < 7; i++)
        deep.dest_opts();
    expect(deep.tcp(p, 443).build(), XI_R_PASS_EXTHDR);
}

TEST_P(Steer, HeadersBeyondTheFirstPullAreFound)
{
    // Six 40-byte destination-options headers: TCP starts at 14 + 40 + 240 = 294, beyond the
    // 128 bytes TC makes linear first. TC must look further, as XDP (whole frame) does.
    uint16_t p = port_owned("2001:db8:ffff::7", "2001:db8:100::10", 443, IPPROTO_TCP, false);
    auto pkt = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10");
    std::vector<uint8_t> padn(38, 0); // one PadN option: a 40-byte header
    padn[0] = 1;
    padn[1] = 36;
    for (int i = 0; i < 6; i++)
        pkt.dest_opts(padn);
    expect(pkt.tcp(p, 443).syn().build(), XI_R_FORWARD,
           owner_of("2001:db8:ffff::7", "2001:db8:100::10", p, 443, IPPROTO_TCP));
}

TEST_P(Steer, IcmpErrorsFollowTheFlowTheyAreAbout)
{
    // The client's router says our SYN-ACK was too big: the error carries our packet
    // (VIP -> client), and must reach the owner of client -> VIP.
    for (bool by_self : {true, false}) {
        uint16_t p = port_owned("203.0.113.7", "198.51.100.10", 443, IPPROTO_TCP, by_self);
        auto quoted = Packet().ipv4("198.51.100.10", "203.0.113.7").tcp(443, p).syn().ack();
        auto err = Packet().eth().ipv4("192.0.2.1", "198.51.100.10").icmp4_frag_needed(1400);
        uint16_t owner = owner_of("203.0.113.7", "198.51.100.10", p, 443, IPPROTO_TCP);
        expect(err.inner(quoted, 28).build(), XI_R_ICMP_STEERED, by_self ? XI_NODE_NONE : owner);
    }
    uint16_t p = port_owned("2001:db8:ffff::7", "2001:db8:100::10", 443, IPPROTO_TCP, false);
    auto q6 = Packet().ipv6("2001:db8:100::10", "2001:db8:ffff::7").tcp(443, p).ack();
    auto ptb = Packet().eth().ipv6("2001:db8:1::1", "2001:db8:100::10").icmp6_packet_too_big(1280);
    expect(ptb.inner(q6, 48).build(), XI_R_ICMP_STEERED,
           owner_of("2001:db8:ffff::7", "2001:db8:100::10", p, 443, IPPROTO_TCP));
}

TEST_P(Steer, IcmpErrorsWithShortOrForeignInnerHeaders)
{
    auto quoted = Packet().ipv4("198.51.100.10", "203.0.113.7").tcp(443, 5555).ack();
    auto err = Packet().eth().ipv4("192.0.2.1", "198.51.100.10").icmp4_frag_needed(1400);
    // 20 bytes of IP and 2 of TCP: no room for both ports. The stack would discard it too.
    expect(err.inner(quoted, 22).build(), XI_R_DROP_TRUNCATED);
    // An error about a packet that did not come from a VIP is not ours.
    auto other = Packet().ipv4("198.51.100.99", "203.0.113.7").tcp(443, 5555).ack();
    auto foreign = Packet().eth().ipv4("192.0.2.1", "198.51.100.10").icmp4_frag_needed(1400);
    expect(foreign.inner(other, 28).build(), XI_R_PASS_NOT_VIP);
}

TEST_P(Steer, FragmentsOfOneDatagramShareAnOwner)
{
    // First and later fragments hash on (src, dst, proto): same owner, whatever the ports.
    uint16_t o4 = owner_of("203.0.113.7", "198.51.100.53", 0, 0, IPPROTO_UDP);
    uint16_t want4 = o4 == self_ ? XI_NODE_NONE : o4;
    auto first = Packet().eth().ipv4("203.0.113.7", "198.51.100.53").ip_id(77).mf();
    first.udp(5000, 53).payload(100);
    auto later = Packet().eth().ipv4("203.0.113.7", "198.51.100.53").ip_id(77).frag_offset(14);
    later.ip_proto(IPPROTO_UDP).payload(50);
    expect(first.build(), XI_R_FRAGMENT, want4);
    expect(later.build(), XI_R_FRAGMENT, want4);
    // IPv6 fragment header, first and later.
    uint16_t o6 = owner_of("2001:db8:ffff::7", "2001:db8:100::10", 0, 0, IPPROTO_TCP);
    uint16_t want6 = o6 == self_ ? XI_NODE_NONE : o6;
    auto f6 = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10").frag6(0, true, 9);
    auto l6 = Packet().eth().ipv6("2001:db8:ffff::7", "2001:db8:100::10").frag6(100, false, 9);
    expect(f6.tcp(1234, 443).payload(40).build(), XI_R_FRAGMENT, want6);
    expect(l6.ip_proto(IPPROTO_TCP).payload(40).build(), XI_R_FRAGMENT, want6);
    // Fragments to a VIP address on a protocol it does not serve are not VIP traffic.
    auto tcp53 = Packet().eth().ipv4("203.0.113.7", "198.51.100.53").mf().tcp(1, 53).payload(8);
    expect(tcp53.build(), XI_R_PASS_NOT_VIP);
}

TEST_P(Steer, TinyAndOverlappingFragmentsAreDropped)
{
    // First fragment with 8 bytes of TCP: the flags would be in the next fragment.
    auto tiny =
        Packet().eth().ipv4("203.0.113.7", "198.51.100.10").mf().tcp(1, 443).truncate(14 + 20 + 8);
    auto bytes = tiny.build();
    bytes[14 + 3] = 28; // tot_len: the datagram itself is that short
    bytes[14 + 10] = bytes[14 + 11] = 0;
    expect(bytes, XI_R_DROP_FRAG_TINY);
    // RFC 1858: a TCP fragment at offset 8 rewrites the header of the first one.
    auto overlap = Packet().eth().ipv4("203.0.113.7", "198.51.100.10").frag_offset(1);
    expect(overlap.ip_proto(IPPROTO_TCP).payload(40).build(), XI_R_DROP_FRAG_TINY);
}

TEST_P(Steer, TunnelledPacketsFromTheInternetAreNeverSteered)
{
    // What an attacker would send: IPIP towards a sibling's mesh address, carrying a VIP flow.
    auto ipip =
        Packet().eth().ipv4("203.0.113.7", "10.200.0.2").ipv4("10.200.0.9", "198.51.100.10");
    expect(ipip.tcp(1, 443).syn().build(), XI_R_PUBLIC_ENCAP);
    auto ip6ip6 = Packet().eth().ipv6("2001:db8:ffff::7", "fd00:200::2");
    ip6ip6.ipv6("fd00:200::9", "2001:db8:100::10").tcp(1, 443);
    expect(ip6ip6.build(), XI_R_PUBLIC_ENCAP);
    auto sixin4 = Packet().eth().ipv4("203.0.113.7", "10.200.0.3");
    sixin4.ipv6("2001:db8:ffff::7", "2001:db8:100::10").tcp(1, 443).syn();
    expect(sixin4.build(), XI_R_PUBLIC_ENCAP);
}

TEST_P(Steer, MalformedHeadersAreDropped)
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
        SCOPED_TRACE(c.what);
        expect(c.pkt, c.reason);
    }
}

TEST_P(Steer, TruncatedAtEveryOffset)
{
    // Cut a VIP packet (VLAN, IPv4 options, TCP options) at every byte: never a crash, never a
    // steering decision on bytes that are not there.
    auto full = Packet().eth().vlan(7).ipv4("203.0.113.7", "198.51.100.10");
    full.ip_options({1, 1, 1, 1}).tcp(4000, 443).syn().mss(1460);
    auto layout = full.layout();
    auto bytes = full.build();
    for (size_t len = 14; len < layout.l4_off + 20; len++) {
        SCOPED_TRACE("len " + std::to_string(len));
        expect(Bytes(bytes.begin(), bytes.begin() + len), XI_R_DROP_TRUNCATED);
    }
}

TEST_P(Steer, EthernetPaddingIsNotPayload)
{
    auto [p, owner] = sibling_flow();
    auto pkt =
        Packet().eth().ipv4("203.0.113.7", "198.51.100.10").tcp(p, 443).ack().pad_to_min(0xee);
    expect(pkt.build(), XI_R_FORWARD, owner);
}

TEST_P(Steer, NoGenerationOrNotAnEdgeMeansNoSteering)
{
    // A node that is not an edge in the running generation never steers.
    std::string backend = kSteerConfig;
    auto at = backend.find("  - name: edge-a\n    public_interface: pub0\n");
    backend.erase(at + strlen("  - name: edge-a\n"), strlen("    public_interface: pub0\n"));
    fx_->publish(backend, "edge-a");
    expect(tcp4(sibling_flow().first).build(), XI_R_PASS_NOT_STEERED);
}

TEST_P(Steer, NewGenerationTakesEffectAtOnce)
{
    auto [p, owner] = sibling_flow();
    expect(tcp4(p).build(), XI_R_FORWARD, owner);
    // Drain the siblings: every flow is now ours.
    std::string drained = kSteerConfig;
    for (const char *n : {"10.200.0.2\n", "10.200.0.3\n"}) {
        auto at = drained.find(n);
        drained.insert(at + strlen(n), "    weight: 0\n");
    }
    fx_->publish(drained, "edge-a");
    expect(tcp4(p).build(), XI_R_LOCAL);
}

INSTANTIATE_TEST_SUITE_P(Handoff, Steer, ::testing::ValuesIn(handoff_modes()), handoff_mode_name);

// ---- TC deciding alone ------------------------------------------------------------------------

class TcDecides : public ::testing::Test
{
protected:
    void SetUp() override
    {
        XI_REQUIRE_PRIVILEGES();
        fx_ = std::make_unique<DatapathFixture>(kSteerConfig, "edge-a",
                                                FixtureOptions{.mesh = false});
    }
    std::unique_ptr<DatapathFixture> fx_;
};

TEST_F(TcDecides, MalformedPacketsXdpDidNotSeeAreDroppedByTc)
{
    // Without XDP in front (detached, or never attached on a device), TC's own parse drops
    // what XDP would have: the same reason, counted at TC.
    auto base = [] { return Packet().eth().ipv4("203.0.113.7", "198.51.100.10"); };
    struct Case {
        const char *what;
        Bytes pkt;
        uint32_t reason;
    } cases[] = {
        {"ihl 4", base().ihl(4).tcp(1, 443).build(), XI_R_DROP_BAD_HEADER},
        {"truncated TCP", base().tcp(1, 443).truncate(14 + 20 + 10).build(), XI_R_DROP_TRUNCATED},
        {"tiny fragment", base().frag_offset(1).ip_proto(IPPROTO_TCP).payload(40).build(),
         XI_R_DROP_FRAG_TINY},
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.what);
        auto before = fx_->counters();
        auto r = fx_->run_tc(Prog::TcPublicIngress, c.pkt);
        EXPECT_EQ(r.retval, TC_ACT_SHOT);
        EXPECT_EQ(fx_->counters() - before, (Counters{{{kPubIn, c.reason}, 1}}));
    }
}

TEST_F(TcDecides, GsoPacketsAreCheckedPerSegmentAgainstTheMeshMtu)
{
    // A GRO-merged skb (gso_size set) is decided once and checked per segment: 1361 bytes of
    // TCP payload + 20 TCP + 20 IP + 20 outer = 1421 > 1420. (That 1360 fits, and what the mesh
    // then carries, needs a real GSO skb: EncapChain.GroMergedSegments* in every mode.)
    uint16_t self = fx_->node_slot("edge-a");
    uint16_t p = 1024;
    while (flow_owner(fx_->gen(), {*IpAddr::parse("203.0.113.7"), *IpAddr::parse("198.51.100.10"),
                                   p, 443, IPPROTO_TCP}) == self)
        p++;
    auto pkt = Packet().eth().ipv4("203.0.113.7", "198.51.100.10").df().tcp(p, 443).ack(1);
    auto before = fx_->counters();
    auto r = fx_->run_tc(Prog::TcPublicIngress, pkt.payload(2 * 1361).build(), 1361);
    EXPECT_EQ(r.retval, TC_ACT_SHOT);
    EXPECT_EQ(fx_->counters() - before,
              (Counters{{{kPubIn, XI_R_FORWARD}, 1}, {{kPubIn, XI_R_DROP_MESH_MTU}, 1}}));
}

} // namespace
} // namespace xi::test
