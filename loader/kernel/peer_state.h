// The pinned xi_peer_state array (issue #14): serve writes what its probes found, the datapath
// reads the down flag and this edge's recovery window, status and /metrics read the rest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xi_structs.h"

namespace xi
{

class PeerStateMap
{
public:
    // Opens dir/xi_peer_state; nullopt when the instance has none (a release before #14).
    static std::optional<PeerStateMap> open(const std::string &dir);
    PeerStateMap(PeerStateMap &&o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    PeerStateMap(const PeerStateMap &) = delete;
    PeerStateMap &operator=(const PeerStateMap &) = delete;
    ~PeerStateMap();

    xi_peer_state get(uint32_t node) const;                // zero when unreadable
    void put(uint32_t node, const xi_peer_state &s) const; // throws Error
    std::vector<xi_peer_state> all() const;                // XI_MAX_NODES entries

private:
    explicit PeerStateMap(int fd) : fd_(fd) {}
    int fd_ = -1;
};

// CLOCK_BOOTTIME in the datapath's coarse unit (ns >> 30, about a second), as
// xi_peer_state.recover_until and xi_gen_config.second_chance_until count it.
uint32_t boot_units_now();
uint32_t boot_units_after(uint32_t seconds);

} // namespace xi
