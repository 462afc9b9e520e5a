// The rule compiler: port ranges to prefixes, precedence resolved into disjoint LPM entries
// (checked against a direct implementation of the documented precedence on random packets),
// and the errors it reports with file:line.
#include <algorithm>
#include <cstring>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <random>

#include "compile.h"
#include "config.h"
#include "policy.h"

namespace xi
{
namespace
{

TEST(PortPrefixes, CoverTheRangeExactlyWithAlignedBlocks)
{
    EXPECT_EQ(port_range_prefixes(0, 65535), (std::vector<std::pair<uint16_t, int>>{{0, 0}}));
    EXPECT_EQ(port_range_prefixes(80, 80), (std::vector<std::pair<uint16_t, int>>{{80, 16}}));
    EXPECT_EQ(port_range_prefixes(1024, 65535),
              (std::vector<std::pair<uint16_t, int>>{
                  {1024, 6}, {2048, 5}, {4096, 4}, {8192, 3}, {16384, 2}, {32768, 1}}));
    std::mt19937 rng(7);
    for (int i = 0; i < 2000; i++) {
        uint16_t a = rng(), b = rng();
        uint16_t lo = std::min(a, b), hi = std::max(a, b);
        auto blocks = port_range_prefixes(lo, hi);
        uint32_t next = lo;
        EXPECT_LE(blocks.size(), 30u);
        for (auto [start, bits] : blocks) {
            uint32_t size = 1u << (16 - bits);
            ASSERT_EQ(start, next);
            ASSERT_EQ(start % size, 0u) << "aligned";
            next = start + size;
        }
        ASSERT_EQ(next, uint32_t(hi) + 1);
    }
}

// The precedence as documented, applied directly to the rules (no tries, no intervals).
int reference(const Config &c, uint16_t src, uint16_t dst, int proto, uint16_t port)
{
    auto count = [](const RuleCfg &r) -> uint32_t {
        if (r.ports.empty())
            return 65536;
        std::vector<bool> seen(65536);
        uint32_t n = 0;
        for (auto p : r.ports)
            for (uint32_t x = p.lo; x <= p.hi; x++)
                if (!seen[x]) {
                    seen[x] = true;
                    n++;
                }
        return n;
    };
    for (auto [s, d] : {std::pair{src, dst},
                        {src, uint16_t(XI_ROLE_ANY)},
                        {uint16_t(XI_ROLE_ANY), dst},
                        {uint16_t(XI_ROLE_ANY), uint16_t(XI_ROLE_ANY)}}) {
        const RuleCfg *best = nullptr;
        for (const auto &r : c.rules) {
            if (role_id(c, r.from) != s || role_id(c, r.to) != d)
                continue;
            // icmp is ICMP of the packet's family: ICMPv6 too.
            if (r.proto >= 0 && r.proto != proto &&
                !(r.proto == IPPROTO_ICMP && proto == IPPROTO_ICMPV6))
                continue;
            bool ported = proto == IPPROTO_TCP || proto == IPPROTO_UDP;
            if (!r.ports.empty() &&
                !(ported && std::any_of(r.ports.begin(), r.ports.end(), [&](const PortRange &p) {
                      return port >= p.lo && port <= p.hi;
                  })))
                continue;
            if (!best) {
                best = &r;
                continue;
            }
            bool rs = r.proto >= 0, bs = best->proto >= 0;
            if (rs != bs) {
                if (rs)
                    best = &r;
                continue;
            }
            if (count(r) != count(*best)) {
                if (count(r) < count(*best))
                    best = &r;
                continue;
            }
            if (r.action != best->action && r.action == Action::Deny)
                best = &r;
        }
        if (best)
            return best->action == Action::Allow ? 1 : 2;
    }
    return 0;
}

// The datapath's lookup over the compiled entries: four probes, longest prefix each.
int compiled(const std::vector<std::pair<xi_rule_key, xi_rule>> &entries, uint16_t src,
             uint16_t dst, int proto, uint16_t port)
{
    bool ported = proto == IPPROTO_TCP || proto == IPPROTO_UDP;
    uint8_t key[7] = {0,
                      0,
                      0,
                      0,
                      uint8_t(proto),
                      uint8_t(ported ? port >> 8 : 0),
                      uint8_t(ported ? port & 0xff : 0)};
    for (auto [s, d] : {std::pair{src, dst},
                        {src, uint16_t(XI_ROLE_ANY)},
                        {uint16_t(XI_ROLE_ANY), dst},
                        {uint16_t(XI_ROLE_ANY), uint16_t(XI_ROLE_ANY)}}) {
        std::memcpy(key, &s, 2);
        std::memcpy(key + 2, &d, 2);
        int best_len = -1, action = 0;
        for (const auto &[k, v] : entries) {
            const uint8_t *data = reinterpret_cast<const uint8_t *>(&k) + 4;
            bool match = true;
            for (uint32_t b = 0; b < k.prefixlen && match; b++)
                match = ((data[b / 8] ^ key[b / 8]) >> (7 - b % 8) & 1) == 0;
            if (match && int(k.prefixlen) > best_len) {
                best_len = k.prefixlen;
                action = v.action;
            }
        }
        if (best_len >= 0)
            return action;
    }
    return 0;
}

Config random_policy(std::mt19937 &rng, int n_rules)
{
    Config c;
    c.path = "random.yaml";
    for (const char *n : {"a", "b", "c"})
        c.identities.push_back({{}, n, {}});
    const char *roles[] = {"a", "b", "c", "any", "world"};
    const int protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, -1};
    for (int i = 0; i < n_rules; i++) {
        RuleCfg r;
        r.pos = {i + 1, 1};
        r.name = "r" + std::to_string(i);
        r.named = true;
        r.from = roles[rng() % 5];
        r.to = roles[rng() % 5];
        r.proto = protos[rng() % 4];
        if ((r.proto == IPPROTO_TCP || r.proto == IPPROTO_UDP) && rng() % 4) {
            for (unsigned k = 0, n = 1 + rng() % 3; k < n; k++) {
                uint16_t lo = rng() % 200, hi = lo + rng() % 50;
                r.ports.push_back({lo, hi});
            }
        }
        r.action = rng() % 2 ? Action::Allow : Action::Deny;
        c.rules.push_back(r);
    }
    return c;
}

TEST(PolicyCompiler, EntriesImplementTheDocumentedPrecedence)
{
    std::mt19937 rng(1234);
    int checked = 0;
    for (int round = 0; round < 40; round++) {
        Config c = random_policy(rng, 4 + round % 12);
        std::vector<std::pair<xi_rule_key, xi_rule>> entries;
        std::vector<std::string> slots;
        compile_rules(c, {}, entries, slots);
        for (int i = 0; i < 400; i++) {
            uint16_t s = rng() % 4, d = rng() % 4; // roles 0 (world) .. 3
            int proto = std::vector<int>{IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6,
                                         47}[rng() % 5];
            uint16_t port = rng() % 260;
            ASSERT_EQ(compiled(entries, s, d, proto, port), reference(c, s, d, proto, port))
                << "round " << round << " src " << s << " dst " << d << " proto " << proto
                << " port " << port;
            checked++;
        }
    }
    EXPECT_EQ(checked, 16000);
}

std::vector<ConfigError> errors_of(const std::string &rules)
{
    std::string text = R"(version: 1
fleet:
  hash_seed: 1
nodes:
  - name: n1
    mesh_ipv4: 10.0.0.1
identities:
  a: [10.0.0.0/24]
  b: [10.1.0.0/24]
default:
  ingress: deny
  egress: allow
rules:
)" + rules;
    return parse_config(text, "p.yaml").errors;
}

