// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The nftables reference's translation (nft_reference.h): a Config as an nftables ruleset, from
// the documented policy model only. The namespaces that run it are in nft_reference.cpp.
#include "nft_reference.h"

#include <algorithm>
#include <arpa/inet.h>
#include <bitset>
#include <cstdio>
#include <map>
#include <netinet/in.h>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace xi::test
{

namespace
{

// The documented metadata services (ARCHITECTURE.md, issue #4), written here again on purpose:
// the reference must not inherit a mistake in our list.
const char *const kMetadataServices[] = {"169.254.169.254", "169.254.170.2", "168.63.129.16",
                                         "100.100.100.200", "fd00:ec2::254"};

constexpr int kAnyRole = -1;

std::string hex32(uint32_t v)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "0x%08x", v);
    return buf;
}

// "a.b.c.d/len" or "x::y/len"; IPv4 also as its IPv4-mapped IPv6 form when mapped is set.
std::string prefix_text(const Prefix &p, bool mapped)
{
    char buf[INET6_ADDRSTRLEN];
    if (p.addr.v4 && !mapped) {
        inet_ntop(AF_INET, &p.addr.bytes[12], buf, sizeof(buf));
        return std::string(buf) + "/" + std::to_string(p.len);
    }
    inet_ntop(AF_INET6, p.addr.bytes.data(), buf, sizeof(buf));
    return std::string(buf) + "/" + std::to_string(p.mapped_len());
}

// Drop prefixes contained in another one (interval sets refuse overlapping elements).
std::vector<Prefix> outermost(std::vector<Prefix> v)
{
    std::sort(v.begin(), v.end(), [](const Prefix &a, const Prefix &b) {
        return a.mapped_len() != b.mapped_len() ? a.mapped_len() < b.mapped_len() : a < b;
    });
    std::vector<Prefix> out;
    for (const auto &p : v)
        if (std::none_of(out.begin(), out.end(), [&](const Prefix &o) { return o.contains(p); }))
            out.push_back(p);
    return out;
}

std::string role_key(int role)
{
    return role == kAnyRole ? "any" : std::to_string(role);
}

int role_number(const Config &c, const std::string &name)
{
    if (name == "any")
        return kAnyRole;
    if (name == "world")
        return 0;
    for (size_t i = 0; i < c.identities.size(); i++)
        if (c.identities[i].name == name)
            return static_cast<int>(i + 1);
    throw std::runtime_error("nft reference: unknown role '" + name + "'");
}

// Ports of a rule as a sorted list of disjoint, non-adjacent ranges.
std::vector<PortRange> merged_ports(const RuleCfg &r)
{
    std::vector<PortRange> v = r.ports, out;
    std::sort(v.begin(), v.end());
    for (const auto &p : v) {
        if (!out.empty() && uint32_t(p.lo) <= uint32_t(out.back().hi) + 1)
            out.back().hi = std::max(out.back().hi, p.hi);
        else
            out.push_back(p);
    }
    return out;
}

uint32_t ports_covered(const RuleCfg &r)
{
    if (r.ports.empty())
        return 65536;
    std::bitset<65536> bits;
    for (const auto &p : r.ports)
        for (uint32_t x = p.lo; x <= p.hi; x++)
            bits.set(x);
    return static_cast<uint32_t>(bits.count());
}

std::string rule_match(const RuleCfg &r)
{
    std::string m;
    switch (r.proto) {
    case -1:
        return "";
    case IPPROTO_ICMP:
        // "icmp" is ICMP of the packet's family: ICMPv4 in IPv4, ICMPv6 in IPv6.
        return "meta l4proto { icmp, ipv6-icmp } ";
    case IPPROTO_TCP:
        m = "meta l4proto tcp ";
        break;
    case IPPROTO_UDP:
        m = "meta l4proto udp ";
        break;
    default:
        throw std::runtime_error("nft reference: protocol " + std::to_string(r.proto));
    }
    if (r.ports.empty())
        return m;
    m += "th dport { ";
    bool first = true;
    for (const auto &p : merged_ports(r)) {
        m += (first ? "" : ", ") + std::to_string(p.lo);
        if (p.hi != p.lo)
            m += "-" + std::to_string(p.hi);
        first = false;
    }
    return m + " } ";
}

struct Emitter {
    const NftRefOptions &o;
    std::ostringstream s;

