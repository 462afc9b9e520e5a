#include "compile.h"

#include <algorithm>
#include <arpa/inet.h>
#include <map>
#include <cstring>

#include "digest.h"
#include "error.h"
#include "fallback.h"
#include "maglev.h"
#include "policy.h"
#include "slots.h"
#include "xi_hash.h"

namespace xi
{

namespace
{

void add_vips(const Config &c, GenContent &g)
{
    std::map<std::tuple<std::array<uint8_t, 16>, uint16_t, uint8_t>, xi_vip> entries;
    for (size_t i = 0; i < c.vips.size(); i++) {
        const auto &v = c.vips[i];
        auto id = static_cast<uint16_t>(i);
        if (v.ports.empty()) {
            entries[{v.addr.bytes, 0, v.proto}] = xi_vip{id, 0};
            continue;
        }
        for (auto port : v.ports)
            entries[{v.addr.bytes, htons(port), v.proto}] = xi_vip{id, 0};
        // Fragments carry no ports: this entry lets them find the VIP by address + protocol.
        entries.try_emplace({v.addr.bytes, 0, v.proto}, xi_vip{id, XI_VIP_F_FRAG_ONLY});
    }
    for (const auto &[k, v] : entries) {
        xi_vip_key key{};
        std::memcpy(&key.addr, std::get<0>(k).data(), 16);
        key.port = std::get<1>(k);
        key.proto = std::get<2>(k);
        g.vips.emplace_back(key, v);
    }
}

template <typename K, typename V>
std::string digest_of(const std::vector<std::pair<K, V>> &entries)
{
    std::string bytes;
    bytes.reserve(entries.size() * (sizeof(K) + sizeof(V)));
    for (const auto &[k, v] : entries) {
        bytes.append(reinterpret_cast<const char *>(&k), sizeof(k));
        bytes.append(reinterpret_cast<const char *>(&v), sizeof(v));
    }
    return sha256_hex(bytes);
}

} // namespace

uint32_t build_vip_slots(const std::vector<std::pair<xi_vip_key, xi_vip>> &vips,
                         std::vector<xi_vip_slot> &slots)
{
    if (vips.size() > XI_VIP_MAX_ENTRIES)
        throw Error(std::to_string(vips.size()) +
                    " VIP entries (address, protocol, port); at most " +
                    std::to_string(XI_VIP_MAX_ENTRIES));
    for (uint32_t salt = 0; salt < 256; salt++) {
        slots.assign(XI_VIP_TABLE_SLOTS, xi_vip_slot{});
        bool ok = true;
        for (const auto &[k, v] : vips) {
            uint32_t b = xi_vip_bucket(&k.addr, k.port, k.proto, salt), i = 0;
            while (i < XI_VIP_PROBES &&
                   (slots[(b + i) & (XI_VIP_TABLE_SLOTS - 1)].vip.flags & XI_VIP_F_USED))
                i++;
            if (i == XI_VIP_PROBES) {
                ok = false;
                break;
            }
            auto &s = slots[(b + i) & (XI_VIP_TABLE_SLOTS - 1)];
            s.key = k;
            s.vip = v;
            s.vip.flags |= XI_VIP_F_USED;
        }
        if (ok)
            return salt;
    }
    throw Error("cannot lay out the VIP table (too many colliding entries)");
}

namespace
{

std::vector<uint16_t> maglev_or_none(const Config &c, const std::vector<MaglevBackend> &edges)
{
    bool any_weight = std::any_of(edges.begin(), edges.end(),
                                  [](const MaglevBackend &b) { return b.weight > 0; });
    return any_weight ? build_maglev(edges, c.table_size)
                      : std::vector<uint16_t>(c.table_size, XI_NODE_NONE);
}

bool same_edges(const std::vector<MaglevBackend> &a, const std::vector<MaglevBackend> &b)
{
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto &x, const auto &y) {
        return x.name == y.name && x.weight == y.weight && x.node == y.node;
    });
}

