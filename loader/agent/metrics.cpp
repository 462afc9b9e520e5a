#include "metrics.h"

#include <bpf/bpf.h>
#include <chrono>
#include <map>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include "attach.h"
#include "guard_attach.h"
#include "handoff.h"
#include "counters.h"
#include "health.h"
#include "peer_state.h"
#include "publish.h"
#include "state.h"
#include "xi_reasons.h"
#include "xi_version.h"
#include "xi_names.h"

namespace xi
{

namespace
{

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

const std::vector<std::pair<std::string, std::string>> kFamilies = {
    {"xdp_ingress_packets_total",
     "Packets seen by a hook, by interface and verdict reason (stable reason labels)."},
    {"xdp_ingress_peer_packets_total",
     "Steering packets per sibling edge: forwarded to it, or decapsulated from it."},
    {"xdp_ingress_peer_bytes_total",
     "Steering bytes (encapsulated IP length) per sibling edge and direction."},
    {"xdp_ingress_rule_packets_total", "Packets decided by each policy rule."},
    {"xdp_ingress_rule_bytes_total", "Bytes decided by each policy rule."},
    {"xdp_ingress_generation", "Number of the policy generation the datapath runs."},
    {"xdp_ingress_build_info", "The xdp-ingress build serving these metrics (git describe)."},
    {"xdp_ingress_config_info",
     "Content hashes of the running config and Maglev table (compare them across edges)."},
    {"xdp_ingress_reloads_total", "Config reloads, by result."},
    {"xdp_ingress_last_reload_timestamp_seconds", "Time of the last applied reload."},
    {"xdp_ingress_last_reload_failure_timestamp_seconds", "Time of the last rejected reload."},
    {"xdp_ingress_attached",
     "Whether a program is attached (1) or not (0), by interface, hook, method and XDP mode."},
    {"xdp_ingress_handoff_info",
     "How the steering decision reaches TC on a public interface: mode tc or xdp-mark."},
    {"xdp_ingress_up",
     "Data-plane health: 1 healthy or degraded (previous policy running), 0 unhealthy."},
    {"xdp_ingress_health_status", "Data-plane health state, one series per state, 1 = current."},
    {"xdp_ingress_scrape_duration_seconds", "Time this scrape took to read the datapath."},
    {"xdp_ingress_peer_up",
     "This edge's probes through the mesh: 1 the sibling answers, 0 it is down (its slots go to "
     "their fallback owners), -1 no verdict yet (treated as up)."},
    {"xdp_ingress_peer_probes_total", "Probes sent to a sibling, by result (answered, lost)."},
    {"xdp_ingress_peer_transitions_total", "Up/down changes of a sibling as this edge sees it."},
    {"xdp_ingress_peer_probe_rtt_seconds", "Round trip of the last answered probe to a sibling."},
    {"xdp_ingress_seen_down_by",
     "How many siblings' last probes say they see this edge down (its flows are at their "
     "fallback owners there)."},
    {"xdp_ingress_recovery_seconds_left",
     "Time left in the recovery window: own flows without a socket here go to their fallback."},
};

MetricFamily family(const std::string &name, MetricType type)
{
    for (const auto &[n, help] : kFamilies)
        if (n == name)
            return MetricFamily{name, help, type, {}};
    return MetricFamily{name, "", type, {}};
}

ClientMetric metric(std::vector<prometheus::ClientMetric::Label> labels, double value,
                    MetricType type)
{
    ClientMetric m;
    m.label = std::move(labels);
    if (type == MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    return m;
}

int open_pin(const std::string &dir, const char *name)
{
    return bpf_obj_get((dir + "/" + name).c_str());
}

} // namespace

const std::vector<std::string> &metric_names()
{
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const auto &[n, _] : kFamilies)
            v.push_back(n);
        return v;
    }();
    return names;
}

DatapathCollector::DatapathCollector(Paths paths, std::string instance)
    : paths_(std::move(paths)), instance_(std::move(instance))
{
}

