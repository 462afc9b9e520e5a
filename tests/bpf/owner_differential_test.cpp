// Three answers to "which edge owns this packet's flow" agree on 12,000 random packets: XDP's
// (hand-off xdp-mark, where this kernel lets XDP mark), TC ingress's own decision (hand-off tc)
// and `xdp-ingress owner`. The packets: TCP and UDP over IPv4 and IPv6, with one or two VLAN
// tags, ICMP errors about a VIP flow (owned by the flow they quote, reversed) and fragments
// (owned by their 3-tuple: `owner` is asked with ports 0).
#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <unistd.h>

#include "datapath_fixture.h"
#include "handoff.h"
#include "packet.h"
#include "packet_check.h"
#include "privileges.h"
#include "steer_config.h"

namespace xi::test
{
namespace
{

struct Case {
    Bytes pkt;
    std::string query; // a line for `xdp-ingress owner --stdin`
    const char *kind;
};

std::string endpoint(const std::string &a, bool v6, uint16_t port)
{
    return v6 ? "[" + a + "]:" + std::to_string(port) : a + ":" + std::to_string(port);
}

class Gen
{
public:
    explicit Gen(uint64_t seed) : rng_(seed) {}

    Case next(int i)
    {
        bool v6 = rng_() % 4 == 0;
        bool udp = !v6 && rng_() % 4 == 0;
        std::string client = v6 ? client6() : client4();
        std::string vip = v6 ? "2001:db8:100::10" : udp ? "198.51.100.53" : "198.51.100.10";
        uint16_t cport = 1024 + rng_() % 64000;
        uint16_t vport = v6 ? 443 : udp ? 53 : (rng_() % 2 ? 80 : 443);
        const char *proto = udp ? "udp" : "tcp";
        std::string flow =
            std::string(proto) + " " + endpoint(client, v6, cport) + " " + endpoint(vip, v6, vport);
        Packet p = Packet().eth();
        switch (i % 6) {
        case 0: // plain
        case 1:
            ip(p, v6, client, vip);
            l4(p, udp, cport, vport);
            return {p.build(), flow, "plain"};
        case 2: // 802.1Q, or QinQ
            if (rng_() % 2)
                p.svlan(1 + rng_() % 4000);
            p.vlan(1 + rng_() % 4000);
            ip(p, v6, client, vip);
            l4(p, udp, cport, vport);
            return {p.build(), flow, "vlan"};
        case 3: { // an ICMP error about what the VIP sent to the client
            Packet quoted;
            ip(quoted, v6, vip, client);
            l4(quoted, udp, vport, cport);
            if (v6)
                p.ipv6("2001:db8:1::1", vip).icmp6_packet_too_big(1280).inner(quoted, 48);
            else
                p.ipv4("192.0.2.1", vip).icmp4_frag_needed(1400).inner(quoted, 28);
            return {p.build(), flow, "icmp error"};
        }
        default: { // a fragment, first or later: owned by (src, dst, proto)
            std::string frag =
                std::string(proto) + " " + endpoint(client, v6, 0) + " " + endpoint(vip, v6, 0);
            bool first = i % 6 == 4;
            uint32_t id = rng_() % 65536;
            if (v6) {
                p.ipv6(client, vip).frag6(first ? 0 : 64, first, id);
            } else {
                p.ipv4(client, vip).ip_id(id);
                first ? p.mf() : p.frag_offset(64);
            }
            if (first)
                l4(p, udp, cport, vport).payload(64);
            else
                p.ip_proto(udp ? IPPROTO_UDP : IPPROTO_TCP).payload(64);
            return {p.build(), frag, "fragment"};
        }
        }
    }

private:
    static void ip(Packet &p, bool v6, const std::string &s, const std::string &d)
    {
        v6 ? p.ipv6(s, d) : p.ipv4(s, d);
    }
    static Packet &l4(Packet &p, bool udp, uint16_t s, uint16_t d)
    {
        return udp ? p.udp(s, d) : p.tcp(s, d).syn();
    }
    std::string client4()
    {
        return std::to_string(1 + rng_() % 223) + "." + std::to_string(rng_() % 256) + "." +
               std::to_string(rng_() % 256) + "." + std::to_string(1 + rng_() % 254);
    }
    std::string client6()
    {
        char buf[64];
        snprintf(buf, sizeof(buf), "2001:db8:%x:%x::%x", unsigned(rng_() % 65536),
                 unsigned(rng_() % 65536), unsigned(rng_() % 65536));
        return buf;
    }
    std::mt19937_64 rng_;
};

std::vector<std::string> cli_owners(const std::vector<Case> &cases)
{
    char cfg_path[] = "/tmp/xi-owner-XXXXXX";
    int fd = mkstemp(cfg_path);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, kSteerConfig.data(), kSteerConfig.size()), (ssize_t)kSteerConfig.size());
    close(fd);
    std::string in_path = std::string(cfg_path) + ".in";
    {
        std::ofstream in(in_path);
        for (const auto &c : cases)
            in << c.query << "\n";
    }
    std::string cmd = std::string(XI_BINARY_DIR) + "/loader/xdp-ingress owner --json --stdin -c " +
                      cfg_path + " < " + in_path;
    std::vector<std::string> owners;
    if (FILE *p = popen(cmd.c_str(), "r")) {
        char line[512];
        while (fgets(line, sizeof(line), p))
            owners.push_back(nlohmann::json::parse(line)["owner"].get<std::string>());
        EXPECT_EQ(pclose(p), 0);
    }
    unlink(cfg_path);
    unlink(in_path.c_str());
    return owners;
}

