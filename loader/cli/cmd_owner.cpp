// owner: which edge owns a flow, with the datapath's hash and table (debugging anycast).
//   xdp-ingress owner --config FILE PROTO SRC:SPORT DST:DPORT
//   xdp-ingress owner --config FILE --stdin      (one "PROTO SRC:SPORT DST:DPORT" per line)
#include <algorithm>
#include <iostream>
#include <map>
#include <netinet/in.h>
#include <sstream>

#include "commands.h"
#include "compile.h"
#include "config.h"
#include "error.h"
#include "fallback.h"
#include "instance.h"
#include "owner.h"
#include "xi_hash.h"

namespace xi
{

namespace
{

FlowTuple parse_flow(const std::string &proto, const std::string &src, const std::string &dst)
{
    FlowTuple t;
    if (proto == "tcp")
        t.proto = IPPROTO_TCP;
    else if (proto == "udp")
        t.proto = IPPROTO_UDP;
    else
        throw Error("protocol '" + proto + "' is not tcp or udp");
    auto s = parse_endpoint(src), d = parse_endpoint(dst);
    if (!s || !d)
        throw Error("'" + (!s ? src : dst) + "' is not ADDR:PORT (IPv6: [ADDR]:PORT)");
    for (const auto &[text, ep] : {std::pair{src, s}, std::pair{dst, d}})
        if (auto why = noncanonical_form(ep->first, text); !why.empty())
            throw Error(why);
    if (s->first.v4 != d->first.v4)
        throw Error("source and destination are of different address families");
    t.src = s->first;
    t.sport = s->second;
    t.dst = d->first;
    t.dport = d->second;
    return t;
}

bool is_vip(const Config &c, const FlowTuple &t)
{
    for (const auto &v : c.vips)
        if (v.addr == t.dst && v.proto == t.proto &&
            (v.ports.empty() ||
             std::find(v.ports.begin(), v.ports.end(), t.dport) != v.ports.end()))
            return true;
    return false;
}

// The fallback column, built per owner as flows need it (GenContent compiled without it):
// an owner query costs one Maglev build per distinct owner asked about, not one per edge.
class Fallbacks
{
public:
    explicit Fallbacks(const GenContent &g) : g_(g) {}
    uint16_t of(uint32_t slot, uint16_t owner)
    {
        auto &col = without_[owner];
        if (col.empty())
            col = build_maglev_without(g_.edges_after, owner, g_.cfg.table_size);
        return slot < col.size() ? col[slot] : XI_NODE_NONE;
    }

private:
    const GenContent &g_;
    std::map<uint16_t, std::vector<uint16_t>> without_;
};

nlohmann::json answer(const Config &c, const GenContent &g, Fallbacks &fb, const FlowTuple &t)
{
    uint64_t h = flow_hash(t, g.cfg.seed);
    uint32_t slot = xi_maglev_slot(h, g.cfg.table_size);
    uint32_t e = g.maglev.empty() ? XI_NODE_NONE : g.maglev[slot];
    uint32_t owner = XI_MAGLEV_OWNER(e), prev = XI_MAGLEV_PREV(e);
    char hex[32];
    snprintf(hex, sizeof(hex), "0x%016llx", static_cast<unsigned long long>(h));
    nlohmann::json j = {{"owner", owner < g.node_names.size() ? g.node_names[owner] : ""},
                        {"vip", is_vip(c, t)},
                        {"hash", hex},
                        {"table_slot", slot},
                        {"table_size", g.cfg.table_size}};
    // Mid-change: the edge that owned the slot before the step, which the flow gets a second
    // chance at when the owner holds no socket for it.
    if (prev < g.node_names.size())
        j["previous_owner"] = g.node_names[prev];
    // Where the flow goes while its owner is down (issue #14), by every edge's table.
    if (owner < g.node_names.size())
        if (uint16_t f = fb.of(slot, static_cast<uint16_t>(owner)); f < g.node_names.size())
            j["fallback"] = g.node_names[f];
    return j;
}

std::string render(const nlohmann::json &j)
{
    std::string s = j["owner"].get<std::string>().empty() ? std::string("(no edge takes traffic)")
                                                          : j["owner"].get<std::string>();
    s += " (slot " + std::to_string(j["table_slot"].get<uint32_t>()) + "/" +
         std::to_string(j["table_size"].get<uint32_t>()) + ", hash " +
         j["hash"].get<std::string>() + ")";
    if (j.contains("previous_owner"))
        s += ", previously " + j["previous_owner"].get<std::string>() +
             " (second chance there while the fleet change lasts)";
    if (j.contains("fallback"))
        s += "; if it is down: " + j["fallback"].get<std::string>();
    if (!j["vip"].get<bool>())
        s += " -- not a configured VIP: the datapath does not steer this flow";
    return s;
}

} // namespace

void add_owner_command(CLI::App &app, Globals &g, Runner &run)
{
    struct Opts {
        std::string config, proto, src, dst;
        bool stdin_mode = false;
    };
    auto o = std::make_shared<Opts>();
    auto *cmd = app.add_subcommand("owner", "Which edge owns a flow (the datapath's hash)");
    // No ExistingFile check: a missing file is a failed run (exit 1) that names the file, as
    // in validate, not a usage error.
    cmd->add_option("-c,--config", o->config, "Fleet config file (YAML)")->required();
    cmd->add_option("proto", o->proto, "tcp or udp");
    cmd->add_option("src", o->src, "Client ADDR:PORT ([ADDR]:PORT for IPv6)");
    cmd->add_option("dst", o->dst, "VIP ADDR:PORT");
    cmd->add_flag("--stdin", o->stdin_mode, "Read flows from stdin, one per line");
    cmd->callback([&g, &run, o] {
        run = [&g, o] {
            auto res = load_config(o->config);
            if (!res.errors.empty())
                throw ConfigErrors(res.errors);
            CompileInput in;
            in.config = &*res.config;
            in.node = res.config->nodes.front().name; // ownership does not depend on self
            in.fallback = false;                      // built per owner asked about (Fallbacks)
            GenContent gen = compile_generation(in);
            Fallbacks fb(gen);
            if (!o->stdin_mode) {
                if (o->dst.empty())
                    throw Error("owner needs PROTO SRC:SPORT DST:DPORT (or --stdin)");
                auto j = answer(*res.config, gen, fb, parse_flow(o->proto, o->src, o->dst));
                if (g.json)
                    print_json(g, j);
                else
                    std::cout << render(j) << "\n";
                return 0;
            }
            std::string line;
            while (std::getline(std::cin, line)) {
                std::istringstream ls(line);
                std::string p, s, d;
                if (!(ls >> p >> s >> d))
                    continue;
                auto j = answer(*res.config, gen, fb, parse_flow(p, s, d));
                if (g.json)
                    std::cout << json_text(j) << "\n";
                else
                    std::cout << render(j) << "\n";
            }
            return 0;
        };
    });
}

} // namespace xi
