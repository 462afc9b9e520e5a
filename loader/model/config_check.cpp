#include "config_check.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <netinet/in.h>
#include <set>

#include "compile.h"
#include "maglev.h"
#include "metadata.h"
#include "policy.h"

namespace xi
{

bool valid_name(const std::string &s)
{
    if (s.empty() || s.size() > 63)
        return false;
    for (char ch : s)
        if (!isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.')
            return false;
    return true;
}

namespace
{

// The kernel's own rule (dev_valid_name): 1-15 bytes, not "." or "..", no '/', ':' or
// whitespace. ':' would name an alias label, not a device.
bool valid_ifname(const std::string &s)
{
    if (s.empty() || s.size() >= 16 || s == "." || s == "..")
        return false;
    for (char ch : s)
        if (ch == '/' || ch == ':' || isspace(static_cast<unsigned char>(ch)))
            return false;
    return true;
}

// Why `a` cannot be a unicast address of a host (mesh address or VIP), or "".
std::string not_unicast(const IpAddr &a)
{
    const auto &b = a.bytes;
    if (a.v4) {
        if (b[12] == 0)
            return "is in 0.0.0.0/8 (this network)";
        if (b[12] == 127)
            return "is a loopback address";
        if (b[12] >= 224 && b[12] < 240)
            return "is a multicast address";
        if (b[12] >= 240)
            return b[12] == 255 && b[13] == 255 && b[14] == 255 && b[15] == 255
                       ? "is the broadcast address"
                       : "is in 240.0.0.0/4 (reserved)";
        return "";
    }
    bool zero_to_14 = std::all_of(b.begin(), b.begin() + 15, [](uint8_t x) { return x == 0; });
    if (zero_to_14 && b[15] == 0)
        return "is the unspecified address";
    if (zero_to_14 && b[15] == 1)
        return "is the loopback address";
    if (b[0] == 0xff)
        return "is a multicast address";
    return "";
}

struct Checker {
    Config &c;
    std::vector<ConfigError> &errors;

    void error(Pos p, const std::string &msg) { errors.push_back({c.path, p, msg}); }

    void nodes()
    {
        std::map<std::string, const NodeCfg *> names;
        std::map<IpAddr, const NodeCfg *> addrs;
        size_t edges = 0;
        if (c.nodes.empty())
            error({}, "no nodes: list every node of the fleet under 'nodes:'");
        if (c.nodes.size() > XI_MAX_NODES)
            error({}, "too many nodes: " + std::to_string(c.nodes.size()) + " (at most " +
                          std::to_string(XI_MAX_NODES) + ")");
        for (const auto &n : c.nodes) {
            if (!valid_name(n.name))
                error(n.pos, "node name '" + n.name +
                                 "' must be 1-63 characters of letters, digits, '-', '_', '.'");
            else if (!names.emplace(n.name, &n).second)
                error(n.pos, "duplicate node name '" + n.name + "' (first at line " +
                                 std::to_string(names[n.name]->pos.line) + ")");
            if (!n.mesh4 && !n.mesh6)
                error(n.pos, "node '" + n.name + "' needs mesh_ipv4 and/or mesh_ipv6");
            for (const auto &a : {n.mesh4, n.mesh6}) {
                if (!a)
                    continue;
                if (auto why = not_unicast(*a); !why.empty())
                    error(n.pos, "mesh address " + a->str() + " of node '" + n.name + "' " + why);
                auto [it, fresh] = addrs.emplace(*a, &n);
                if (!fresh)
                    error(n.pos, "mesh address " + a->str() + " of node '" + n.name +
                                     "' is also node '" + it->second->name + "'s");
            }
            if (!valid_ifname(n.mesh_if))
                error(n.pos, "node '" + n.name + "': mesh_interface '" + n.mesh_if +
                                 "' is not a valid interface name (1-15 characters, no '/', "
                                 "':' or spaces, not '.' or '..')");
            if (n.is_edge()) {
                edges++;
                if (!valid_ifname(n.public_if))
                    error(n.pos, "node '" + n.name + "': public_interface '" + n.public_if +
                                     "' is not a valid interface name (1-15 characters, no '/', "
                                     "':' or spaces, not '.' or '..')");
                if (n.public_if == n.mesh_if)
                    error(n.pos, "node '" + n.name +
                                     "': public_interface and mesh_interface are the same");
            }
        }
        if (!is_prime(c.table_size))
            error({}, "fleet.maglev_table_size " + std::to_string(c.table_size) +
                          " is not prime (Maglev needs a prime; the default is 65537)");
        else if (edges && c.table_size < edges * 100)
            error({}, "fleet.maglev_table_size " + std::to_string(c.table_size) +
                          " is too small for " + std::to_string(edges) +
                          " edges (use at least 100 slots per edge; 65537 is the default)");
    }

    void vips()
    {
        size_t entries = 0;
        for (const auto &v : c.vips)
            entries += v.ports.empty() ? 1 : v.ports.size() + 1;
        if (entries > XI_VIP_MAX_ENTRIES)
            error({}, "the vips need " + std::to_string(entries) +
                          " table entries (one per port, plus one per address and protocol); at "
                          "most " +
                          std::to_string(XI_VIP_MAX_ENTRIES));
        std::set<std::string> names;
        std::map<std::tuple<IpAddr, uint8_t, uint16_t>, std::string> keys;
        for (const auto &v : c.vips) {
            if (!valid_name(v.name))
                error(v.pos, "vip name '" + v.name + "' is not valid");
            if (auto why = not_unicast(v.addr); !why.empty())
                error(v.pos, "vip '" + v.name + "' address " + v.addr.str() + " " + why);

            else if (!names.insert(v.name).second)
                error(v.pos, "duplicate vip name '" + v.name + "'");
            std::vector<uint16_t> ports = v.ports.empty() ? std::vector<uint16_t>{0} : v.ports;
            for (auto port : ports) {
                auto [it, fresh] = keys.emplace(std::make_tuple(v.addr, v.proto, port), v.name);
                if (!fresh)
                    error(v.pos, "vip '" + v.name + "' repeats " + v.addr.str() + " port " +
                                     (port ? std::to_string(port) : "any") + " of vip '" +
                                     it->second + "'");
            }
            // Mixed families are refused: IPv6-in-IPv4 needs a protocol switch on decap that
            // kernels before 6.3 cannot do with bpf_skb_adjust_room.
            for (const auto &n : c.nodes) {
                if (!n.is_edge())
                    continue;
                if (v.addr.v4 && !n.mesh4)
                    error(v.pos, "IPv4 vip '" + v.name + "' cannot be steered to edge '" + n.name +
                                     "': it has no mesh_ipv4 (IPv4-in-IPv6 steering is not "
                                     "supported; give every edge a mesh address of each VIP "
                                     "family)");
                if (!v.addr.v4 && !n.mesh6)
                    error(v.pos, "IPv6 vip '" + v.name + "' cannot be steered to edge '" + n.name +
                                     "': it has no mesh_ipv6 (IPv6-in-IPv4 steering is not "
                                     "supported; give every edge a mesh address of each VIP "
                                     "family)");
            }
        }
    }

    void identities()
    {
        std::map<std::string, const IdentityCfg *> names;
        std::unordered_map<Prefix, std::pair<const IdentityCfg *, Pos>, PrefixHash> prefixes;
        size_t total = 0;
        for (const auto &id : c.identities)
            total += id.prefixes.size();
        prefixes.reserve(total);
        if (c.identities.size() > XI_MAX_ROLES - 2)
            error({}, "too many identities (at most " + std::to_string(XI_MAX_ROLES - 2) + ")");
        for (const auto &id : c.identities) {
            if (id.name == "world" || id.name == "any")
                error(id.pos, "'" + id.name + "' is a built-in role and cannot be redefined");
            else if (!valid_name(id.name))
                error(id.pos, "identity name '" + id.name + "' is not valid");
            else if (!names.emplace(id.name, &id).second)
                error(id.pos, "duplicate identity '" + id.name + "'");
            if (id.prefixes.empty())
                error(id.pos, "identity '" + id.name + "' has no prefixes");
            for (const auto &p : id.prefixes) {
                auto [it, fresh] = prefixes.emplace(p.prefix, std::make_pair(&id, p.pos));
                if (fresh)
                    continue;
                if (it->second.first == &id)
                    error(p.pos, "prefix " + p.prefix.str() + " listed twice in '" + id.name + "'");
                else
                    error(p.pos, "prefix " + p.prefix.str() + " is in both '" +
                                     it->second.first->name + "' (line " +
                                     std::to_string(it->second.second.line) + ") and '" + id.name +
                                     "': equal prefixes cannot decide a role");
            }
        }
        // Every node's mesh address must say unambiguously which role the node has.
        PrefixMap<const IdentityCfg *> index;
        index.reserve(total);
        for (const auto &id : c.identities)
            for (const auto &p : id.prefixes)
                index.insert(p.prefix, &id);
        for (const auto &n : c.nodes) {
            for (const auto &a : {n.mesh4, n.mesh6}) {
                if (!a || c.identities.empty())
                    continue;
                std::vector<std::string> roles; // in config order, as the message names them
                std::vector<const IdentityCfg *> ids;
                index.each_containing(Prefix{*a, a->v4 ? 32 : 128},
                                      [&](int, const IdentityCfg *id) {
                                          if (std::find(ids.begin(), ids.end(), id) == ids.end())
                                              ids.push_back(id);
                                      });
                std::sort(ids.begin(), ids.end());
                for (const auto *id : ids)
                    roles.push_back(id->name);
                if (roles.empty())
                    error(n.pos, "mesh address " + a->str() + " of node '" + n.name +
                                     "' is in no identity: add it to the node's role");
                else if (roles.size() > 1)
                    error(n.pos, "mesh address " + a->str() + " of node '" + n.name +
                                     "' is in two identities ('" + roles[0] + "' and '" + roles[1] +
                                     "'): a node has exactly one role");
            }
        }
        for (const auto &r : c.reply_only)
            if (!c.find_identity(r))
                error({}, "reply_only: '" + r + "' is not an identity");
    }

    // Metadata prefixes are denied both ways on the mesh: one that holds a VIP or a node's mesh
    // address would cut that service or node off, silently.
    void metadata()
    {
        std::vector<std::pair<Prefix, Pos>> meta;
        const auto &builtin = builtin_metadata_prefixes();
        for (const auto &p : builtin)
            if (!metadata_excluded(c, p))
                meta.emplace_back(p, Pos{});
        for (const auto &p : c.metadata_extra)
            meta.emplace_back(p.prefix, p.pos);
        for (const auto &x : c.metadata_exclude)
            if (std::find(builtin.begin(), builtin.end(), x.prefix) == builtin.end())
                error(x.pos, "metadata_exclude: " + x.prefix.str() +
                                 " is not a built-in metadata address (docs/policy.md lists them)");
        for (const auto &p : c.nat64_prefixes)
            if (auto why = nat64_prefix_problem(p.prefix); !why.empty())
                error(p.pos, "nat64_prefixes: " + p.prefix.str() + ": " + why);
        PrefixMap<std::pair<Prefix, Pos>> index;
        for (const auto &m : meta)
            index.insert(m.first, m);
        auto host = [](const IpAddr &a) { return Prefix{a, a.v4 ? 32 : 128}; };
        for (const auto &v : c.vips)
            if (const auto *m = index.longest(host(v.addr)))
                error(v.pos, "vip '" + v.name + "' address " + v.addr.str() +
                                 (m->second.line ? " is in metadata_extra " + m->first.str()
                                                 : " is a cloud metadata service address"));
        if (!c.metadata_block)
            return;
        for (const auto &n : c.nodes)
            for (const auto &a : {n.mesh4, n.mesh6})
                if (const auto *m = a ? index.longest(host(*a)) : nullptr; m && m->second.line)
                    error(m->second, "metadata_extra " + m->first.str() +
                                         " covers the mesh address " + a->str() + " of node '" +
                                         n.name + "': the mesh would deny that node");
    }

    void mss()
    {
        uint32_t min_mtu = c.mesh_mtu;
        for (const auto &n : c.nodes)
            min_mtu = std::min(min_mtu, c.node_mtu(n));
        if (c.mesh_mss4 && c.mesh_mss4 > mesh_mss4(min_mtu))
            error({}, "mss.mesh_ipv4 " + std::to_string(c.mesh_mss4) +
                          " does not fit the smallest mesh MTU " + std::to_string(min_mtu) +
                          " (at most MTU - " + std::to_string(XI_MSS_HDRS_V4) + ")");
        if (c.mesh_mss6 && c.mesh_mss6 > mesh_mss6(min_mtu))
            error({}, "mss.mesh_ipv6 " + std::to_string(c.mesh_mss6) +
                          " does not fit the smallest mesh MTU " + std::to_string(min_mtu) +
                          " (at most MTU - " + std::to_string(XI_MSS_HDRS_V6) + ")");
    }
};

} // namespace

void check_config(Config &c, std::vector<ConfigError> &errors)
{
    Checker ch{c, errors};
    ch.nodes();
    ch.vips();
    ch.identities();
    ch.metadata();
    ch.mss();
    // Rules reference identities; only compile them once the identities are sound.
    if (errors.empty())
        check_policy(c, errors);
}

} // namespace xi
