// Is this edge fit to carry traffic? One verdict for `xdp-ingress health` (exit code, for a BGP
// speaker's health check) and for `serve`'s /healthz.
//   healthy    every program attached, tables readable, a generation published
//   degraded   healthy, but the last reload was rejected: the previous policy is still running
//              (not a reason to withdraw the route by default: a bad file pushed to the whole
//              fleet must not take every edge down; --strict / ?strict=1 treats it as down)
//   draining   healthy, but the fleet file has this edge draining (issue #13): withdraw its
//              route so no new flows come; the flows it holds still reach it (second chance)
//   unhealthy  something the datapath needs is missing
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "bpffs.h"

namespace xi
{

enum class Health { Healthy, Degraded, Unhealthy, Draining, Inactive };

struct HealthReport {
    Health status = Health::Unhealthy;
    nlohmann::json checks = nlohmann::json::array(); // {name, ok, detail}
    std::string summary;                             // one sentence
    nlohmann::json json() const;
};

HealthReport check_health(const Paths &p, const std::string &instance);
// Whether a BGP speaker should withdraw the route: unhealthy, draining, inactive, or (strict)
// degraded.
bool withdraw_route(const HealthReport &h, bool strict);
const char *health_name(Health h);

} // namespace xi
