#include "peer_state.h"

#include <bpf/bpf.h>
#include <cerrno>
#include <ctime>
#include <unistd.h>

#include "error.h"
#include "xi_common.h"
#include "xi_names.h"

namespace xi
{

std::optional<PeerStateMap> PeerStateMap::open(const std::string &dir)
{
    int fd = bpf_obj_get((dir + "/" XI_MAP_PEER_STATE).c_str());
    if (fd < 0)
        return std::nullopt;
    return PeerStateMap(fd);
}

PeerStateMap::~PeerStateMap()
{
    if (fd_ >= 0)
        close(fd_);
}

xi_peer_state PeerStateMap::get(uint32_t node) const
{
    xi_peer_state s{};
    if (bpf_map_lookup_elem(fd_, &node, &s) != 0)
        s = xi_peer_state{};
    return s;
}

void PeerStateMap::put(uint32_t node, const xi_peer_state &s) const
{
    if (bpf_map_update_elem(fd_, &node, &s, BPF_ANY) != 0)
        throw Error("cannot write " XI_MAP_PEER_STATE "[" + std::to_string(node) + "]", errno);
}

std::vector<xi_peer_state> PeerStateMap::all() const
{
    std::vector<xi_peer_state> v(XI_MAX_NODES);
    for (uint32_t i = 0; i < XI_MAX_NODES; i++)
        v[i] = get(i);
    return v;
}

namespace
{
uint64_t boot_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}
} // namespace

uint32_t boot_units_now()
{
    return static_cast<uint32_t>(boot_ns() >> 30);
}

uint32_t boot_units_after(uint32_t seconds)
{
    // Rounded up: the window lasts at least `seconds`.
    return static_cast<uint32_t>((boot_ns() + uint64_t(seconds) * 1000000000ull + (1u << 30) - 1) >>
                                 30);
}

} // namespace xi
