// Config parsing and checking: every error class reports file:line:col and a reason.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "base_config.h"
#include "config.h"

namespace
{

using xi::test::kBase;

xi::ConfigResult parse(const std::string &text)
{
    return xi::parse_config(text, "test.yaml");
}

// The first error, or "" if the config is valid.
std::string first_error(const std::string &text)
{
    auto r = parse(text);
    return r.errors.empty() ? "" : r.errors[0].str();
}

std::string replace(std::string s, const std::string &from, const std::string &to)
{
    auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return s.replace(pos, from.size(), to);
}

TEST(Config, ValidBaseParses)
{
    auto r = parse(kBase);
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].str();
    const auto &c = *r.config;
    EXPECT_EQ(c.version, 1);
    EXPECT_EQ(c.seed, 0x1234u);
    EXPECT_EQ(c.table_size, 65537u);
    ASSERT_EQ(c.nodes.size(), 3u);
    EXPECT_TRUE(c.nodes[0].is_edge());
    EXPECT_FALSE(c.nodes[2].is_edge());
    EXPECT_EQ(c.nodes[0].mesh_if, "wg0");
    ASSERT_EQ(c.vips.size(), 1u);
    EXPECT_EQ(c.vips[0].proto, IPPROTO_TCP);
    EXPECT_EQ(c.vips[0].ports, (std::vector<uint16_t>{80, 443}));
    ASSERT_EQ(c.rules.size(), 1u);
    EXPECT_EQ(c.rules[0].ports[0].lo, 8080);
    EXPECT_FALSE(c.default_ingress_allow);
    EXPECT_TRUE(c.default_egress_allow);
    EXPECT_TRUE(c.metadata_block);
    EXPECT_EQ(c.sha256.size(), 64u);
}

TEST(Config, NodeListPositionIsRecorded)
{
    // attach reports an unknown --node at the node list.
    auto r = parse(kBase);
    ASSERT_TRUE(r.config);
    EXPECT_EQ(r.config->nodes_pos.line, 5);
    EXPECT_EQ(r.config->nodes_pos.col, 3);
}

TEST(Config, ContentHashIsTheFileHash)
{
    // sha256 of the exact bytes: what `sha256sum` prints for the file.
    auto r = parse("");
    EXPECT_FALSE(r.errors.empty());
    auto a = parse(kBase), b = parse(std::string(kBase) + "\n");
    ASSERT_TRUE(a.config && b.config);
    EXPECT_NE(a.config->sha256, b.config->sha256);
}

TEST(Config, YamlSyntaxErrorHasPosition)
{
    EXPECT_EQ(first_error("version: 1\nfleet: [\n"),
              "test.yaml:3:1: YAML syntax: did not find expected node content (while parsing a "
              "flow node at line 3)");
}

TEST(Config, UnknownKeyNamedAtItsLine)
{
    auto e = first_error(replace(kBase, "    mesh_ipv4: 10.201.0.1\n",
                                 "    mesh_ipv4: 10.201.0.1\n    mesh_ip: 1.2.3.4\n"));
    EXPECT_EQ(e.rfind("test.yaml:13:5: unknown key 'mesh_ip' in node", 0), 0u) << e;
}

TEST(Config, BadPrefixes)
{
    EXPECT_EQ(first_error(replace(kBase, "apps: [10.201.0.0/24]", "apps: [10.201.0.0/33]")),
              "test.yaml:20:10: identity 'apps': prefix length '33' is not in 0..32");
    EXPECT_EQ(first_error(replace(kBase, "apps: [10.201.0.0/24]", "apps: [10.201.0.1/24]")),
              "test.yaml:20:10: identity 'apps': '10.201.0.1/24' has host bits set (did you "
              "mean 10.201.0.0/24?)");
    EXPECT_EQ(first_error(replace(kBase, "apps: [10.201.0.0/24]", "apps: [10.201.0/24]")),
              "test.yaml:20:10: identity 'apps': '10.201.0' is not an IPv4 or IPv6 address");
}

TEST(Config, DuplicateNames)
{
    auto e = first_error(replace(kBase, "name: edge-b", "name: edge-a"));
    EXPECT_EQ(e, "test.yaml:8:5: duplicate node name 'edge-a' (first at line 5)");
    e = first_error(replace(kBase, "  apps: [10.201.0.0/24]\n",
                            "  apps: [10.201.0.0/24]\n  edges: [10.9.0.0/16]\n"));
    // A repeated identity is a repeated key of the identities mapping.
    EXPECT_EQ(e, "test.yaml:21:3: duplicate key 'edges' (first at line 19): YAML would silently "
                 "keep one of them");
}

