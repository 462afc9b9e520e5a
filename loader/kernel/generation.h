// The one way a config becomes the running generation, shared by the loader (attach, reload,
// serve), the BPF test fixture and the benchmarks: compile against what the pinned maps run
// now, name the counter slots, fill the inactive slot, flip.
#pragma once

#include <array>
#include <functional>
#include <string>

#include "compile.h"
#include "config.h"
#include "publish.h"

namespace xi
{

struct NextGeneration {
    GenContent gen;
    PublishResult res;
};

// Order, which reload_crash checks by killing the loader at each step (XI_TEST_PAUSE):
// compiled; catalog written with the names of both generations (so it covers the running one
// at every moment); the inactive slot filled; before_flip(slot, gen) (the loader records its
// state there, so the state describes what runs even if the process dies next); flipped;
// catalog trimmed to the new generation. running_digests: the tables of the running generation
// a reload may reuse (empty: reuse nothing).
NextGeneration publish_next_generation(
    const GenMaps &maps, const Config &config, const std::string &node, uint32_t mesh_ifindex,
    const std::array<std::string, 4> &running_digests = {},
    const std::function<void(uint32_t slot, const GenContent &gen)> &before_flip = {});

} // namespace xi
