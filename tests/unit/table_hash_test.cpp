// The exported table hash (xdp_ingress_config_info{table_sha256}) is what operators compare
// across edges: it must be equal whenever flow ownership is, whatever node slots each edge's
// reload history gave the nodes, and differ when ownership does.
#include <gtest/gtest.h>

#include "compile.h"
#include "config.h"

namespace xi
{
namespace
{

ConfigResult fleet(const std::string &nodes)
{
    return parse_config("version: 1\n"
                        "fleet: {hash_seed: 1, maglev_table_size: 1009}\n"
                        "nodes:\n" +
                            nodes +
                            "vips:\n"
                            "  - {name: web, address: 198.51.100.10, protocol: tcp, ports: [80]}\n"
                            "default: {ingress: deny, egress: allow}\n",
                        "f.yaml");
}

GenContent compile(const Config &c, std::vector<std::string> prev_slots)
{
    CompileInput in;
    in.config = &c;
    in.node = "a";
    in.prev_node_slots = std::move(prev_slots);
    return compile_generation(in);
}

const std::string kABD = "  - {name: a, public_interface: eth0, mesh_ipv4: 10.0.0.1}\n"
                         "  - {name: b, public_interface: eth0, mesh_ipv4: 10.0.0.2}\n"
                         "  - {name: d, public_interface: eth0, mesh_ipv4: 10.0.0.4}\n";

TEST(TableHash, SameOwnershipSameHashWhateverTheSlots)
{
    auto res = fleet(kABD);
    ASSERT_TRUE(res.errors.empty()) << res.errors[0].str();
    // A fresh edge numbers the nodes in config order; one that had "c" in slot 2 before keeps
    // a and b where they were and puts d in a slot c never used.
    auto fresh = compile(*res.config, {});
    auto lived = compile(*res.config, {"a", "b", "c"});
    ASSERT_NE(fresh.node_names, lived.node_names) << "the scenario needs different slots";
    EXPECT_NE(fresh.maglev, lived.maglev) << "the tables hold slots, so the bytes differ";
    EXPECT_NE(fresh.table_digests[kTableMaglev], lived.table_digests[kTableMaglev])
        << "the reuse digest is byte-exact: a running table with other slots is not reused";
    EXPECT_EQ(fresh.table_sha256, lived.table_sha256) << "but ownership, and its hash, agree";
    for (size_t i = 0; i < fresh.maglev.size(); i++)
        ASSERT_EQ(fresh.node_names[fresh.maglev[i]], lived.node_names[lived.maglev[i]]) << i;
}

TEST(TableHash, DifferentOwnershipDifferentHash)
{
    auto abd = fleet(kABD);
    auto ab = fleet("  - {name: a, public_interface: eth0, mesh_ipv4: 10.0.0.1}\n"
                    "  - {name: b, public_interface: eth0, mesh_ipv4: 10.0.0.2}\n");
    auto weighted =
        fleet("  - {name: a, public_interface: eth0, mesh_ipv4: 10.0.0.1}\n"
              "  - {name: b, public_interface: eth0, mesh_ipv4: 10.0.0.2, weight: 300}\n"
              "  - {name: d, public_interface: eth0, mesh_ipv4: 10.0.0.4}\n");
    ASSERT_TRUE(abd.errors.empty() && ab.errors.empty() && weighted.errors.empty());
    auto h = compile(*abd.config, {}).table_sha256;
    EXPECT_NE(h, compile(*ab.config, {}).table_sha256);
    EXPECT_NE(h, compile(*weighted.config, {}).table_sha256);
    EXPECT_EQ(h.size(), 64u);
}

} // namespace
} // namespace xi