TEST(Config, OutOfRangeValues)
{
    EXPECT_EQ(first_error(replace(kBase, "hash_seed: 0x1234", "hash_seed: 0x1234\n  mesh_mtu: 9")),
              "test.yaml:4:13: fleet.mesh_mtu 9 is out of range 1280..65535");
    EXPECT_EQ(first_error(replace(kBase, "ports: [80, 443]", "ports: [80, 70000]")),
              "test.yaml:17:17: vip port: '70000' is not a port (1..65535) or a range LOW-HIGH");
    EXPECT_EQ(first_error(replace(kBase, "ports: [8080]", "ports: [\"9000-8000\"]")),
              "test.yaml:26:13: rule port: range '9000-8000' has its low end above its high end");
    EXPECT_EQ(first_error(replace(kBase, "version: 1", "version: 2")),
              "test.yaml:1:10: version 2 is out of range 1..1");
}

TEST(Config, TableSizeMustBePrime)
{
    auto e = first_error(
        replace(kBase, "hash_seed: 0x1234", "hash_seed: 0x1234\n  maglev_table_size: 65536"));
    EXPECT_NE(e.find("maglev_table_size 65536 is not prime"), std::string::npos) << e;
}

TEST(Config, NodeMeshAddressInNoIdentityOrTwo)
{
    auto e = first_error(replace(kBase, "mesh_ipv4: 10.201.0.1", "mesh_ipv4: 10.209.0.1"));
    EXPECT_EQ(e, "test.yaml:11:5: mesh address 10.209.0.1 of node 'app-1' is in no identity: "
                 "add it to the node's role");
    e = first_error(
        replace(kBase, "apps: [10.201.0.0/24]", "apps: [10.201.0.0/24, 10.200.0.0/16]"));
    EXPECT_NE(e.find("mesh address 10.200.0.1 of node 'edge-a' is in two identities ('edges' "
                     "and 'apps')"),
              std::string::npos)
        << e;
}

TEST(Config, EqualPrefixInTwoRolesIsATie)
{
    auto e = first_error(
        replace(kBase, "apps: [10.201.0.0/24]", "apps: [10.201.0.0/24, 10.200.0.0/24]"));
    EXPECT_EQ(e, "test.yaml:20:25: prefix 10.200.0.0/24 is in both 'edges' (line 19) and 'apps': "
                 "equal prefixes cannot decide a role");
}

TEST(Config, MixedFamilyVipRejected)
{
    auto e = first_error(replace(kBase, "address: 198.51.100.10", "address: 2001:db8::10"));
    EXPECT_NE(e.find("IPv6 vip 'web' cannot be steered to edge 'edge-a': it has no mesh_ipv6"),
              std::string::npos)
        << e;
}

TEST(Config, RuleReferencesUnknownRole)
{
    auto e = first_error(replace(kBase, "to: apps", "to: appz"));
    EXPECT_EQ(e, "test.yaml:22:5: rule refers to unknown role 'appz' (an identity, world or any)");
}

TEST(Config, MissingSectionsAndWrongTypes)
{
    auto r = parse("version: 1\nnodes: 3\n");
    ASSERT_GE(r.errors.size(), 3u);
    EXPECT_EQ(r.errors[0].str(),
              "test.yaml:1:1: missing 'fleet:' (hash_seed, maglev_table_size, mesh_mtu)");
    EXPECT_EQ(r.errors[1].str(), "test.yaml:2:8: nodes must be a list");
}

TEST(Config, EveryErrorIsReportedNotJustTheFirst)
{
    std::string bad = replace(kBase, "mesh_ipv4: 10.200.0.2", "mesh_ipv4: banana");
    bad = replace(bad, "protocol: tcp\n    ports: [80", "protocol: sctp\n    ports: [80");
    auto r = parse(bad);
    ASSERT_EQ(r.errors.size(), 2u);
    EXPECT_EQ(r.errors[0].str(),
              "test.yaml:10:16: mesh_ipv4: 'banana' is not an IPv4 or IPv6 address");
    EXPECT_EQ(r.errors[1].str(), "test.yaml:16:15: protocol must be tcp or udp, not 'sctp'");
}

TEST(Config, ExamplePoliciesAreValid)
{
    for (const char *f : {"fleet-example.yaml"}) {
        auto r = xi::load_config(std::string(XI_SOURCE_DIR) + "/policies/" + f);
        EXPECT_TRUE(r.errors.empty()) << f << ": " << (r.errors.empty() ? "" : r.errors[0].str());
    }
}

} // namespace
