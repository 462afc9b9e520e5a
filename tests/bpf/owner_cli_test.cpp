// `xdp-ingress owner` and the XDP datapath agree on who owns a flow, on 10,000 random tuples.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <unistd.h>

#include "datapath_fixture.h"
#include "packet.h"
#include "privileges.h"
#include "steer_config.h"

namespace xi::test
{
namespace
{

struct Flow {
    bool v6;
    bool udp;
    std::string src, dst;
    uint16_t sport, dport;
};

std::string endpoint(const std::string &a, bool v6, uint16_t port)
{
    return v6 ? "[" + a + "]:" + std::to_string(port) : a + ":" + std::to_string(port);
}

TEST(OwnerCli, AgreesWithTheDatapathOnTenThousandFlows)
{
    XI_REQUIRE_PRIVILEGES();
    DatapathFixture fx(kSteerConfig, "edge-a");
    char cfg_path[] = "/tmp/xi-owner-XXXXXX";
    int fd = mkstemp(cfg_path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, kSteerConfig.data(), kSteerConfig.size()), (ssize_t)kSteerConfig.size());
    close(fd);

    std::mt19937_64 rng(42);
    std::vector<Flow> flows;
    std::ostringstream input;
    for (int i = 0; i < 10000; i++) {
        Flow f;
        f.v6 = rng() % 4 == 0;
        f.udp = !f.v6 && rng() % 4 == 0;
        f.sport = 1024 + rng() % 64000;
        if (f.v6) {
            char buf[64];
            snprintf(buf, sizeof(buf), "2001:db8:%x:%x::%x", unsigned(rng() % 65536),
                     unsigned(rng() % 65536), unsigned(rng() % 65536));
            f.src = buf;
            f.dst = "2001:db8:100::10";
            f.dport = 443;
        } else {
            f.src = std::to_string(1 + rng() % 223) + "." + std::to_string(rng() % 256) + "." +
                    std::to_string(rng() % 256) + "." + std::to_string(1 + rng() % 254);
            f.dst = f.udp ? "198.51.100.53" : "198.51.100.10";
            f.dport = f.udp ? 53 : (rng() % 2 ? 80 : 443);
        }
        input << (f.udp ? "udp " : "tcp ") << endpoint(f.src, f.v6, f.sport) << " "
              << endpoint(f.dst, f.v6, f.dport) << "\n";
        flows.push_back(f);
    }
    std::string in_path = std::string(cfg_path) + ".in";
    std::ofstream(in_path) << input.str();
    std::string cmd = std::string(XI_BINARY_DIR) + "/loader/xdp-ingress owner --json --stdin -c " +
                      cfg_path + " < " + in_path;
    FILE *p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::vector<std::string> cli;
    char line[512];
    while (fgets(line, sizeof(line), p))
        cli.push_back(nlohmann::json::parse(line)["owner"].get<std::string>());
    EXPECT_EQ(pclose(p), 0);
    unlink(cfg_path);
    unlink(in_path.c_str());
    ASSERT_EQ(cli.size(), flows.size());

    std::map<std::string, int> per_owner;
    for (size_t i = 0; i < flows.size(); i++) {
        const auto &f = flows[i];
        Packet pkt = Packet().eth();
        if (f.v6)
            pkt.ipv6(f.src, f.dst);
        else
            pkt.ipv4(f.src, f.dst);
        if (f.udp)
            pkt.udp(f.sport, f.dport);
        else
            pkt.tcp(f.sport, f.dport).syn();
        auto r = fx.run_xdp(pkt.build());
        std::string owner = "edge-a"; // no mark: this node
        if (!r.meta.empty()) {
            xi_xdp_meta m;
            std::memcpy(&m, r.meta.data(), sizeof(m));
            owner = fx.gen().node_names.at(m.owner);
        }
        ASSERT_EQ(owner, cli[i]) << "flow " << i << ": " << f.src << " " << f.sport;
        per_owner[owner]++;
    }
    // Three equal edges: each owns about a third.
    for (const auto &[name, n] : per_owner)
        EXPECT_NEAR(n, 3333, 300) << name;
}

} // namespace
} // namespace xi::test
