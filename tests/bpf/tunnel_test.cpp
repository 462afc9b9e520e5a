// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Tunnels on the mesh hooks (bpf/lib/tunnel.h, issue #12): a packet to a metadata address
// inside GRE, VXLAN, Geneve or (on egress) IP in IP is dropped with the tunnel's own reason,
// however the overlay rule allows the tunnel; any other inner packet passes as the rule says.
// Both hooks, outer and inner IPv4 and IPv6, every header option the check skips over, the
// count and off rollout modes, configured ports. Expectations are written by hand: Debian 12's
// nftables cannot match inner headers.
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include "counters.h"
#include "datapath_fixture.h"
#include "mesh_hook_test.h"
#include "metadata.h"
#include "event_budget.h"
#include "events.h"
#include "packet.h"
#include "privileges.h"
#include "tunnel_packets.h"
#include "xi_reasons.h"

namespace xi::test
{
namespace
{

class Tunnels : public OverlayFleetTest
{
};

TEST_F(Tunnels, GreToAMetadataAddressIsDroppedOnBothHooksBothFamilies)
{
    for (bool v6 : {false, true}) {
        for (bool ingress : {true, false}) {
            auto hook = [&](const Bytes &p) { return ingress ? in(p) : out(p); };
            SCOPED_TRACE(std::string(v6 ? "outer IPv6, " : "outer IPv4, ") +
                         (ingress ? "ingress" : "egress"));
            EXPECT_EQ(hook(over_gre(ingress, v6, gre(0, 0x0800, inner4("169.254.169.254")))),
                      XI_R_DROP_GRE_METADATA);
            EXPECT_EQ(hook(over_gre(ingress, v6, gre(0, 0x86dd, inner6("fd00:ec2::254")))),
                      XI_R_DROP_GRE_METADATA);
            // checksum, key and sequence number skipped over
            EXPECT_EQ(hook(over_gre(ingress, v6, gre(0xb000, 0x0800, inner4("169.254.170.23")))),
                      XI_R_DROP_GRE_METADATA);
            // an Ethernet frame (transparent bridging), two VLAN tags inside
            EXPECT_EQ(hook(over_gre(ingress, v6, gre(0x2000, 0x6558, frame4("168.63.129.16", 2)))),
                      XI_R_DROP_GRE_METADATA);
            // inner packets to anything else: the overlay rule decides
            EXPECT_EQ(hook(over_gre(ingress, v6, gre(0, 0x0800, inner4("10.201.0.9")))),
                      XI_R_ALLOW_RULE);
            EXPECT_EQ(hook(over_gre(ingress, v6, gre(0x3000, 0x86dd, inner6("2001:db8::1")))),
                      XI_R_ALLOW_RULE);
        }
    }
}

TEST_F(Tunnels, MetadataInEveryAddressFormIsCaughtInside)
{
    for (const char *dst : {"::169.254.169.254", "64:ff9b::a9fe:a9fe", "fd20:ce::254",
                            "fe80::a9fe:a9fe", "::ffff:169.254.169.254"})
        EXPECT_EQ(in(over_gre(true, false, gre(0, 0x86dd, inner6(dst)))), XI_R_DROP_GRE_METADATA)
            << dst;
}

// Plain packets, no tunnel: every built-in endpoint and the IPv6 spellings of the IPv4 ones
// (written out here, not computed) are denied as destination on both hooks, and as source.
TEST_F(Tunnels, EveryEndpointInEveryFormIsDeniedOnBothHooks)
{
    fx_->publish(tunnel_config("nat64_prefixes: [2001:db8:64::/96]\n"), "app-1");
    std::vector<std::string> addrs = metadata_addresses();
    for (const char *form : {"::ffff:169.254.169.254", "::169.254.169.254", "64:ff9b::a9fe:a9fe",
                             "2001:db8:64::a9fe:a9fe", "64:ff9b::a83f:8110", "::169.254.170.23",
                             "64:ff9b::6464:64c8"}) // 100.100.100.200
        addrs.emplace_back(form);
    for (const auto &a : addrs) {
        SCOPED_TRACE(a);
        bool v6 = a.find(':') != std::string::npos;
        auto to = [&](bool in) {
            Packet p = Packet().eth();
            v6 ? p.ipv6(in ? "fd00:201::2" : "fd00:201::1", a)
               : p.ipv4(in ? "10.201.0.2" : "10.201.0.1", a);
            return p.udp(40000, 80).payload(8).build();
        };
        EXPECT_EQ(in(to(true)), XI_R_DROP_METADATA);
        EXPECT_EQ(out(to(false)), XI_R_DROP_METADATA);
        Packet from = Packet().eth();
        v6 ? from.ipv6(a, "fd00:201::1") : from.ipv4(a, "10.201.0.1");
        EXPECT_EQ(in(from.udp(80, 40000).payload(8).build()), XI_R_DROP_METADATA);
    }
}

TEST_F(Tunnels, VxlanOnItsPortsToAMetadataAddressIsDropped)
{
    for (uint16_t port : {4789, 8472})
        for (bool v6 : {false, true}) {
            SCOPED_TRACE(port);
            EXPECT_EQ(in(over_udp(true, v6, port, vxlan(frame4("169.254.169.254")))),
                      XI_R_DROP_VXLAN_METADATA);
            EXPECT_EQ(out(over_udp(false, v6, port, vxlan(frame6("fd00:ec2::254")))),
                      XI_R_DROP_VXLAN_METADATA);
            EXPECT_EQ(in(over_udp(true, v6, port, vxlan(frame4("100.100.100.200", 1)))),
                      XI_R_DROP_VXLAN_METADATA);
            // Flannel's own traffic: the overlay rule
            EXPECT_EQ(in(over_udp(true, v6, port, vxlan(frame4("10.244.1.5")))), XI_R_ALLOW_RULE);
        }
    // ARP inside: not IP, not looked at further
    Bytes arp = Packet().eth().ethertype(0x0806).payload(28).build();
    EXPECT_EQ(in(over_udp(true, false, 4789, vxlan(arp))), XI_R_ALLOW_RULE);
    // a port no tunnel is configured on carries whatever it carries
    EXPECT_EQ(in(over_udp(true, false, 4790, vxlan(frame4("169.254.169.254")))), XI_R_ALLOW_RULE);
}

TEST_F(Tunnels, GeneveWithOptionsToAMetadataAddressIsDropped)
{
    for (uint8_t words : {0, 2, 63}) {
        SCOPED_TRACE(int(words));
        EXPECT_EQ(in(over_udp(true, false, 6081, geneve(0x0800, inner4("169.254.169.254"), words))),
                  XI_R_DROP_GENEVE_METADATA);
        EXPECT_EQ(
            out(over_udp(false, true, 6081, geneve(0x6558, frame6("64:ff9b::a9fe:a9fe"), words))),
            XI_R_DROP_GENEVE_METADATA);
        EXPECT_EQ(in(over_udp(true, false, 6081, geneve(0x0800, inner4("10.1.2.3"), words))),
                  XI_R_ALLOW_RULE);
    }
    // a version this check does not know: not parsed, the rule decides
    EXPECT_EQ(in(over_udp(true, false, 6081, geneve(0x0800, inner4("169.254.169.254"), 0, 1))),
              XI_R_ALLOW_RULE);
}

TEST_F(Tunnels, IpInIpLeavingForAMetadataAddressIsDropped)
{
    // IPIP, 6in4, IP6IP6, 4in6 built by a local process: checked on the way out.
    EXPECT_EQ(out(ip_in_ip(false, false, "169.254.169.254")), XI_R_DROP_IPIP_METADATA);
    EXPECT_EQ(out(ip_in_ip(false, true, "fd00:ec2::254")), XI_R_DROP_IPIP_METADATA);
    EXPECT_EQ(out(ip_in_ip(true, true, "fd00:ec2::23")), XI_R_DROP_IPIP_METADATA);
    EXPECT_EQ(out(ip_in_ip(true, false, "169.254.170.2")), XI_R_DROP_IPIP_METADATA);
    EXPECT_EQ(out(ip_in_ip(false, true, "64:ff9b::a9fe:a9fe")), XI_R_DROP_IPIP_METADATA);
    EXPECT_EQ(out(ip_in_ip(false, false, "10.9.9.9")), XI_R_ALLOW_RULE);
    EXPECT_EQ(out(ip_in_ip(true, true, "2001:db8::9")), XI_R_ALLOW_RULE);
}

TEST_F(Tunnels, HeadersCutShortAreDroppedAsTruncated)
{
    Bytes g = gre(0, 0x0800, inner4("10.201.0.9"));
    EXPECT_EQ(in(over_gre(true, false, Bytes(g.begin(), g.begin() + 2))), XI_R_DROP_TRUNCATED);
    EXPECT_EQ(in(over_gre(true, false, Bytes(g.begin(), g.begin() + 4 + 12))), XI_R_DROP_TRUNCATED);
    Bytes v = vxlan(frame4("10.201.0.9"));
    EXPECT_EQ(in(over_udp(true, false, 4789, Bytes(v.begin(), v.begin() + 8 + 13))),
              XI_R_DROP_TRUNCATED);
    Bytes n = geneve(0x0800, inner4("10.1.2.3"), 10);
    EXPECT_EQ(in(over_udp(true, false, 6081, Bytes(n.begin(), n.begin() + 20))),
              XI_R_DROP_TRUNCATED);
}

TEST_F(Tunnels, CountModeCountsAndLetsThePolicyDecide)
{
    fx_->publish(tunnel_config("tunnels: {inspect: count}\n"), "app-1");
    RunResult r;
    auto d = moved(kIn, over_gre(true, false, gre(0, 0x0800, inner4("169.254.169.254"))), &r);
    EXPECT_EQ(d, (Counters{{{kIn, XI_R_TUNNEL_METADATA_SEEN}, 1}, {{kIn, XI_R_ALLOW_RULE}, 1}}))
        << describe(d);
    EXPECT_EQ(r.retval, TC_ACT_UNSPEC);
    EXPECT_EQ(in(over_gre(true, false, gre(0, 0x0800, inner4("10.201.0.9")))), XI_R_ALLOW_RULE);

    fx_->publish(tunnel_config("tunnels: {inspect: off}\n"), "app-1");
    EXPECT_EQ(in(over_gre(true, false, gre(0, 0x0800, inner4("169.254.169.254")))),
              XI_R_ALLOW_RULE);
    // metadata_block: false turns the tunnel check off with the rest of the metadata block
    fx_->publish(tunnel_config("metadata_block: false\n"), "app-1");
    EXPECT_EQ(in(over_udp(true, false, 4789, vxlan(frame4("169.254.169.254")))), XI_R_ALLOW_RULE);
}

TEST_F(Tunnels, ConfiguredPortsReplaceTheDefaults)
{
    fx_->publish(tunnel_config("tunnels: {vxlan_ports: [5555], geneve_ports: [6666, 7777]}\n"),
                 "app-1");
    EXPECT_EQ(in(over_udp(true, false, 5555, vxlan(frame4("169.254.169.254")))),
              XI_R_DROP_VXLAN_METADATA);
    EXPECT_EQ(in(over_udp(true, false, 4789, vxlan(frame4("169.254.169.254")))), XI_R_ALLOW_RULE);
    EXPECT_EQ(in(over_udp(true, false, 7777, geneve(0x0800, inner4("169.254.169.254")))),
              XI_R_DROP_GENEVE_METADATA);
    EXPECT_EQ(in(over_udp(true, false, 6081, geneve(0x0800, inner4("169.254.169.254")))),
              XI_R_ALLOW_RULE);
}

TEST_F(Tunnels, OwnSteeringTrafficIsCheckedInsideToo)
{
    // As edge-a: IPIP from its mesh address to a sibling edge is steering traffic (steer_out),
    // unless what it carries is bound for a metadata address.
    fx_->publish(tunnel_config(""), "edge-a");
    EXPECT_EQ(out(Packet()
                      .eth()
                      .ipv4("10.200.0.1", "10.200.0.2")
                      .ipv4("192.0.2.9", "198.51.100.10")
                      .tcp(40000, 443)
                      .build()),
              XI_R_STEER_OUT);
    EXPECT_EQ(out(Packet()
                      .eth()
                      .ipv4("10.200.0.1", "10.200.0.2")
                      .ipv4("192.0.2.9", "169.254.169.254")
                      .tcp(40000, 80)
                      .build()),
              XI_R_DROP_IPIP_METADATA);
}

} // namespace
} // namespace xi::test

