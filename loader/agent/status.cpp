#include "status.h"

#include <algorithm>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <ctime>
#include <sstream>
#include <unistd.h>

#include "attach.h"
#include "counters.h"
#include "handoff.h"
#include "peer_state.h"
#include "publish.h"
#include "state.h"
#include "xi_reasons.h"
#include "xi_version.h"

namespace xi
{

nlohmann::json failover_status(const std::string &dir, const xi_gen_config &cfg,
                               const std::vector<std::string> &names);

namespace
{

constexpr __u32 kBpfLinkTypeTcx = 11; // BPF_LINK_TYPE_TCX, kernel >= 6.6

const HookInfo *hook_info(uint32_t n)
{
    for (const auto &h : hooks())
        if (h.number == n)
            return &h;
    return nullptr;
}

} // namespace

// Ask the kernel, not our record: is the program still attached, and which one?
nlohmann::json attachment_status(const std::string &dir, const Attachment &a)
{
    nlohmann::json j;
    const HookInfo *h = hook_info(a.hook);
    j["interface"] = a.ifname;
    j["ifindex"] = a.ifindex;
    j["hook"] = h ? std::string(h->kind) + "/" + h->direction : "?";
    j["side"] = h ? h->side : "?";
    j["method"] = attach_method_name(a.method);
    if (a.xdp_mode != XdpMode::None)
        j["mode"] = xdp_mode_name(a.xdp_mode);
    if (a.handoff != XI_HANDOFF_NONE)
        j["handoff"] = handoff_name(a.handoff);
    j["program"] = a.prog_name;
    uint32_t prog_id = a.prog_id;
    bool live = false;
    if (a.method == AttachMethod::Clsact) {
        j["tc_handle"] = a.tc_handle;
        j["tc_priority"] = a.tc_priority;
        live = clsact_attached(a);
    } else {
        j["pin"] = dir + "/" + a.pin_name;
        int fd = bpf_obj_get((dir + "/" + a.pin_name).c_str());
        if (fd >= 0) {
            bpf_link_info info{};
            __u32 len = sizeof(info);
            if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
                prog_id = info.prog_id;
                j["link_id"] = info.id;
                // A link whose interface went away stays pinned but is defunct (ifindex 0).
                // tcx links report {ifindex, attach_type} at the same place as xdp.ifindex;
                // the 6.1 UAPI headers lack both the type and the struct.
                bool netdev_link = info.type == BPF_LINK_TYPE_XDP || info.type == kBpfLinkTypeTcx;
                live = netdev_link ? info.xdp.ifindex != 0 : true;
                if (!live)
                    j["interface_gone"] = true; // the kernel unregistered the device
            }
            close(fd);
        }
    }
    j["program_id"] = prog_id;
    j["attached"] = live;
    return j;
}

bool attachment_fine(const nlohmann::json &a)
{
    return a["attached"].get<bool>() ||
           (a["side"].get<std::string>() == "guard" && a.value("interface_gone", false));
}

