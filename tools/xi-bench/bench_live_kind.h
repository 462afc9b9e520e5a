// What the live (section 3) and rate (section 5) benchmarks share: one (mode, path) they
// measure, and the check that its counters moved as that path says.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench.h"

namespace xi::bench
{

// One (mode, path) of the live and rate sections.
struct Kind {
    std::string name; // "tc: local owner, IPv4"
    uint8_t mode;
    SteerPath path;
    const Instance *in;
    bool mark_fails = false; // xdp-mark on a driver without metadata room (simulated)
    Counters per_packet() const
    {
        return steer_expect(mode, path.reason, path.forwarded(), -1, mark_fails);
    }
};

// One edge instance (edge-0 of steer_yaml(), L3 mesh entry) per hand-off mode, each pinned
// under its own directory ("live-tc", "rate-xdp-mark").
inline std::map<uint8_t, std::unique_ptr<Instance>>
edge_per_mode(const Options &o, const std::string &section, const std::vector<uint8_t> &modes)
{
    std::map<uint8_t, std::unique_ptr<Instance>> inst;
    for (uint8_t m : modes)
        inst[m] = std::make_unique<Instance>(pin_dir_for(o, section + "-" + mode_label(m)),
                                             steer_yaml(), "edge-0", true, m);
    return inst;
}

inline constexpr const char *kFails = "xdp-mark, marks fail";

// "" if the counters moved as expected, else what they did.
inline std::string counters_mismatch(const Kind &k, const Counters &before, uint64_t n)
{
    Counters want;
    for (const auto &[key, v] : k.per_packet())
        want[key] = v * n;
    Counters got = k.in->counters() - before;
    return got == want ? "" : describe(got) + " (expected " + describe(want) + ")";
}

} // namespace xi::bench