TEST(PolicyCompiler, IcmpRulesCoverIcmpv6)
{
    // Found by the nftables differential test: `protocol: icmp` had no entry for ICMPv6, so no
    // rule could allow IPv6 ping short of `any`.
    auto res = parse_config(R"(version: 1
fleet:
  hash_seed: 1
nodes:
  - name: n1
    mesh_ipv4: 10.0.0.1
identities:
  a: [10.0.0.0/24, "fd00::/64"]
  b: [10.1.0.0/24]
rules:
  - {name: ping, from: a, to: any, protocol: icmp, action: allow}
  - {name: no-ping, from: any, to: b, protocol: icmp, action: deny}
default:
  ingress: deny
  egress: allow
)",
                            "i.yaml");
    ASSERT_TRUE(res.errors.empty()) << res.errors[0].str();
    std::vector<std::pair<xi_rule_key, xi_rule>> entries;
    std::vector<std::string> slots;
    compile_rules(*res.config, {}, entries, slots);
    for (int proto : {int(IPPROTO_ICMP), int(IPPROTO_ICMPV6)}) {
        EXPECT_EQ(compiled(entries, 1, 0, proto, 0), 1) << proto;
        EXPECT_EQ(compiled(entries, 0, 2, proto, 0), 2) << proto;
        EXPECT_EQ(compiled(entries, 0, 1, proto, 0), 0) << proto;
    }
    EXPECT_EQ(compiled(entries, 1, 0, IPPROTO_TCP, 0), 0);
}