nlohmann::json instance_status(const Paths &p, const std::string &instance)
{
    std::string dir = p.instance(instance);
    nlohmann::json j;
    j["instance"] = instance;
    j["pin_dir"] = dir;
    j["loader_version"] = XI_VERSION; // of the binary reading the pins
    auto st = load_state(dir);
    if (!st) {
        j["state"] = "incomplete";
        return j;
    }
    j["state"] = "attached";
    j["node"] = st->node;
    if (!st->netns.empty())
        j["netns"] = st->netns;
    j["config"] = {{"path", st->config_path}, {"sha256", st->config_sha256}};
    j["table_sha256"] = st->table_sha256;
    j["attached_at"] = st->attached_at;
    j["reloads"] = {{"ok", st->reloads_ok}, {"failed", st->reloads_failed}};
    j["attachments"] = nlohmann::json::array();
    bool all_live = true;
    for (const auto &a : st->attachments) {
        auto aj = attachment_status(dir, a);
        all_live = all_live && attachment_fine(aj);
        j["attachments"].push_back(aj);
    }
    if (!all_live)
        j["state"] = "degraded";

    auto maps = GenMaps::open_pinned(dir);
    auto active = read_active(maps);
    j["generation"] = {{"number", active.generation}, {"slot", active.slot}};
    // A fleet change in progress (issue #13): when its second chances end, on the boot clock
    // the datapath compares (units of 2^30 ns).
    xi_gen_config cfg{};
    if (active.generation && bpf_map_lookup_elem(maps.gen_config, &active.slot, &cfg) == 0) {
        timespec ts{};
        clock_gettime(CLOCK_BOOTTIME, &ts);
        double now = (double(ts.tv_sec) * 1e9 + double(ts.tv_nsec)) / double(1ull << 30);
        if (cfg.second_chance_until)
            j["second_chance"] = {
                {"seconds_left", std::max(0.0, (cfg.second_chance_until - now) * 1.073741824)}};
        j["draining"] = (cfg.flags & XI_CFG_SELF_DRAINING) != 0;
        j["inactive"] = (cfg.flags & XI_CFG_SELF_INACTIVE) != 0;
    }

    int stats = bpf_obj_get((dir + "/xi_stats").c_str());
    nlohmann::json counters = nlohmann::json::array();
    if (stats >= 0) {
        for (const auto &row : read_reason_counters(stats)) {
            const HookInfo *h = hook_info(row.hook);
            const ReasonInfo *r = reason_info(row.reason);
            counters.push_back(
                {{"hook", h ? std::string(h->side) + "/" + h->kind + "/" + h->direction : "?"},
                 {"reason", r ? r->label : "?"},
                 {"drop", r && r->drop},
                 {"packets", row.packets}});
        }
        close(stats);
    }
    j["counters"] = counters;

    auto node_names = read_catalog(maps, CatalogKind::Node);
    int node_stats = bpf_obj_get((dir + "/xi_node_stats").c_str());
    nlohmann::json peers = nlohmann::json::array();
    if (node_stats >= 0) {
        for (const auto &n : read_node_counters(node_stats))
            peers.push_back({{"node", n.slot < node_names.size() ? node_names[n.slot] : "?"},
                             {"forwarded_packets", n.fwd_packets},
                             {"forwarded_bytes", n.fwd_bytes},
                             {"decapsulated_packets", n.decap_packets},
                             {"decapsulated_bytes", n.decap_bytes}});
        close(node_stats);
    }
    j["peers"] = peers;
    j["failover"] = failover_status(dir, cfg, node_names);

    auto rule_names = read_catalog(maps, CatalogKind::Rule);
    int rule_stats = bpf_obj_get((dir + "/xi_rule_stats").c_str());
    nlohmann::json rules = nlohmann::json::array();
    if (rule_stats >= 0) {
        for (const auto &r : read_rule_counters(rule_stats, rule_names))
            rules.push_back(
                {{"rule", rule_names[r.slot]}, {"packets", r.packets}, {"bytes", r.bytes}});
        close(rule_stats);
    }
    j["rules"] = rules;
    return j;
}

// What serve's probes found (issue #14), from xi_peer_state: per sibling its state and probe
// counters; for this edge, how many siblings see it down and how long its recovery window lasts.
nlohmann::json failover_status(const std::string &dir, const xi_gen_config &cfg,
                               const std::vector<std::string> &names)
{
    nlohmann::json f = {{"enabled", cfg.probe_port != 0}, {"probe_port", ntohs(cfg.probe_port)}};
    auto map = PeerStateMap::open(dir);
    nlohmann::json sibs = nlohmann::json::array();
    if (!map) {
        f["siblings"] = sibs;
        return f;
    }
    const auto all = map->all();
    const uint32_t now = boot_units_now();
    for (uint32_t i = 0; i < all.size(); i++) {
        const xi_peer_state &e = all[i];
        if (i == cfg.self_node) {
            f["reported_down_by"] = e.reported_down;
            f["recovering_seconds_left"] =
                e.recover_until > now ? (e.recover_until - now) * 1.073741824 : 0.0;
            continue;
        }
        if (!e.probes_sent && !e.flags && !e.state)
            continue;
        const char *state = e.state == XI_PEER_DOWN ? "down"
                            : e.state == XI_PEER_UP ? "up"
                                                    : "unknown";
        sibs.push_back({{"node", i < names.size() && !names[i].empty() ? names[i] : "?"},
                        {"state", state},
                        {"failed_over", (e.flags & XI_PEER_F_DOWN) != 0},
                        {"probes_sent", e.probes_sent},
                        {"probes_answered", e.probes_answered},
                        {"transitions", e.transitions},
                        {"rtt_ms", e.rtt_us / 1000.0},
                        {"changed_at", e.changed_at}});
    }
    f["siblings"] = sibs;
    return f;
}

