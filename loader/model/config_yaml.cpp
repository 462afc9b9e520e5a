// YAML -> Config: structure, types and ranges. Semantic checks live in config_check.cpp.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <set>

#include "config.h"
#include "config_check.h"
#include "config_reader.h"
#include "config_settings.h"
#include "config_text.h"
#include "digest.h"
#include "yaml_doc.h"

namespace xi
{

std::string ConfigError::str() const
{
    std::string s = file;
    if (pos.line)
        s += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.col);
    return s + ": " + msg;
}

const NodeCfg *Config::find_node(const std::string &name) const
{
    for (const auto &n : nodes)
        if (n.name == name)
            return &n;
    return nullptr;
}

const IdentityCfg *Config::find_identity(const std::string &name) const
{
    for (const auto &i : identities)
        if (i.name == name)
            return &i;
    return nullptr;
}

namespace
{

constexpr const char *kEmptyPorts = "write 'any' for every port, or list the ports";

bool is_any(const yaml::Node &n)
{
    return n.is_scalar() && n.scalar() == "any";
}

// fleet.failover: how serve probes its siblings (issue #14). Every edge reads the same file, so
// every edge probes alike; the thresholds are the operator's trade of detection time against
// false alarms (docs/steering.md, "Failover").
void read_failover(Reader &r, const yaml::Node &n, Config::Failover &f)
{
    if (!r.mapping(n, "fleet.failover",
                   {"enabled", "probe_port", "probe_interval", "probe_timeout", "jitter",
                    "down_after", "up_after"}))
        return;
    if (const yaml::Node *e = n.get("enabled"))
        if (auto b = r.boolean(*e, "fleet.failover.enabled"))
            f.enabled = *b;
    auto num = [&](const char *key, uint64_t lo, uint64_t hi, auto &out) {
        if (const yaml::Node *v = n.get(key))
            if (auto x = r.uint(*v, std::string("fleet.failover.") + key, lo, hi))
                out = static_cast<std::remove_reference_t<decltype(out)>>(*x);
    };
    num("probe_port", 1, 65535, f.probe_port);
    num("probe_interval", 50, 60000, f.probe_interval); // ms
    num("probe_timeout", 10, 60000, f.probe_timeout);   // ms
    num("jitter", 0, 90, f.jitter_percent);             // percent of the interval
    num("down_after", 1, 100, f.down_after);
    num("up_after", 1, 100, f.up_after);
    // A probe's answer is awaited until the next probe at the latest, and jitter can bring
    // that one as early as interval * (1 - jitter).
    const uint64_t shortest = uint64_t(f.probe_interval) * (100 - f.jitter_percent) / 100;
    if (f.probe_timeout >= shortest)
        r.error(n, "fleet.failover.probe_timeout (" + std::to_string(f.probe_timeout) +
                       " ms) must be shorter than the shortest wait between two probes "
                       "(probe_interval " +
                       std::to_string(f.probe_interval) + " ms - " +
                       std::to_string(f.jitter_percent) +
                       " % jitter = " + std::to_string(shortest) + " ms)");
}

void read_fleet(Reader &r, const yaml::Node &n, Config &c)
{
    if (!r.mapping(n, "fleet",
                   {"hash_seed", "maglev_table_size", "mesh_mtu", "drain_timeout", "failover"}))
        return;
    if (n.get("hash_seed")) {
        if (auto v = r.uint(*n.get("hash_seed"), "fleet.hash_seed", 1, UINT64_MAX))
            c.seed = *v;
    } else {
        r.error(n, "fleet.hash_seed is required (a 64-bit number, the same on every edge)");
    }
    if (n.get("maglev_table_size"))
        if (auto v = r.uint(*n.get("maglev_table_size"), "fleet.maglev_table_size", 7,
                            XI_MAGLEV_MAX_SIZE))
            c.table_size = *v;
    if (n.get("mesh_mtu"))
        if (auto v = r.uint(*n.get("mesh_mtu"), "fleet.mesh_mtu", 1280, 65535))
            c.mesh_mtu = *v;
    if (n.get("drain_timeout")) // seconds, up to a week
        if (auto v = r.uint(*n.get("drain_timeout"), "fleet.drain_timeout", 1, 604800))
            c.drain_timeout = *v;
    if (const yaml::Node *f = n.get("failover"))
        read_failover(r, *f, c.failover);
}

// An edge's state in a fleet change: active (default), joining, draining, inactive.
void read_state(Reader &r, const yaml::Node &n, NodeCfg &node)
{
    static const std::pair<const char *, NodeCfg::State> states[] = {
        {"active", NodeCfg::State::Active},
        {"joining", NodeCfg::State::Joining},
        {"draining", NodeCfg::State::Draining},
        {"inactive", NodeCfg::State::Inactive}};
    auto s = r.str(n, "state");
    if (!s)
        return;
    for (const auto &[word, state] : states)
        if (*s == word) {
            node.state = state;
            return;
        }
    r.error(n, "state must be active, joining, draining or inactive, not '" + *s + "'");
}

void read_node(Reader &r, const yaml::Node &n, Config &c)
{
    if (!r.mapping(n, "node",
                   {"name", "mesh_ipv4", "mesh_ipv6", "mesh_interface", "public_interface",
                    "weight", "mesh_mtu", "state"}))
        return;
    NodeCfg node;
    node.pos = n.pos();
    if (!n.get("name"))
        r.error(n, "node without a name");
    else if (auto s = r.str(*n.get("name"), "node name"))
        node.name = *s;
    if (n.get("mesh_ipv4"))
        if (auto a = r.address(*n.get("mesh_ipv4"), "mesh_ipv4")) {
            if (!a->v4)
                r.error(*n.get("mesh_ipv4"), "mesh_ipv4 '" + a->str() + "' is not an IPv4 address");
            else
                node.mesh4 = a;
        }
    if (n.get("mesh_ipv6"))
        if (auto a = r.address(*n.get("mesh_ipv6"), "mesh_ipv6")) {
            if (a->v4)
                r.error(*n.get("mesh_ipv6"), "mesh_ipv6 '" + a->str() + "' is not an IPv6 address");
            else
                node.mesh6 = a;
        }
    if (n.get("mesh_interface"))
        if (auto s = r.str(*n.get("mesh_interface"), "mesh_interface"))
            node.mesh_if = *s;
    if (n.get("public_interface"))
        if (auto s = r.str(*n.get("public_interface"), "public_interface"))
            node.public_if = *s;
    if (n.get("weight"))
        if (auto v = r.uint(*n.get("weight"), "weight", 0, 65535))
            node.weight = *v;
    if (n.get("mesh_mtu"))
        if (auto v = r.uint(*n.get("mesh_mtu"), "mesh_mtu", 1280, 65535))
            node.mesh_mtu = *v;
    if (n.get("state"))
        read_state(r, *n.get("state"), node);
    if (n.get("weight") && node.public_if.empty())
        r.error(*n.get("weight"), "weight applies only to edges (nodes with a public_interface)");
    if (n.get("state") && node.public_if.empty())
        r.error(*n.get("state"), "state applies only to edges (nodes with a public_interface)");
    c.nodes.push_back(std::move(node));
}

std::optional<int> protocol(Reader &r, const yaml::Node &n, bool allow_any_icmp)
{
    auto s = r.str(n, "protocol");
    if (!s)
        return std::nullopt;
    if (*s == "tcp")
        return IPPROTO_TCP;
    if (*s == "udp")
        return IPPROTO_UDP;
    if (allow_any_icmp && *s == "icmp")
        return IPPROTO_ICMP;
    if (allow_any_icmp && *s == "any")
        return -1;
    r.error(n, "protocol must be " +
                   std::string(allow_any_icmp ? "tcp, udp, icmp or any" : "tcp or udp") +
                   ", not '" + *s + "'");
    return std::nullopt;
}

void read_vip(Reader &r, const yaml::Node &n, Config &c)
{
    if (!r.mapping(n, "vip", {"name", "address", "protocol", "ports"}))
        return;
    VipCfg v;
    v.pos = n.pos();
    if (!n.get("name"))
        r.error(n, "vip without a name");
    else if (auto s = r.str(*n.get("name"), "vip name"))
        v.name = *s;
    bool ok = true;
    if (!n.get("address")) {
        r.error(n, "vip '" + v.name + "' has no address");
        ok = false;
    } else if (auto a = r.address(*n.get("address"), "vip address")) {
        v.addr = *a;
    } else {
        ok = false;
    }
    if (!n.get("protocol")) {
        r.error(n, "vip '" + v.name + "' has no protocol (tcp or udp)");
        ok = false;
    } else if (auto p = protocol(r, *n.get("protocol"), false)) {
        v.proto = static_cast<uint8_t>(*p);
    } else {
        ok = false;
    }
    if (n.get("ports") && !is_any(*n.get("ports"))) {
        std::set<uint16_t> seen;
        r.sequence(
            *n.get("ports"), "vip ports",
            [&](const yaml::Node &item) {
                auto pr = r.port_range(item, "vip port");
                if (!pr)
                    return;
                if (pr->lo != pr->hi) {
                    r.error(
                        item,
                        "vip ports are single ports (a range would need one table entry per port)");
                    return;
                }
                if (!seen.insert(pr->lo).second)
                    r.error(item, "port " + std::to_string(pr->lo) + " listed twice");
                v.ports.push_back(pr->lo);
            },
            kEmptyPorts);
    }
    if (ok)
        c.vips.push_back(std::move(v));
}

void read_identities(Reader &r, const yaml::Node &n, Config &c)
{
    if (!n.is_map()) {
        r.error(n, "identities must be a mapping of role name -> list of prefixes");
        return;
    }
    for (size_t i = 0; i < n.size(); i++) {
        IdentityCfg id;
        id.pos = n.key(i).pos();
        id.name = n.key(i).scalar();
        r.sequence(n.value(i), "identity '" + id.name + "'", [&](const yaml::Node &item) {
            if (auto p = r.prefix(item, "identity '" + id.name + "'"))
                id.prefixes.push_back(*p);
        });
        c.identities.push_back(std::move(id));
    }
}

void read_rule(Reader &r, const yaml::Node &n, Config &c)
{
    if (!r.mapping(n, "rule", {"name", "from", "to", "protocol", "ports", "action"}))
        return;
    RuleCfg rule;
    rule.pos = n.pos();
    bool ok = true;
    if (n.get("name"))
        if (auto s = r.str(*n.get("name"), "rule name")) {
            rule.name = *s;
            rule.named = true;
        }
    for (const char *key : {"from", "to"}) {
        if (!n.get(key)) {
            r.error(n, std::string("rule has no '") + key + "' (an identity, world or any)");
            ok = false;
        } else if (auto s = r.str(*n.get(key), std::string("rule ") + key)) {
            (std::string(key) == "from" ? rule.from : rule.to) = *s;
        } else {
            ok = false;
        }
    }
    if (n.get("protocol")) {
        if (auto p = protocol(r, *n.get("protocol"), true))
            rule.proto = *p;
        else
            ok = false;
    }
    if (n.get("ports") && !is_any(*n.get("ports"))) {
        if (rule.proto != IPPROTO_TCP && rule.proto != IPPROTO_UDP) {
            r.error(*n.get("ports"), "ports need protocol tcp or udp");
            ok = false;
        }
        auto add = [&](const yaml::Node &item) {
            if (auto pr = r.port_range(item, "rule port"))
                rule.ports.push_back(*pr);
            else
                ok = false;
        };
        if (n.get("ports")->is_sequence())
            r.sequence(*n.get("ports"), "rule ports", add, kEmptyPorts);
        else
            add(*n.get("ports"));
    }
    if (!n.get("action")) {
        r.error(n, "rule has no action (allow or deny)");
        ok = false;
    } else if (auto a = r.allow_deny(*n.get("action"), "rule action")) {
        rule.action = *a ? Action::Allow : Action::Deny;
    } else {
        ok = false;
    }
    if (ok)
        c.rules.push_back(std::move(rule));
}

void read_top(Reader &r, const yaml::Node &root, Config &c)
{
    static const std::set<std::string> known = {"version",
                                                "fleet",
                                                "nodes",
                                                "vips",
                                                "identities",
                                                "rules",
                                                "default",
                                                "reply_only",
                                                "metadata_block",
                                                "metadata_extra",
                                                "metadata_exclude",
                                                "nat64_prefixes",
                                                "tunnels",
                                                "metadata_guard",
                                                "unparsed",
                                                "mss",
                                                "conntrack",
                                                "events"};
    if (!r.mapping(root, "the config", known))
        return;
    if (!root.get("version"))
        r.error(root, "missing 'version: 1'");
    else if (auto v = r.uint(*root.get("version"), "version", 1, 1))
        c.version = *v;
    if (root.get("fleet"))
        read_fleet(r, *root.get("fleet"), c);
    else
        r.error(root, "missing 'fleet:' (hash_seed, maglev_table_size, mesh_mtu)");
    if (root.get("nodes")) {
        c.nodes_pos = root.get("nodes")->pos();
        r.sequence(*root.get("nodes"), "nodes", [&](const yaml::Node &n) { read_node(r, n, c); });
    } else {
        r.error(root, "missing 'nodes:' (every node of the fleet)");
    }
    if (root.get("vips") && !root.get("vips")->is_null())
        r.sequence(*root.get("vips"), "vips", [&](const yaml::Node &n) { read_vip(r, n, c); });
    if (root.get("identities") && !root.get("identities")->is_null())
        read_identities(r, *root.get("identities"), c);
    if (root.get("rules") && !root.get("rules")->is_null())
        r.sequence(*root.get("rules"), "rules", [&](const yaml::Node &n) { read_rule(r, n, c); });
    read_policy_settings(r, root, c);
    read_tuning(r, root, c);
}

} // namespace

ConfigResult parse_config(const std::string &text, const std::string &file)
{
    ConfigResult res;
    Config c;
    c.path = file;
    c.sha256 = sha256_hex(text);
    if (auto e = text_error(text, file)) {
        res.errors.push_back(*e);
        return res;
    }
    yaml::Document doc;
    Pos at;
    std::string why;
    if (!yaml::parse(text, doc, at, why)) {
        res.errors.push_back({file, at, why});
        return res;
    }
    if (!doc.root || doc.root->is_null()) {
        res.errors.push_back({file, {1, 1}, "the file is empty"});
        return res;
    }
    Reader r(file, res.errors);
    read_top(r, *doc.root, c);
    // Semantic checks only on a structurally sound file: a broken field would otherwise show up
    // again as a confusing follow-on error (a node "without" the address that failed to parse).
    if (res.errors.empty())
        check_config(c, res.errors);
    if (res.errors.empty())
        res.config = std::move(c);
    return res;
}

} // namespace xi
