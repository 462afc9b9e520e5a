// Identities -> the datapath's identity LPM entries (xi_idents): each prefix of a role, the
// cloud metadata prefixes, the nodes' mesh addresses, each with the role, flags and node slot
// the datapath learns from one lookup.
#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>

#include "metadata.h"
#include "netaddr.h"
#include "policy.h"
#include "xi_hash.h"

namespace xi
{

namespace
{

// Role of a prefix (an address is a host prefix) = the identity with the longest prefix
// containing all of it (0 = world); identity prefixes inside it are entries of their own.
uint16_t role_of(const PrefixMap<uint16_t> &roles, const Prefix &q)
{
    const uint16_t *r = roles.longest(q);
    return r ? *r : XI_ROLE_WORLD;
}

// The identity entries as the datapath keys them: (prefix length as IPv6, 16 bytes), IPv4
// mapped. A hash index over a vector, sorted once at the end: with 100,000 identity prefixes a
// std::map keyed by 20 bytes cost a third of `validate`'s CPU time.
struct IdentEntry {
    uint32_t len;
    std::array<uint8_t, 16> bytes;
    Prefix prefix;
    xi_ident v;
};

struct IdentKeyHash {
    size_t operator()(const std::pair<uint32_t, std::array<uint8_t, 16>> &k) const
    {
        return hash_addr(k.second, k.first);
    }
};

// An IPv6 prefix shorter than /96 that spans ::ffff:0:0/96, where IPv4 is keyed.
bool spans_ipv4(const Prefix &p)
{
    static const IpAddr v4_range{IpAddr::parse("0.0.0.0")->bytes, false}; // ::ffff:0.0.0.0
    return !p.addr.v4 && p.len < 96 && p.contains(v4_range);
}

// Reply-only is a property of the role; every entry of that role carries the flag, so the
// datapath learns it from the lookup it does anyway. Indexed by role id.
std::vector<uint16_t> role_flags_of(const Config &c)
{
    std::vector<uint16_t> flags(c.identities.size() + 1, 0);
    for (size_t i = 0; i < c.identities.size(); i++)
        if (std::find(c.reply_only.begin(), c.reply_only.end(), c.identities[i].name) !=
            c.reply_only.end())
            flags[role_of_identity(i)] = XI_IDENT_F_REPLY_ONLY;
    return flags;
}

} // namespace

std::vector<std::pair<xi_ident_key, xi_ident>>
compile_identities(const Config &c, const std::vector<std::string> &node_slots)
{
    std::vector<IdentEntry> entries;
    std::unordered_map<std::pair<uint32_t, std::array<uint8_t, 16>>, size_t, IdentKeyHash> index;
    size_t expected = c.nodes.size() * 2 + c.metadata_extra.size() + 8;
    for (const auto &id : c.identities)
        expected += id.prefixes.size();
    entries.reserve(expected);
    index.reserve(expected);
    // The first put of a prefix decides its role; later ones add flags (and a node's slot).
    auto put = [&](const Prefix &p, uint16_t role, uint16_t flags, uint16_t node) {
        auto len = static_cast<uint32_t>(p.mapped_len());
        auto [it, fresh] = index.try_emplace({len, p.addr.bytes}, entries.size());
        if (fresh) {
            entries.push_back({len, p.addr.bytes, p, xi_ident{role, flags, node, 0}});
            return;
        }
        auto &v = entries[it->second].v;
        v.flags |= flags;
        if (flags & XI_IDENT_F_NODE)
            v.node = node;
    };
    const std::vector<uint16_t> flags_of_role = role_flags_of(c);
    auto role_flags = [&](uint16_t role) -> uint16_t { return flags_of_role[role]; };
    PrefixMap<uint16_t> roles;
    roles.reserve(expected);
    for (size_t i = 0; i < c.identities.size(); i++) {
        uint16_t role = role_of_identity(i);
        for (const auto &p : c.identities[i].prefixes) {
            put(p.prefix, role, role_flags(role), XI_NODE_NONE);
            roles.insert(p.prefix, role);
        }
    }

    PrefixMap<bool> metadata_index;
    for (const auto &p : metadata_prefixes_all_forms(c)) {
        metadata_index.insert(p, true);
        uint16_t role = role_of(roles, p);
        put(p, role, XI_IDENT_F_METADATA | role_flags(role), XI_NODE_NONE);
    }

    for (const auto &n : c.nodes) {
        uint16_t slot =
            std::find(node_slots.begin(), node_slots.end(), n.name) - node_slots.begin();
        uint16_t flags = XI_IDENT_F_NODE | (n.is_edge() ? XI_IDENT_F_EDGE : 0);
        for (const auto &a : {n.mesh4, n.mesh6}) {
            if (!a)
                continue;
            uint16_t role = role_of(roles, Prefix{*a, a->v4 ? 32 : 128});
            put(Prefix{*a, a->v4 ? 32 : 128}, role, flags | role_flags(role), slot);
        }
    }
    // IPv4 is keyed as ::ffff:a.b.c.d, so an IPv6 prefix shorter than /96 that spans that
    // range (::/0, ::/64, ::/80) would hand every IPv4 address no IPv4 identity holds to its
    // IPv6 role. An IPv4 0.0.0.0/0 entry (that key, /96) keeps IPv4 to IPv4's own roles: world,
    // unless an IPv4 /0 identity is there already.
    static const IpAddr v4_any = *IpAddr::parse("0.0.0.0");
    if (std::any_of(entries.begin(), entries.end(),
                    [](const IdentEntry &e) { return spans_ipv4(e.prefix); }))
        put(Prefix{v4_any, 0}, XI_ROLE_WORLD, 0, XI_NODE_NONE);
    // The longest prefix wins the lookup: an identity or node prefix inside a metadata prefix
    // must carry the metadata flag too, or it would take its addresses out of the deny list.
    for (auto &e : entries)
        if (metadata_index.longest(e.prefix))
            e.v.flags |= XI_IDENT_F_METADATA;
    std::sort(entries.begin(), entries.end(), [](const IdentEntry &a, const IdentEntry &b) {
        return a.len != b.len ? a.len < b.len : a.bytes < b.bytes;
    });
    std::vector<std::pair<xi_ident_key, xi_ident>> out;
    out.reserve(entries.size());
    for (const auto &e : entries) {
        xi_ident_key key{};
        key.prefixlen = e.len;
        std::memcpy(&key.addr, e.bytes.data(), 16);
        out.emplace_back(key, e.v);
    }
    return out;
}

} // namespace xi