std::string render_status(const nlohmann::json &instances)
{
    std::ostringstream out;
    if (instances.empty())
        out << "no instances attached\n";
    for (const auto &j : instances) {
        out << "instance " << j["instance"].get<std::string>() << ": "
            << j["state"].get<std::string>() << "\n";
        if (j["state"] == "error") {
            out << "  " << j["error"].get<std::string>() << "\n";
            continue;
        }
        if (j["state"] == "incomplete") {
            out << "  pins in " << j["pin_dir"].get<std::string>()
                << " but no state: run `xdp-ingress detach --instance "
                << j["instance"].get<std::string>() << "` to clean up\n";
            continue;
        }
        out << "  node " << j["node"].get<std::string>();
        if (j.contains("netns"))
            out << " in netns " << j["netns"].get<std::string>();
        out << "\n  config " << j["config"]["path"].get<std::string>() << " sha256 "
            << j["config"]["sha256"].get<std::string>().substr(0, 16) << "\n";
        out << "  generation " << j["generation"]["number"] << " (slot " << j["generation"]["slot"]
            << "), table sha256 " << j["table_sha256"].get<std::string>().substr(0, 16) << "\n";
        if (j.value("draining", false))
            out << "  draining: the fleet file drains this edge (health says so)\n";
        if (j.contains("second_chance"))
            out << "  fleet change: second chances for moved slots end in "
                << static_cast<long>(j["second_chance"]["seconds_left"].get<double>()) << " s\n";
        for (const auto &a : j["attachments"]) {
            out << "  " << a["interface"].get<std::string>() << " " << a["hook"].get<std::string>()
                << " " << a["method"].get<std::string>();
            if (a.contains("mode"))
                out << " " << a["mode"].get<std::string>();
            if (a.contains("handoff"))
                out << " handoff " << a["handoff"].get<std::string>();
            out << " prog " << a["program"].get<std::string>() << " id " << a["program_id"]
                << (a["attached"].get<bool>()                                  ? ""
                    : a.value("interface_gone", false) && a["side"] == "guard" ? " (interface gone)"
                                                                               : " NOT ATTACHED")
                << "\n";
        }
        if (!j["counters"].empty()) {
            out << "  counters:\n";
            for (const auto &c : j["counters"])
                out << "    " << c["hook"].get<std::string>() << " "
                    << c["reason"].get<std::string>() << (c["drop"].get<bool>() ? " (drop)" : "")
                    << ": " << c["packets"] << "\n";
        }
        if (!j["peers"].empty()) {
            out << "  peers:\n";
            for (const auto &p : j["peers"])
                out << "    " << p["node"].get<std::string>() << ": forwarded "
                    << p["forwarded_packets"] << " pkts, decapsulated " << p["decapsulated_packets"]
                    << " pkts\n";
        }
        if (j.contains("failover") && !j["failover"]["siblings"].empty()) {
            const auto &f = j["failover"];
            out << "  failover (probes on port " << f["probe_port"] << "):\n";
            for (const auto &p : f["siblings"]) {
                out << "    " << p["node"].get<std::string>() << " "
                    << p["state"].get<std::string>()
                    << (p["failed_over"].get<bool>() ? " (its slots go to their fallback)" : "")
                    << ": " << p["probes_answered"] << " of " << p["probes_sent"]
                    << " probes answered, rtt " << p["rtt_ms"].get<double>() << " ms, "
                    << p["transitions"] << " transitions\n";
            }
            if (f.value("reported_down_by", 0) > 0)
                out << "    this edge is seen down by " << f["reported_down_by"] << " sibling(s)\n";
            if (f.value("recovering_seconds_left", 0.0) > 0)
                out << "    recovery window: own flows without a socket here go to their fallback "
                       "for "
                    << static_cast<long>(f["recovering_seconds_left"].get<double>()) << " s\n";
        }
        if (!j["rules"].empty()) {
            out << "  rules:\n";
            for (const auto &r : j["rules"])
                out << "    " << r["rule"].get<std::string>() << ": " << r["packets"] << " pkts, "
                    << r["bytes"] << " bytes\n";
        }
    }
    if (!instances.empty()) // the reader's build, as in --version and xdp_ingress_build_info
        out << "read by xdp-ingress " << XI_VERSION << "\n";
    return out.str();
}

} // namespace xi
