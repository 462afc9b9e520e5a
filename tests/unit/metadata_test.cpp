// Metadata addresses in every form a packet can carry them (loader/model/metadata.cpp): the
// RFC 6052 embeddings checked against the RFC's own examples, the identity table flagging each
// form, and the config's metadata_exclude and nat64_prefixes with their errors.
#include <algorithm>
#include <cstring>
#include <gtest/gtest.h>

#include "base_config.h"
#include "config.h"
#include "metadata.h"
#include "policy.h"

namespace
{

xi::Prefix pfx(const char *text)
{
    std::string err;
    auto p = xi::Prefix::parse(text, &err);
    EXPECT_TRUE(p) << text << ": " << err;
    return p.value_or(xi::Prefix{});
}

// IPv6 text of an address the config would refuse as non-canonical (::a.b.c.d): by bytes.
xi::Prefix v6(std::initializer_list<int> bytes, int len)
{
    xi::Prefix p{};
    int i = 0;
    for (int b : bytes)
        p.addr.bytes[i++] = uint8_t(b);
    p.len = len;
    return p;
}

TEST(MetadataForms, Rfc6052ExamplesOfEveryPrefixLength)
{
    // RFC 6052 2.4: 192.0.2.33 under each prefix length. The entry ends with the last IPv4
    // bit, so a suffix a translator ignores does not take the packet past it.
    struct Case {
        const char *nat64, *address;
        int len;
    };
    const Case cases[] = {
        {"2001:db8::/32", "2001:db8:c000:221::", 64},
        {"2001:db8:100::/40", "2001:db8:1c0:2:21::", 80},
        {"2001:db8:122::/48", "2001:db8:122:c000:2:2100::", 88},
        {"2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::", 96},
        {"2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0", 104},
        {"2001:db8:122:344::/96", "2001:db8:122:344::c000:221", 128},
    };
    for (const auto &c : cases) {
        auto forms = xi::ipv6_forms_of(pfx("192.0.2.33"), {pfx(c.nat64)});
        ASSERT_EQ(forms.size(), 2u);
        EXPECT_EQ(forms[1].addr, pfx(c.address).addr) << c.nat64 << " gave " << forms[1].str();
        EXPECT_EQ(forms[1].len, c.len) << c.nat64;
    }
}

TEST(MetadataForms, CompatibleFormAndPrefixesKeepTheirLength)
{
    auto forms = xi::ipv6_forms_of(pfx("169.254.169.254"), {pfx("64:ff9b::/96")});
    ASSERT_EQ(forms.size(), 2u);
    EXPECT_EQ(forms[0], v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 169, 254, 169, 254}, 128));
    EXPECT_EQ(forms[1], pfx("64:ff9b::a9fe:a9fe/128"));
    // A /24 stays a prefix: its 24 bits right after a /40 NAT64 prefix (octet u not reached).
    auto net = xi::ipv6_forms_of(pfx("169.254.170.0/24"), {pfx("2001:db8::/40")});
    EXPECT_EQ(net[1], pfx("2001:db8:a9:feaa::/64")) << net[1].str();
    EXPECT_EQ(net[0].len, 120);
    EXPECT_TRUE(xi::ipv6_forms_of(pfx("fd00:ec2::254"), {pfx("64:ff9b::/96")}).empty());
}

xi::Config config(const std::string &extra)
{
    auto r = xi::parse_config(xi::test::kBase + extra, "test.yaml");
    EXPECT_TRUE(r.errors.empty()) << r.errors[0].str();
    return *r.config;
}

bool flagged_metadata(const xi::Config &c, const xi::Prefix &p)
{
    auto idents = xi::compile_identities(c, {"edge-a", "edge-b", "app-1"});
    auto key = p.addr.to_xi();
    return std::any_of(idents.begin(), idents.end(), [&](const auto &e) {
        return e.first.prefixlen == uint32_t(p.mapped_len()) &&
               std::memcmp(&e.first.addr, &key, sizeof(key)) == 0 &&
               (e.second.flags & XI_IDENT_F_METADATA);
    });
}

TEST(MetadataForms, IdentityTableFlagsEveryFormOfEveryEndpoint)
{
    auto c = config("nat64_prefixes: [2001:db8:64::/48]\n");
    for (const auto &a : xi::metadata_addresses())
        EXPECT_TRUE(flagged_metadata(c, pfx(a.c_str()))) << a;
    EXPECT_TRUE(flagged_metadata(c, pfx("169.254.170.23")));
    EXPECT_TRUE(flagged_metadata(c, pfx("fd00:ec2::23")));
    EXPECT_TRUE(
        flagged_metadata(c, v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 169, 254, 169, 254}, 128)));
    EXPECT_TRUE(flagged_metadata(c, pfx("64:ff9b::a9fe:a9fe")));
    EXPECT_TRUE(flagged_metadata(c, pfx("64:ff9b::a83f:8110"))); // 168.63.129.16
    // 169.254.169.254 under 2001:db8:64::/48: a9 fe . a9 | u | fe
    EXPECT_TRUE(flagged_metadata(c, pfx("2001:db8:64:a9fe:a9:fe00::/88")));
    EXPECT_FALSE(flagged_metadata(c, pfx("64:ff9b::a9fe:a9fd")));
}

TEST(MetadataForms, ExcludedEndpointLosesEveryForm)
{
    auto c = config("metadata_exclude: [168.63.129.16]\n");
    EXPECT_FALSE(flagged_metadata(c, pfx("168.63.129.16")));
    EXPECT_FALSE(flagged_metadata(c, pfx("64:ff9b::a83f:8110")));
    EXPECT_TRUE(flagged_metadata(c, pfx("169.254.169.254")));
}

std::string first_error(const std::string &extra)
{
    auto r = xi::parse_config(xi::test::kBase + extra, "test.yaml");
    return r.errors.empty() ? "" : r.errors[0].str();
}

TEST(MetadataForms, ConfigErrorsNameTheLine)
{
    const int line = std::count(xi::test::kBase.begin(), xi::test::kBase.end(), '\n') + 1;
    const std::string at = "test.yaml:" + std::to_string(line) + ":";
    EXPECT_EQ(first_error("metadata_exclude: [10.0.0.1]\n"),
              at + "20: metadata_exclude: 10.0.0.1/32 is not a built-in metadata address "
                   "(docs/policy.md lists them)");
    EXPECT_EQ(first_error("nat64_prefixes: [2001:db8::/44]\n"),
              at + "18: nat64_prefixes: 2001:db8::/44: a NAT64 prefix is /32, /40, /48, /56, "
                   "/64 or /96 (RFC 6052)");
    EXPECT_EQ(first_error("nat64_prefixes: [10.0.0.0/8]\n"),
              at + "18: nat64_prefixes: 10.0.0.0/8: a NAT64 prefix is IPv6");
    EXPECT_EQ(
        first_error("nat64_prefixes: [64:ff9b:1::/48]\nmetadata_exclude: [fe80::a9fe:a9fe]\n"), "");
}

} // namespace