TEST(PolicyCompiler, IdentitiesInsideAMetadataPrefixStayDenied)
{
    // Found by the nftables differential test: an identity prefix longer than a metadata prefix
    // wins the LPM lookup, so it must carry the metadata flag itself; and the metadata entry's
    // own role is that of an identity containing all of it, not of its first address.
    auto res = parse_config(R"(version: 1
fleet:
  hash_seed: 1
nodes:
  - name: n1
    mesh_ipv4: 10.0.0.1
identities:
  a: [10.0.0.0/24]
  lab: [198.18.0.0/30]
  tests: [198.18.0.0/15]
default:
  ingress: deny
  egress: allow
metadata_extra: [198.18.0.0/28]
)",
                            "m.yaml");
    ASSERT_TRUE(res.errors.empty()) << res.errors[0].str();
    CompileInput in;
    in.config = &*res.config;
    in.node = "n1";
    auto g = compile_generation(in);
    auto find = [&](const char *text) -> const xi_ident * {
        std::string err;
        auto p = Prefix::parse(text, &err);
        for (const auto &[k, v] : g.idents)
            if (k.prefixlen == uint32_t(p->mapped_len()) &&
                std::memcmp(&k.addr, p->addr.bytes.data(), 16) == 0)
                return &v;
        return nullptr;
    };
    const xi_ident *lab = find("198.18.0.0/30"), *meta = find("198.18.0.0/28");
    ASSERT_TRUE(lab && meta);
    EXPECT_EQ(lab->role, role_id(*res.config, "lab"));
    EXPECT_TRUE(lab->flags & XI_IDENT_F_METADATA);
    EXPECT_EQ(meta->role, role_id(*res.config, "tests"));
    EXPECT_TRUE(meta->flags & XI_IDENT_F_METADATA);
    const xi_ident *tests = find("198.18.0.0/15");
    ASSERT_TRUE(tests);
    EXPECT_FALSE(tests->flags & XI_IDENT_F_METADATA);
}

TEST(PolicyCompiler, OppositeActionsOnTheSameMatchAreAConflict)
{
    auto e =
        errors_of(R"(  - {name: open, from: a, to: b, protocol: tcp, ports: [80], action: allow}
  - {name: shut, from: a, to: b, protocol: tcp, ports: [80], action: deny}
)");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].str(), "p.yaml:15:5: rule 'shut' and rule 'open' (line 14) match the same "
                          "traffic with opposite actions");
}

TEST(PolicyCompiler, ShadowedRulesAreUnreachable)
{
    // The second rule's ports are all decided by the narrower deny and the equal-size deny.
    auto e =
        errors_of(R"(  - {name: a, from: a, to: b, protocol: tcp, ports: ["80-81"], action: deny}
  - {name: b, from: a, to: b, protocol: tcp, ports: ["80-81"], action: deny}
  - {name: c, from: a, to: b, protocol: udp, action: allow}
)");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].str(), "p.yaml:15:5: rule 'b' is unreachable: every packet it matches is "
                          "decided by rule 'a' (line 14)");
    e = errors_of(R"(  - {name: wide, from: a, to: b, protocol: tcp, ports: ["1-10"], action: allow}
  - {name: hole1, from: a, to: b, protocol: tcp, ports: ["1-5"], action: deny}
  - {name: hole2, from: a, to: b, protocol: tcp, ports: ["6-10"], action: deny}
)");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].str(), "p.yaml:14:5: rule 'wide' is unreachable: every packet it matches is "
                          "decided by more specific or earlier rules");
}

TEST(PolicyCompiler, DuplicateNamesAndUnknownRoles)
{
    auto e = errors_of(R"(  - {name: x, from: a, to: b, protocol: tcp, ports: [80], action: allow}
  - {name: x, from: a, to: b, protocol: tcp, ports: [81], action: allow}
  - {from: a, to: nobody, action: allow}
)");
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0].str(), "p.yaml:15:5: duplicate rule name 'x' (first at line 14)");
    EXPECT_EQ(e[1].str(),
              "p.yaml:16:5: rule refers to unknown role 'nobody' (an identity, world or any)");
}

TEST(PolicyCompiler, RulesFromReplyOnlyRolesAreRejected)
{
    auto e =
        errors_of(R"(  - {name: b-out, from: b, to: a, protocol: tcp, ports: [80], action: allow}
reply_only: [b]
)");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].str(), "p.yaml:14:5: rule 'b-out' never applies: 'b' is reply_only, it may "
                          "only answer connections opened towards it");
}

TEST(PolicyCompiler, RuleSlotsAreStableAcrossReloads)
{
    auto e = errors_of("");
    ASSERT_TRUE(e.empty());
    Config c;
    c.path = "x";
    c.identities.push_back({{}, "a", {}});
    for (const char *n : {"one", "two", "three"})
        c.rules.push_back({{1, 1}, n, true, "a", "a", IPPROTO_TCP, {{1, 1}}, Action::Allow});
    std::vector<std::pair<xi_rule_key, xi_rule>> entries;
    std::vector<std::string> first, second;
    compile_rules(c, {}, entries, first);
    // "two" goes away, "four" arrives: one and three keep their slots, four takes a new one.
    c.rules.erase(c.rules.begin() + 1);
    c.rules.push_back({{1, 1}, "four", true, "a", "a", IPPROTO_TCP, {{2, 2}}, Action::Allow});
    entries.clear();
    compile_rules(c, first, entries, second);
    auto slot = [](const std::vector<std::string> &v, const std::string &n) {
        return std::find(v.begin(), v.end(), n) - v.begin();
    };
    EXPECT_EQ(slot(second, "one"), slot(first, "one"));
    EXPECT_EQ(slot(second, "three"), slot(first, "three"));
    EXPECT_NE(slot(second, "four"), slot(first, "two")); // a freed slot is not reused at once
}

} // namespace
} // namespace xi