// The Maglev table over the edges after the fleet's current step (all local when no edge takes
// traffic), each slot's previous owner where the fleet before the step (draining edges still
// active, joining ones not yet) gave it to another edge, and the fleet-wide hash of both. Both
// come from the file alone, so every edge builds the same entries whatever its history.
void add_maglev(const Config &c, const std::vector<MaglevBackend> &after,
                const std::vector<MaglevBackend> &before, bool fallback, GenContent &g)
{
    auto now = maglev_or_none(c, after);
    g.maglev.assign(now.begin(), now.end());
    g.edges_after = after;
    if (fallback)
        g.fallback = build_fallback(after, now);
    g.second_chance_slots = 0;
    if (!same_edges(after, before)) {
        auto then = maglev_or_none(c, before);
        for (size_t s = 0; s < now.size(); s++)
            if (now[s] != XI_NODE_NONE && then[s] != XI_NODE_NONE && then[s] != now[s]) {
                g.maglev[s] = XI_MAGLEV_ENTRY(now[s], then[s]);
                g.second_chance_slots++;
            }
    }
    // The fallback column is left out of the exported hash: it follows from the owners and the
    // file by one algorithm, so it adds no way for two edges to disagree that the owners do not
    // show, and a release that adds it must not look like a divergence to the ones before it.
    // The exported hash names each entry's owner, not its node slot: slots are kept stable
    // per edge across reloads (assign_slots), so an edge that lived through a membership change
    // numbers its nodes differently from one attached fresh, with the same ownership. Operators
    // compare this hash across edges (xdp_ingress_config_info); it must only differ when flow
    // ownership does.
    std::string owners;
    owners.reserve(g.maglev.size() * 8);
    for (uint32_t e : g.maglev) {
        uint32_t owner = XI_MAGLEV_OWNER(e), prev = XI_MAGLEV_PREV(e);
        if (owner < g.node_names.size())
            owners += g.node_names[owner];
        if (prev < g.node_names.size()) // a table without previous owners hashes as before
            owners += " <- " + g.node_names[prev];
        owners += '\n';
    }
    g.table_sha256 = sha256_hex(owners);
}

} // namespace

std::vector<uint32_t> maglev_words(const GenContent &g)
{
    std::vector<uint32_t> w(g.maglev);
    w.resize(g.maglev.size() * 2, XI_NODE_NONE);
    for (size_t s = 0; s < g.fallback.size() && s < g.maglev.size(); s++)
        w[g.maglev.size() + s] = g.fallback[s];
    return w;
}

namespace
{

// The generation's scalar settings (xi_gen_config), but self_node.
void fill_gen_config(const Config &c, const CompileInput &in, const NodeCfg &self, bool has_edges,
                     uint32_t min_edge_mtu, uint32_t vip_salt, GenContent &g)
{
    auto &cfg = g.cfg;
    cfg.seed = c.seed;
    cfg.generation = in.generation;
    cfg.table_size = c.table_size;
    cfg.mesh_ifindex = in.mesh_ifindex;
    cfg.flags = (c.metadata_block ? XI_CFG_METADATA_BLOCK : 0) |
                (c.default_ingress_allow ? XI_CFG_INGRESS_ALLOW : 0) |
                (c.default_egress_allow ? XI_CFG_EGRESS_ALLOW : 0) |
                (self.is_edge() ? XI_CFG_SELF_EDGE : 0) | XI_CFG_POLICY |
                (c.clamp_mesh ? XI_CFG_CLAMP_MESH : 0) |
                (c.tunnel_inspect != Config::Rollout::Off ? XI_CFG_TUNNEL_INSPECT : 0) |
                (c.tunnel_inspect == Config::Rollout::Count ? XI_CFG_TUNNEL_COUNT : 0) |
                (c.unparsed_pass ? XI_CFG_UNPARSED_PASS : 0) |
                (c.guard_mode == Config::Rollout::Count ? XI_CFG_GUARD_COUNT : 0);
    cfg.guard_mark = c.guard_mode == Config::Rollout::Off ? 0 : c.guard_mark;
    cfg.probe_port = c.failover.enabled ? htons(c.failover.probe_port) : 0;
    for (size_t i = 0; i < c.vxlan_ports.size() && i < XI_TUNNEL_PORTS; i++)
        cfg.vxlan_ports[i] = htons(c.vxlan_ports[i]);
    for (size_t i = 0; i < c.geneve_ports.size() && i < XI_TUNNEL_PORTS; i++)
        cfg.geneve_ports[i] = htons(c.geneve_ports[i]);
    uint32_t mtu = c.node_mtu(self);
    cfg.mesh_mtu = mtu;
    // Any edge may forward a VIP flow to any other: clamp to what the smallest mesh MTU fits.
    if (has_edges) {
        cfg.vip_mss4 = vip_mss4(min_edge_mtu);
        cfg.vip_mss6 = vip_mss6(min_edge_mtu);
    }
    cfg.mesh_mss4 = c.mesh_mss4 ? c.mesh_mss4 : mesh_mss4(mtu);
    cfg.mesh_mss6 = c.mesh_mss6 ? c.mesh_mss6 : mesh_mss6(mtu);
    cfg.ct_tcp_established_s = c.ct_tcp_established;
    cfg.ct_tcp_transitory_s = c.ct_tcp_transitory;
    cfg.ct_udp_s = c.ct_udp;
    cfg.ct_icmp_s = c.ct_icmp;
    cfg.events_per_sec = c.events_rate;
    cfg.events_burst = c.events_burst;
    cfg.vip_salt = vip_salt;
}

} // namespace