namespace xi::test
{
namespace
{

// Every tunnel drop is a deny event for `monitor`, carrying the outer tuple and its reason.
TEST_F(Tunnels, EachTunnelDropIsAMonitorEvent)
{
    auto events = [&] {
        std::vector<xi_event> v;
        poll_events(
            fx_->map_fd("xi_events"),
            [&](const xi_event &e) {
                v.push_back(e);
                return true;
            },
            0, 50);
        return v;
    };
    events();                             // what earlier tests left
    EventBudget(fx_->pin_dir()).refill(); // the first refill fills every CPU's budget to burst
    const std::pair<Bytes, uint32_t> drops[] = {
        {over_gre(true, false, gre(0, 0x0800, inner4("169.254.169.254"))), XI_R_DROP_GRE_METADATA},
        {over_udp(true, true, 4789, vxlan(frame4("169.254.169.254"))), XI_R_DROP_VXLAN_METADATA},
        {over_udp(true, false, 6081, geneve(0x0800, inner4("169.254.169.254"))),
         XI_R_DROP_GENEVE_METADATA},
        {ip_in_ip(false, false, "169.254.169.254"), XI_R_DROP_IPIP_METADATA}};
    for (const auto &[pkt, why] : drops) {
        bool egress = why == XI_R_DROP_IPIP_METADATA;
        EXPECT_EQ(egress ? out(pkt) : in(pkt), why);
        auto got = events();
        ASSERT_EQ(got.size(), 1u) << reason_info(why)->label;
        EXPECT_EQ(got[0].reason, why);
        EXPECT_EQ(got[0].hook, egress ? kOut : kIn);
        EXPECT_EQ(got[0].proto, why == XI_R_DROP_GRE_METADATA ? 47 : egress ? 4 : 17);
    }
}

// IP a mesh hook cannot look into follows one rule (`unparsed`), VLAN depth included; ARP and
// other non-IP traffic never does.
TEST_F(Tunnels, UnparsedIpFollowsOneRuleNonIpNever)
{
    auto tagged = [](int tags, uint16_t ethertype_after) {
        Packet p = Packet().eth();
        for (int i = 0; i < tags; i++)
            p.vlan(10 + i);
        if (ethertype_after)
            return p.ethertype(ethertype_after).payload(28).build();
        return p.ipv4("10.201.0.2", "10.201.0.1").udp(41000 + tags, 9).payload(8).build();
    };
    Packet deep = Packet().eth().ipv6("fd00:201::2", "fd00:201::1");
    for (int i = 0; i < 7; i++)
        deep.dest_opts();
    Bytes chain = deep.udp(41010, 9).build();

    for (bool ingress : {true, false}) {
        SCOPED_TRACE(ingress ? "ingress" : "egress");
        auto hook = [&](const Bytes &p) { return ingress ? in(p) : out(p); };
        fx_->publish(tunnel_config(""), "app-1");
        EXPECT_EQ(hook(tagged(2, 0)), XI_R_ALLOW_RULE); // as many tags as the walk takes
        EXPECT_EQ(hook(tagged(3, 0)), XI_R_DROP_VLAN_DEPTH);
        EXPECT_EQ(hook(chain), XI_R_DROP_EXTHDR);
        EXPECT_EQ(hook(tagged(1, 0x0806)), XI_R_PASS_NOT_IP); // ARP
        EXPECT_EQ(hook(tagged(0, 0x88cc)), XI_R_PASS_NOT_IP); // LLDP
        fx_->publish(tunnel_config("unparsed: pass\n"), "app-1");
        EXPECT_EQ(hook(tagged(3, 0)), XI_R_PASS_VLAN_DEPTH);
        EXPECT_EQ(hook(chain), XI_R_PASS_EXTHDR);
        EXPECT_EQ(hook(tagged(2, 0x0806)), XI_R_PASS_NOT_IP);
    }
}

} // namespace
} // namespace xi::test
