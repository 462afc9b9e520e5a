#include "config_settings.h"

#include <algorithm>
#include <utility>

#include "xi_common.h"

namespace xi
{

namespace
{

// enforce | count | off, for the checks that have a count-only rollout mode.
void read_rollout_mode(Reader &r, const yaml::Node &n, const std::string &what,
                       Config::Rollout &out)
{
    static const std::pair<const char *, Config::Rollout> modes[] = {
        {"enforce", Config::Rollout::Enforce},
        {"count", Config::Rollout::Count},
        {"off", Config::Rollout::Off}};
    auto s = r.str(n, what);
    auto m = std::find_if(std::begin(modes), std::end(modes),
                          [&](const auto &e) { return s && *s == e.first; });
    if (m != std::end(modes))
        out = m->second;
    else if (s)
        r.error(n, what + " must be enforce, count or off, not '" + *s + "'");
}

// tunnels: which tunnels the mesh hooks look into, and whether a find is dropped or counted.
void read_tunnels(Reader &r, const yaml::Node &t, Config &c)
{
    if (!r.mapping(t, "tunnels", {"inspect", "vxlan_ports", "geneve_ports"}))
        return;
    if (const auto *i = t.get("inspect"))
        read_rollout_mode(r, *i, "tunnels.inspect", c.tunnel_inspect);
    for (auto [key, list] :
         {std::pair{"vxlan_ports", &c.vxlan_ports}, std::pair{"geneve_ports", &c.geneve_ports}}) {
        const auto *n = t.get(key);
        if (!n)
            continue;
        list->clear();
        std::string what = std::string("tunnels.") + key;
        r.sequence(*n, what, [&, list = list](const yaml::Node &item) {
            if (auto v = r.uint(item, what, 1, 65535))
                list->push_back(static_cast<uint16_t>(*v));
        });
        if (list->size() > XI_TUNNEL_PORTS)
            r.error(*n, what + " lists " + std::to_string(list->size()) + " ports; at most " +
                            std::to_string(XI_TUNNEL_PORTS));
    }
}

// metadata_guard: the mark mesh ingress sets and the guard on the other interfaces checks.
void read_guard(Reader &r, const yaml::Node &g, Config &c)
{
    if (!r.mapping(g, "metadata_guard", {"mode", "mark", "interfaces"}))
        return;
    if (const auto *m = g.get("mode"))
        read_rollout_mode(r, *m, "metadata_guard.mode", c.guard_mode);
    if (const auto *m = g.get("mark"))
        if (auto v = r.uint(*m, "metadata_guard.mark", 1, 0xffffffffu))
            c.guard_mark = static_cast<uint32_t>(*v);
    if (const auto *l = g.get("interfaces")) {
        auto &list = c.guard_interfaces.emplace();
        r.sequence(
            *l, "metadata_guard.interfaces",
            [&](const yaml::Node &n) {
                auto s = r.str(n, "metadata_guard.interfaces");
                if (s && (s->empty() || s->size() >= 16 || s->find('/') != std::string::npos))
                    r.error(n, "metadata_guard.interfaces: '" + *s + "' is not an interface name");
                else if (s)
                    list.push_back(*s);
            },
            "remove the key to guard every interface, or set mode: off");
        if (list.size() > kGuardMaxInterfaces)
            r.error(*l, "metadata_guard.interfaces lists " + std::to_string(list.size()) +
                            " interfaces; at most " + std::to_string(kGuardMaxInterfaces));
    }
}

} // namespace

// default, reply_only, metadata_*, nat64_prefixes: what the policy does beyond its rules.
void read_policy_settings(Reader &r, const yaml::Node &root, Config &c)
{
    if (const auto *dp = root.get("default")) {
        const auto &d = *dp;
        if (r.mapping(d, "default", {"ingress", "egress"})) {
            if (!d.get("ingress") || !d.get("egress"))
                r.error(d, "default needs both 'ingress' and 'egress' (allow or deny)");
            if (d.get("ingress"))
                if (auto a = r.allow_deny(*d.get("ingress"), "default.ingress"))
                    c.default_ingress_allow = *a;
            if (d.get("egress"))
                if (auto a = r.allow_deny(*d.get("egress"), "default.egress"))
                    c.default_egress_allow = *a;
        }
    } else {
        r.error(root, "missing 'default:' (ingress: allow|deny, egress: allow|deny)");
    }
    if (root.get("reply_only") && !root.get("reply_only")->is_null())
        r.sequence(*root.get("reply_only"), "reply_only", [&](const yaml::Node &n) {
            if (auto s = r.str(n, "reply_only role"))
                c.reply_only.push_back(*s);
        });
    if (root.get("metadata_block"))
        if (auto b = r.boolean(*root.get("metadata_block"), "metadata_block"))
            c.metadata_block = *b;
    if (const auto *u = root.get("unparsed"))
        if (auto s = r.str(*u, "unparsed")) {
            if (*s == "drop" || *s == "pass")
                c.unparsed_pass = *s == "pass";
            else
                r.error(*u, "unparsed must be drop or pass, not '" + *s + "'");
        }
    if (const auto *t = root.get("tunnels"))
        read_tunnels(r, *t, c);
    if (const auto *g = root.get("metadata_guard"))
        read_guard(r, *g, c);
    for (auto [key, list] : {std::pair{"metadata_extra", &c.metadata_extra},
                             std::pair{"metadata_exclude", &c.metadata_exclude},
                             std::pair{"nat64_prefixes", &c.nat64_prefixes}})
        if (root.get(key) && !root.get(key)->is_null())
            r.sequence(*root.get(key), key, [&, key = key, list = list](const yaml::Node &n) {
                if (auto p = r.prefix(n, key))
                    list->push_back(*p);
            });
}

// mss, conntrack, events: datapath tuning, each with defaults.
void read_tuning(Reader &r, const yaml::Node &root, Config &c)
{
    if (const auto *mp = root.get("mss")) {
        const auto &m = *mp;
        if (r.mapping(m, "mss", {"clamp_mesh", "mesh_ipv4", "mesh_ipv6"})) {
            if (m.get("clamp_mesh"))
                if (auto b = r.boolean(*m.get("clamp_mesh"), "mss.clamp_mesh"))
                    c.clamp_mesh = *b;
            if (m.get("mesh_ipv4") && m.get("mesh_ipv4")->scalar() != "auto")
                if (auto v = r.uint(*m.get("mesh_ipv4"), "mss.mesh_ipv4", 536, 65495))
                    c.mesh_mss4 = *v;
            if (m.get("mesh_ipv6") && m.get("mesh_ipv6")->scalar() != "auto")
                if (auto v = r.uint(*m.get("mesh_ipv6"), "mss.mesh_ipv6", 1220, 65475))
                    c.mesh_mss6 = *v;
        }
    }
    if (const auto *tp = root.get("conntrack")) {
        const auto &t = *tp;
        if (r.mapping(t, "conntrack", {"tcp_established", "tcp_transitory", "udp", "icmp"})) {
            auto get = [&](const char *k, uint32_t &dst) {
                if (t.get(k))
                    if (auto v = r.uint(*t.get(k), std::string("conntrack.") + k, 1, 864000))
                        dst = *v;
            };
            get("tcp_established", c.ct_tcp_established);
            get("tcp_transitory", c.ct_tcp_transitory);
            get("udp", c.ct_udp);
            get("icmp", c.ct_icmp);
        }
    }
    if (const auto *ep = root.get("events")) {
        const auto &e = *ep;
        if (r.mapping(e, "events", {"rate", "burst"})) {
            if (e.get("rate"))
                if (auto v = r.uint(*e.get("rate"), "events.rate", 0, 1000000))
                    c.events_rate = *v;
            if (e.get("burst"))
                if (auto v = r.uint(*e.get("burst"), "events.burst", 1, 1000000))
                    c.events_burst = *v;
        }
    }
}

} // namespace xi