    std::string log(bool accept, const std::string &label)
    {
        return "log prefix \"" + std::string(accept ? "A " : "D ") + label + "\" group " +
               std::to_string(o.log_group) + (accept ? " accept" : " drop");
    }
    void set(const std::string &name, bool v6, const std::vector<std::string> &elems)
    {
        s << "  set " << name << " {\n    type " << (v6 ? "ipv6_addr" : "ipv4_addr")
          << "; flags interval\n    elements = { ";
        for (size_t i = 0; i < elems.size(); i++)
            s << (i ? ", " : "") << elems[i];
        s << " }\n  }\n";
    }
};

} // namespace

std::string nft_rule_label(size_t index)
{
    return "r" + std::to_string(index);
}

std::string nft_ruleset(const Config &c, const NftRefOptions &o)
{
    Emitter e{o, {}};
    auto &s = e.s;
    const std::string ifs = "{ \"" + o.mesh_if + "\", \"" + o.host_if + "\" }";
    s << "table inet " << o.table << " {\n";

    // Metadata services: the documented list plus metadata_extra; IPv4 ones also in their
    // IPv4-mapped IPv6 form.
    std::vector<Prefix> meta4, meta6;
    if (c.metadata_block) {
        std::vector<Prefix> all;
        std::string err;
        for (const char *a : kMetadataServices)
            all.push_back(*Prefix::parse(a, &err));
        for (const auto &p : c.metadata_extra)
            all.push_back(p.prefix);
        for (const auto &p : outermost(all))
            (p.addr.v4 ? meta4 : meta6).push_back(p);
    }
    std::vector<std::string> m4, m6;
    for (const auto &p : meta4) {
        m4.push_back(prefix_text(p, false));
        m6.push_back(prefix_text(p, true));
    }
    for (const auto &p : meta6)
        m6.push_back(prefix_text(p, false));
    if (!m4.empty())
        e.set("metadata4", false, m4);
    if (!m6.empty())
        e.set("metadata6", true, m6);

    // Identities: one set per (identity, family, prefix length); IPv4 prefixes are also put in
    // the IPv6 sets in their IPv4-mapped form (our address model: IPv4 is ::ffff:a.b.c.d).
    struct Group {
        int len; // in the family's bits (IPv6 sets: 128-bit length)
        int role;
        bool v6;
        std::vector<std::string> elems;
        std::string name() const
        {
            return "id" + std::to_string(role) + (v6 ? "_v6_" : "_v4_") + std::to_string(len);
        }
    };
    std::map<std::tuple<bool, int, int>, Group> groups; // (v6, -len, role)
    auto add = [&](bool v6, int len, int role, const std::string &elem) {
        auto [it, fresh] = groups.try_emplace({v6, -len, role}, Group{len, role, v6, {}});
        it->second.elems.push_back(elem);
    };
    for (size_t i = 0; i < c.identities.size(); i++) {
        int role = static_cast<int>(i + 1);
        for (const auto &pc : c.identities[i].prefixes) {
            const Prefix &p = pc.prefix;
            if (p.addr.v4)
                add(false, p.len, role, prefix_text(p, false));
            add(true, p.mapped_len(), role, prefix_text(p, p.addr.v4));
        }
    }
    for (const auto &[k, g] : groups)
        e.set(g.name(), g.v6, g.elems);

    // Role classification, longest prefix first (the map iterates by descending length).
    for (int dst = 0; dst < 2; dst++) {
        s << "  chain " << (dst ? "dst_role" : "src_role") << " {\n";
        for (const auto &[k, g] : groups) {
            uint32_t bits = dst ? uint32_t(g.role) : uint32_t(g.role) << 16;
            s << "    " << (g.v6 ? "ip6 " : "ip ") << (dst ? "daddr" : "saddr") << " @" << g.name()
              << " meta mark set meta mark | " << hex32(bits) << " return\n";
        }
        s << "  }\n";
    }

    // Rules: one chain per role pair, in precedence order.
    std::map<std::pair<int, int>, std::vector<size_t>> pairs;
    for (size_t i = 0; i < c.rules.size(); i++)
        pairs[{role_number(c, c.rules[i].from), role_number(c, c.rules[i].to)}].push_back(i);
    for (auto &[pair, idx] : pairs) {
        std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
            const auto &ra = c.rules[a], &rb = c.rules[b];
            if ((ra.proto >= 0) != (rb.proto >= 0))
                return ra.proto >= 0; // a specific protocol first
            if (ports_covered(ra) != ports_covered(rb))
                return ports_covered(ra) < ports_covered(rb); // then fewer ports
            if (ra.action != rb.action)
                return ra.action == Action::Deny; // then deny over allow
            return a < b;                         // then file order
        });
        s << "  chain p_" << role_key(pair.first) << "_" << role_key(pair.second) << " {\n";
        for (auto i : idx)
            s << "    " << rule_match(c.rules[i])
              << e.log(c.rules[i].action == Action::Allow, nft_rule_label(i)) << "\n";
        s << "  }\n";
    }

    // Before defragmentation and conntrack: the harness's sentinel.
    s << "  chain sentinel {\n    type filter hook prerouting priority -450; policy accept;\n"
      << "    iifname " << ifs << " ip saddr 100.64.254.1 ip daddr 100.64.254.2 udp dport 9 "
      << "log prefix \"SENTINEL\" group " << o.log_group << " drop\n  }\n";

    s << "  chain mesh_policy {\n    type filter hook prerouting priority mangle; policy accept;\n";
    s << "    iifname != " << ifs << " accept\n";
    if (!m4.empty())
        for (const char *dir : {"saddr", "daddr"})
            s << "    ip " << dir << " @metadata4 " << e.log(false, "meta") << "\n";
    if (!m6.empty())
        for (const char *dir : {"saddr", "daddr"})
            s << "    ip6 " << dir << " @metadata6 " << e.log(false, "meta") << "\n";
    // Neighbour discovery proves it is on the link by hop limit 255; MLD by a link-local source.
    s << "    meta nfproto ipv6 icmpv6 type { 133-137 } ip6 hoplimit 255 " << e.log(true, "ndp")
      << "\n";
    s << "    meta nfproto ipv6 icmpv6 type { 130-132, 143 } ip6 saddr fe80::/10 "
      << e.log(true, "mld") << "\n";
    s << "    ct state established " << e.log(true, "est") << "\n";
    s << "    ct state related " << e.log(true, "rel") << "\n";
    s << "    meta mark set 0\n    jump src_role\n    jump dst_role\n";
    std::vector<std::string> ro;
    for (const auto &r : c.reply_only)
        ro.push_back(hex32(uint32_t(role_number(c, r)) << 16));
    if (!ro.empty()) {
        s << "    meta mark & 0xffff0000 { ";
        for (size_t i = 0; i < ro.size(); i++)
            s << (i ? ", " : "") << ro[i];
        s << " } " << e.log(false, "reply-only") << "\n";
    }
    auto vmap = [&](const std::string &key, auto select) {
        std::vector<std::string> el;
        for (const auto &[pair, idx] : pairs)
            if (auto v = select(pair))
                el.push_back(hex32(*v) + " : jump p_" + role_key(pair.first) + "_" +
                             role_key(pair.second));
        if (el.empty())
            return;
        s << "    " << key << " vmap { ";
        for (size_t i = 0; i < el.size(); i++)
            s << (i ? ", " : "") << el[i];
        s << " }\n";
    };
    using Opt = std::optional<uint32_t>;
    vmap("meta mark", [](std::pair<int, int> p) -> Opt {
        if (p.first == kAnyRole || p.second == kAnyRole)
            return std::nullopt;
        return uint32_t(p.first) << 16 | uint32_t(p.second);
    });
    vmap("meta mark & 0xffff0000", [](std::pair<int, int> p) -> Opt {
        if (p.first == kAnyRole || p.second != kAnyRole)
            return std::nullopt;
        return uint32_t(p.first) << 16;
    });
    vmap("meta mark & 0x0000ffff", [](std::pair<int, int> p) -> Opt {
        if (p.first != kAnyRole || p.second == kAnyRole)
            return std::nullopt;
        return uint32_t(p.second);
    });
    if (pairs.count({kAnyRole, kAnyRole}))
        s << "    jump p_any_any\n";
    s << "    iifname \"" << o.mesh_if << "\" " << e.log(c.default_ingress_allow, "default-ingress")
      << "\n";
    s << "    iifname \"" << o.host_if << "\" " << e.log(c.default_egress_allow, "default-egress")
      << "\n";
    s << "  }\n}\n";
    return s.str();
}

} // namespace xi::test