GenContent compile_generation(const CompileInput &in)
{
    const Config &c = *in.config;
    const NodeCfg *self = c.find_node(in.node);
    if (!self)
        throw Error("node '" + in.node + "' is not in " + c.path, 0,
                    "pass --node NAME with one of the config's node names");
    GenContent g;

    std::vector<std::string> names;
    for (const auto &n : c.nodes)
        names.push_back(n.name);
    g.node_names = assign_slots(names, in.prev_node_slots, XI_MAX_NODES);
    auto slot_of = [&](const std::string &name) {
        return static_cast<uint16_t>(std::find(g.node_names.begin(), g.node_names.end(), name) -
                                     g.node_names.begin());
    };

    g.nodes.assign(XI_MAX_NODES, xi_node{});
    std::vector<MaglevBackend> after, before;
    uint32_t min_edge_mtu = 65535;
    for (const auto &n : c.nodes) {
        auto &x = g.nodes[slot_of(n.name)];
        x.flags = XI_NODE_F_VALID | (n.is_edge() ? XI_NODE_F_EDGE : 0);
        if (n.mesh4) {
            x.mesh4 = n.mesh4->v4_be();
            x.flags |= XI_NODE_F_HAS4;
        }
        if (n.mesh6) {
            x.mesh6 = n.mesh6->to_xi();
            x.flags |= XI_NODE_F_HAS6;
        }
        x.weight = n.is_edge() ? n.weight : 0;
        MaglevBackend b{n.name, static_cast<uint16_t>(n.weight), slot_of(n.name)};
        if (n.owns_after())
            after.push_back(b);
        if (n.owned_before())
            before.push_back(b);
        if (n.is_edge())
            min_edge_mtu = std::min(min_edge_mtu, c.node_mtu(n));
    }

    add_maglev(c, after, before, in.fallback, g);

    add_vips(c, g);
    uint32_t vip_salt = build_vip_slots(g.vips, g.vip_slots);
    g.idents = compile_identities(c, g.node_names);
    compile_rules(c, in.prev_rule_slots, g.rules, g.rule_names);
    // Reuse of a running inner map needs byte equality (slots included): its own digest.
    g.table_digests = {sha256_hex(maglev_words(g).data(), g.maglev.size() * 2 * sizeof(uint32_t)),
                       digest_of(g.vips), digest_of(g.idents), digest_of(g.rules)};

    bool has_edges =
        std::any_of(c.nodes.begin(), c.nodes.end(), [](const NodeCfg &n) { return n.is_edge(); });
    fill_gen_config(c, in, *self, has_edges, min_edge_mtu, vip_salt, g);
    if (self->is_edge() && self->state == NodeCfg::State::Draining)
        g.cfg.flags |= XI_CFG_SELF_DRAINING;
    if (self->is_edge() && self->state == NodeCfg::State::Inactive)
        g.cfg.flags |= XI_CFG_SELF_INACTIVE;
    g.cfg.self_node = slot_of(self->name);
    return g;
}

} // namespace xi