// TC ingress deciding alone: encapsulated to the owner, or left to this edge.
std::string tc_owner(DatapathFixture &fx, const Bytes &pkt)
{
    auto r = fx.run_tc(Prog::TcPublicIngress, pkt);
    if (r.retval == TC_ACT_UNSPEC)
        return "edge-a";
    if (r.retval != TC_ACT_REDIRECT)
        return "(verdict " + std::to_string(r.retval) + ")";
    auto p = parse(r.out);
    if (p.ips.size() < 2)
        return "(not encapsulated)";
    const auto &nodes = fx.gen().nodes;
    for (size_t i = 0; i < nodes.size(); i++) {
        bool v4 =
            p.ips[0].version == 4 && !std::memcmp(&nodes[i].mesh4, p.ips[0].dst_raw.data(), 4);
        bool v6 =
            p.ips[0].version == 6 && !std::memcmp(nodes[i].mesh6.w, p.ips[0].dst_raw.data(), 16);
        if (v4 || v6)
            return fx.gen().node_names.at(i);
    }
    return "(unknown outer destination " + p.ips[0].dst + ")";
}

// XDP deciding and marking: the owner in the mark, or this edge.
std::string xdp_owner(DatapathFixture &fx, const Bytes &pkt)
{
    auto r = fx.run_xdp(pkt);
    if (r.retval != XDP_PASS || r.meta.size() != sizeof(xi_xdp_meta))
        return "(verdict " + std::to_string(r.retval) + ", no mark)";
    xi_xdp_meta m;
    std::memcpy(&m, r.meta.data(), sizeof(m));
    if (m.magic == XI_META_PASS)
        return "edge-a";
    return m.magic == XI_META_MAGIC ? fx.gen().node_names.at(m.owner) : "(bad mark)";
}

TEST(OwnerDifferential, XdpTcAndTheCliAgreeOnTwelveThousandPackets)
{
    XI_REQUIRE_PRIVILEGES();
    DatapathFixture tc(kSteerConfig, "edge-a", FixtureOptions{.mesh = false});
    std::unique_ptr<DatapathFixture> xdp;
    bool can_mark = probe_xdp_meta().result == HelperProbe::Result::Available;
    if (can_mark)
        xdp = std::make_unique<DatapathFixture>(
            kSteerConfig, "edge-a", FixtureOptions{.mesh = false, .handoff = XI_HANDOFF_XDP_MARK});
    std::printf("XDP's owner %s on this kernel\n",
                can_mark ? "compared" : "not compared (XDP may not mark here)");

    Gen gen(42);
    std::vector<Case> cases;
    for (int i = 0; i < 12000; i++)
        cases.push_back(gen.next(i));
    auto cli = cli_owners(cases);
    ASSERT_EQ(cli.size(), cases.size());

    std::map<std::string, std::map<std::string, int>> per_kind;
    for (size_t i = 0; i < cases.size(); i++) {
        const auto &c = cases[i];
        ASSERT_EQ(tc_owner(tc, c.pkt), cli[i]) << c.kind << " " << i << ": " << c.query;
        if (xdp) {
            ASSERT_EQ(xdp_owner(*xdp, c.pkt), cli[i]) << c.kind << " " << i << ": " << c.query;
        }
        per_kind[c.kind][cli[i]]++;
    }
    // Three equal edges: each owns about a third of every kind.
    for (const auto &[kind, owners] : per_kind) {
        int n = 0;
        for (const auto &[name, k] : owners)
            n += k;
        EXPECT_EQ(owners.size(), 3u) << kind;
        for (const auto &[name, k] : owners)
            EXPECT_NEAR(double(k) / n, 1.0 / 3, 0.05) << kind << " " << name;
    }
}

} // namespace
} // namespace xi::test
