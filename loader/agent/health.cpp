#include "health.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include "counters.h"
#include "handoff.h"
#include "publish.h"
#include "state.h"
#include "status.h"
#include "xi_reasons.h"

namespace xi
{

const char *health_name(Health h)
{
    switch (h) {
    case Health::Healthy:
        return "healthy";
    case Health::Degraded:
        return "degraded";
    case Health::Draining:
        return "draining";
    case Health::Inactive:
        return "inactive";
    default:
        return "unhealthy";
    }
}

nlohmann::json HealthReport::json() const
{
    return {{"status", health_name(status)}, {"summary", summary}, {"checks", checks}};
}

namespace
{

uint64_t mark_failures(const std::string &dir)
{
    int fd = bpf_obj_get((dir + "/xi_stats").c_str());
    if (fd < 0)
        return 0;
    uint64_t n = percpu_sum(fd, XI_HOOK_XDP_PUBLIC * XI_REASON_SLOTS + XI_R_MARK_FAILED);
    close(fd);
    return n;
}

// The active generation's settings (XI_CFG_*), for what the fleet file says about this node.
uint16_t active_flags(const std::string &dir)
{
    auto maps = GenMaps::open_pinned(dir);
    auto active = read_active(maps);
    xi_gen_config cfg{};
    if (active.generation && bpf_map_lookup_elem(maps.gen_config, &active.slot, &cfg) == 0)
        return cfg.flags;
    return 0;
}

// An edge the fleet file takes out of service (draining, inactive) withdraws its route.
bool out_of_service(HealthReport &r, uint16_t flags, uint64_t generation)
{
    const bool draining = flags & XI_CFG_SELF_DRAINING, inactive = flags & XI_CFG_SELF_INACTIVE;
    if (!draining && !inactive)
        return false;
    r.checks.push_back(
        {{"name", "fleet state"},
         {"ok", true},
         {"detail", draining ? "the fleet file has this edge draining: no new flows; the ones it "
                               "holds still reach it (second chance)"
                             : "the fleet file has this edge inactive: it owns no Maglev slot "
                               "and holds no flow the others send it"}});
    r.status = draining ? Health::Draining : Health::Inactive;
    r.summary = std::string(draining ? "draining" : "inactive") +
                ": withdraw the route (generation " + std::to_string(generation) + " running)";
    return true;
}

} // namespace

bool withdraw_route(const HealthReport &h, bool strict)
{
    return h.status == Health::Unhealthy || h.status == Health::Draining ||
           h.status == Health::Inactive || (strict && h.status == Health::Degraded);
}

HealthReport check_health(const Paths &p, const std::string &instance)
{
    HealthReport r;
    std::string bad;
    auto check = [&](const std::string &name, bool ok, const std::string &detail) {
        r.checks.push_back({{"name", name}, {"ok", ok}, {"detail", detail}});
        if (!ok && bad.empty())
            bad = detail;
        return ok;
    };
    std::string dir = p.instance(instance);
    std::optional<InstanceState> st;
    try {
        st = load_state(dir);
    } catch (const std::exception &e) {
        check("state", false, e.what());
    }
    if (!check("state", st.has_value(),
               st ? "instance " + instance + " is attached"
                  : "instance " + instance + " is not attached")) {
        r.summary = bad;
        return r;
    }
    try {
        for (const auto &att : st->attachments) {
            auto a = attachment_status(dir, att);
            const std::string what =
                a["program"].get<std::string>() + " on " + a["interface"].get<std::string>();
            // The guard goes on every interface there was at attach: one that has gone since
            // (a pod's veth) takes its guard with it, and the node is no less healthy.
            if (a["side"] == "guard" && attachment_fine(a) && !a["attached"].get<bool>()) {
                check("attached " + a["program"].get<std::string>() + "@" +
                          a["interface"].get<std::string>(),
                      true, what + ": the interface is gone, and its guard with it");
                continue;
            }
            check("attached " + a["program"].get<std::string>() + "@" +
                      a["interface"].get<std::string>(),
                  a["attached"].get<bool>(),
                  what + (a["attached"].get<bool>() ? " is attached" : " is NOT attached"));
        }
        auto maps = GenMaps::open_pinned(dir);
        auto active = read_active(maps);
        check("generation", active.generation > 0,
              active.generation ? "generation " + std::to_string(active.generation) + " is active"
                                : "no generation has been published");
        int stats = bpf_obj_get((dir + "/xi_stats").c_str());
        uint32_t key = 0;
        std::vector<uint64_t> v(256);
        bool readable = stats >= 0 && bpf_map_lookup_elem(stats, &key, v.data()) == 0;
        if (stats >= 0)
            close(stats);
        check("counters", readable, readable ? "counters are readable" : "xi_stats unreadable");
        // Either hand-off steers correctly: TC decides whatever XDP could not mark.
        for (const auto &att : st->attachments) {
            if (att.hook != XI_HOOK_TC_PUBLIC_INGRESS || att.handoff == XI_HANDOFF_NONE)
                continue;
            std::string detail = std::string("hand-off ") + handoff_name(att.handoff) + " on " +
                                 att.ifname +
                                 (att.handoff == XI_HANDOFF_TC
                                      ? ": TC ingress makes the steering decisions"
                                      : ": XDP decides, TC decides what XDP could not mark");
            if (uint64_t failed = mark_failures(dir); failed)
                detail += " (" + std::to_string(failed) +
                          " marks failed: the driver gives XDP "
                          "no metadata room; --handoff tc saves XDP that work)";
            check("handoff", true, detail);
        }
    } catch (const std::exception &e) {
        check("maps", false, e.what());
    }
    if (!bad.empty()) {
        r.status = Health::Unhealthy;
        r.summary = bad;
        return r;
    }
    if (out_of_service(r, active_flags(dir), st->generation))
        return r;
    bool reload_ok = st->last_error.empty();
    r.checks.push_back({{"name", "last reload"},
                        {"ok", reload_ok},
                        {"detail", reload_ok ? "last reload applied"
                                             : "last reload rejected: " + st->last_error}});
    r.status = reload_ok ? Health::Healthy : Health::Degraded;
    r.summary = reload_ok ? "healthy: generation " + std::to_string(st->generation) + " running"
                          : "degraded: the previous policy runs, the last reload was rejected (" +
                                st->last_error + ")";
    return r;
}

} // namespace xi