namespace
{

using Label = prometheus::ClientMetric::Label;
using Families = std::vector<MetricFamily>;

void add_health(Families &out, const Paths &paths, const std::string &instance, const Label &inst)
{
    auto health = check_health(paths, instance);
    auto up = family("xdp_ingress_up", MetricType::Gauge);
    up.metric.push_back(
        metric({inst}, health.status == Health::Unhealthy ? 0 : 1, MetricType::Gauge));
    out.push_back(up);
    auto hs = family("xdp_ingress_health_status", MetricType::Gauge);
    for (auto h :
         {Health::Healthy, Health::Degraded, Health::Unhealthy, Health::Draining, Health::Inactive})
        hs.metric.push_back(metric({inst, {"status", health_name(h)}}, health.status == h ? 1 : 0,
                                   MetricType::Gauge));
    out.push_back(hs);
}

// xdp_ingress_attached and _handoff_info; returns which interface each hook is attached to.
std::map<uint32_t, std::string> add_attachments(Families &out, const std::string &dir,
                                                const Label &inst, const InstanceState &st)
{
    // Which interface each hook is attached to (one interface per hook and instance; the
    // metadata guard counts for all the interfaces it is on at once: "all").
    std::map<uint32_t, std::string> hook_if;
    auto attached = family("xdp_ingress_attached", MetricType::Gauge);
    auto handoff = family("xdp_ingress_handoff_info", MetricType::Gauge);
    for (const auto &a : st.attachments) {
        hook_if[a.hook] = is_guard_hook(a.hook) ? "all" : a.ifname;
        if (a.hook == XI_HOOK_TC_PUBLIC_INGRESS && a.handoff != XI_HANDOFF_NONE)
            handoff.metric.push_back(
                metric({inst, {"interface", a.ifname}, {"mode", handoff_name(a.handoff)}}, 1,
                       MetricType::Gauge));
        bool live = false;
        if (a.method == AttachMethod::Clsact) {
            live = clsact_attached(a);
        } else if (int fd = open_pin(dir, a.pin_name.c_str()); fd >= 0) {
            bpf_link_info info{};
            __u32 len = sizeof(info);
            live = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
                   (info.type != BPF_LINK_TYPE_XDP || info.xdp.ifindex != 0);
            close(fd);
        }
        const char *method = attach_method_name(a.method);
        const char *mode = xdp_mode_name(a.xdp_mode);
        std::string hook = "?", dirn = "?";
        for (const auto &h : hooks())
            if (h.number == a.hook) {
                hook = h.kind;
                dirn = h.direction;
            }
        attached.metric.push_back(metric({inst,
                                          {"interface", a.ifname},
                                          {"hook", hook},
                                          {"direction", dirn},
                                          {"method", method},
                                          {"mode", mode},
                                          {"program", a.prog_name}},
                                         live ? 1 : 0, MetricType::Gauge));
    }
    out.push_back(attached);
    if (!handoff.metric.empty())
        out.push_back(handoff);
    return hook_if;
}

// What runs: build, config and table hashes, generation, reloads.
void add_state(Families &out, const Label &inst, const InstanceState &st)
{
    auto build = family("xdp_ingress_build_info", MetricType::Gauge);
    build.metric.push_back(metric({inst, {"version", XI_VERSION}}, 1, MetricType::Gauge));
    out.push_back(build);
    auto info = family("xdp_ingress_config_info", MetricType::Gauge);
    info.metric.push_back(metric({inst,
                                  {"node", st.node},
                                  {"config_sha256", st.config_sha256},
                                  {"table_sha256", st.table_sha256}},
                                 1, MetricType::Gauge));
    out.push_back(info);
    auto gen = family("xdp_ingress_generation", MetricType::Gauge);
    gen.metric.push_back(metric({inst}, double(st.generation), MetricType::Gauge));
    out.push_back(gen);
    auto reloads = family("xdp_ingress_reloads_total", MetricType::Counter);
    reloads.metric.push_back(
        metric({inst, {"result", "success"}}, double(st.reloads_ok), MetricType::Counter));
    reloads.metric.push_back(
        metric({inst, {"result", "failure"}}, double(st.reloads_failed), MetricType::Counter));
    out.push_back(reloads);
    auto last_ok = family("xdp_ingress_last_reload_timestamp_seconds", MetricType::Gauge);
    last_ok.metric.push_back(metric(
        {inst}, double(st.reloaded_at ? st.reloaded_at : st.attached_at), MetricType::Gauge));
    out.push_back(last_ok);
    auto last_bad = family("xdp_ingress_last_reload_failure_timestamp_seconds", MetricType::Gauge);
    last_bad.metric.push_back(metric({inst}, double(st.last_failure_at), MetricType::Gauge));
    out.push_back(last_bad);
}

// Counters by hook and reason: every stable reason of every attached hook, zeros included,
// so rate() works from the first scrape.
void add_reason_counters(Families &out, const std::string &dir, const Label &inst,
                         const std::map<uint32_t, std::string> &hook_if)
{
    if (int fd = open_pin(dir, XI_MAP_STATS); fd >= 0) {
        auto all = percpu_array_sums(fd, XI_HOOK_SLOTS * XI_REASON_SLOTS, 1);
        close(fd);
        auto pk = family("xdp_ingress_packets_total", MetricType::Counter);
        for (const auto &h : hooks()) {
            auto it = hook_if.find(h.number);
            if (it == hook_if.end())
                continue;
            for (const auto &r : reasons())
                pk.metric.push_back(metric({inst,
                                            {"interface", it->second},
                                            {"hook", h.kind},
                                            {"side", h.side},
                                            {"direction", h.direction},
                                            {"reason", r.label},
                                            {"verdict", r.drop ? "drop" : "pass"}},
                                           double(all[h.number * XI_REASON_SLOTS + r.number][0]),
                                           MetricType::Counter));
        }
        out.push_back(pk);
    }
}

// Per sibling edge (steering) and per rule (policy), named through the catalog.
void add_peer_and_rule_counters(Families &out, const std::string &dir, const Label &inst,
                                const InstanceState &st)
{
    try {
        auto maps = GenMaps::open_pinned(dir);
        auto node_names = read_catalog(maps, CatalogKind::Node);
        if (int fd = open_pin(dir, XI_MAP_NODE_STATS); fd >= 0) {
            auto all = percpu_array_sums(fd, XI_MAX_NODES * XI_NODE_CTR_SLOTS, 1);
            close(fd);
            auto pp = family("xdp_ingress_peer_packets_total", MetricType::Counter);
            auto pb = family("xdp_ingress_peer_bytes_total", MetricType::Counter);
            for (uint32_t s = 0; s < XI_MAX_NODES; s++) {
                if (node_names[s].empty() || node_names[s] == st.node)
                    continue;
                uint32_t b = s * XI_NODE_CTR_SLOTS;
                for (auto [dirn, pkts, bytes] :
                     {std::tuple{"forwarded", XI_NODE_FWD_PACKETS, XI_NODE_FWD_BYTES},
                      {"decapsulated", XI_NODE_DECAP_PACKETS, XI_NODE_DECAP_BYTES}}) {
                    pp.metric.push_back(metric({inst, {"peer", node_names[s]}, {"direction", dirn}},
                                               double(all[b + pkts][0]), MetricType::Counter));
                    pb.metric.push_back(metric({inst, {"peer", node_names[s]}, {"direction", dirn}},
                                               double(all[b + bytes][0]), MetricType::Counter));
                }
            }
            out.push_back(pp);
            out.push_back(pb);
        }
        auto rule_names = read_catalog(maps, CatalogKind::Rule);
        if (int fd = open_pin(dir, XI_MAP_RULE_STATS); fd >= 0) {
            auto rows = read_rule_counters(fd, rule_names);
            close(fd);
            auto rp = family("xdp_ingress_rule_packets_total", MetricType::Counter);
            auto rb = family("xdp_ingress_rule_bytes_total", MetricType::Counter);
            for (const auto &r : rows) {
                rp.metric.push_back(metric({inst, {"rule", rule_names[r.slot]}}, double(r.packets),
                                           MetricType::Counter));
                rb.metric.push_back(metric({inst, {"rule", rule_names[r.slot]}}, double(r.bytes),
                                           MetricType::Counter));
            }
            out.push_back(rp);
            out.push_back(rb);
        }
    } catch (const std::exception &) {
        // maps gone mid-scrape (detach): up/health above already say so
    }
}

// Health-driven failover (issue #14): what serve's probes wrote into xi_peer_state.
void add_failover(Families &out, const std::string &dir, const Label &inst, const InstanceState &st)
{
    auto map = PeerStateMap::open(dir);
    if (!map)
        return;
    std::vector<std::string> names;
    try {
        names = read_catalog(GenMaps::open_pinned(dir), CatalogKind::Node);
    } catch (const std::exception &) {
        return;
    }
    auto up = family("xdp_ingress_peer_up", MetricType::Gauge);
    auto probes = family("xdp_ingress_peer_probes_total", MetricType::Counter);
    auto trans = family("xdp_ingress_peer_transitions_total", MetricType::Counter);
    auto rtt = family("xdp_ingress_peer_probe_rtt_seconds", MetricType::Gauge);
    auto seen = family("xdp_ingress_seen_down_by", MetricType::Gauge);
    auto left = family("xdp_ingress_recovery_seconds_left", MetricType::Gauge);
    const auto all = map->all();
    const uint32_t now = boot_units_now();
    for (uint32_t i = 0; i < all.size() && i < names.size(); i++) {
        const xi_peer_state &e = all[i];
        if (names[i].empty())
            continue;
        if (names[i] == st.node) {
            seen.metric.push_back(metric({inst}, double(e.reported_down), MetricType::Gauge));
            left.metric.push_back(
                metric({inst}, e.recover_until > now ? (e.recover_until - now) * 1.073741824 : 0.0,
                       MetricType::Gauge));
            continue;
        }
        if (!e.probes_sent && !e.flags && !e.state)
            continue; // not probed (failover off, a backend)
        const Label peer{"peer", names[i]};
        up.metric.push_back(metric({inst, peer},
                                   e.state == XI_PEER_DOWN ? 0.0
                                   : e.state == XI_PEER_UP ? 1.0
                                                           : -1.0,
                                   MetricType::Gauge));
        probes.metric.push_back(metric({inst, peer, {"result", "answered"}},
                                       double(e.probes_answered), MetricType::Counter));
        probes.metric.push_back(metric({inst, peer, {"result", "lost"}},
                                       double(e.probes_sent - e.probes_answered),
                                       MetricType::Counter));
        trans.metric.push_back(metric({inst, peer}, double(e.transitions), MetricType::Counter));
        rtt.metric.push_back(metric({inst, peer}, e.rtt_us / 1e6, MetricType::Gauge));
    }
    for (auto *f : {&up, &probes, &trans, &rtt, &seen, &left})
        if (!f->metric.empty())
            out.push_back(*f);
}

} // namespace

std::vector<MetricFamily> DatapathCollector::Collect() const
{
    auto t0 = std::chrono::steady_clock::now();
    std::vector<MetricFamily> out;
    const std::string dir = paths_.instance(instance_);
    const Label inst{"instance", instance_};
    std::optional<InstanceState> st;
    try {
        st = load_state(dir);
    } catch (const std::exception &) {
    }
    add_health(out, paths_, instance_, inst);
    if (!st)
        return out;
    auto hook_if = add_attachments(out, dir, inst, *st);
    add_state(out, inst, *st);
    add_reason_counters(out, dir, inst, hook_if);
    add_peer_and_rule_counters(out, dir, inst, *st);
    add_failover(out, dir, inst, *st);
    auto dur = family("xdp_ingress_scrape_duration_seconds", MetricType::Gauge);
    dur.metric.push_back(
        metric({inst}, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
               MetricType::Gauge));
    out.push_back(dur);
    return out;
}

std::string render_metrics(const Paths &paths, const std::string &instance)
{
    DatapathCollector c(paths, instance);
    prometheus::TextSerializer ser;
    return ser.Serialize(c.Collect());
}

} // namespace xi
