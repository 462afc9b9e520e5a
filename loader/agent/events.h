// Reading the datapath's event ring buffer (deny and steering events) and rendering events
// with names: roles, rules and nodes come from the instance's catalog.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xi_structs.h"

namespace xi
{

struct Catalogs {
    std::vector<std::string> nodes, rules, roles;
};

nlohmann::json event_json(const xi_event &e, const Catalogs &names);
std::string event_line(const nlohmann::json &e); // one line for people

// Poll the ring buffer map (fd) and call fn for each event until fn returns false, `count`
// events were seen (0: no limit), `timeout_ms` passed (<0: forever) or `stop` returns true
// (asked at least every 200 ms and after a signal interrupts the wait, so a quiet stream still
// ends on SIGINT/SIGTERM). Returns events seen.
size_t poll_events(int ringbuf_fd, const std::function<bool(const xi_event &)> &fn, size_t count,
                   int timeout_ms, const std::function<bool()> &stop = nullptr);

} // namespace xi
