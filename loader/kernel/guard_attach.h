// Where the metadata guard (bpf/lib/guard.h) goes: TC ingress and egress of every interface of
// the node's network namespace but lo and the mesh interface, or of the interfaces the config
// lists. Each is an ordinary attachment in the instance state (hook XI_HOOK_TC_GUARD_*), so
// detach, status, metrics and `attach --replace` treat it like the others.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config.h"
#include "datapath.h"
#include "state.h"

namespace xi
{

struct GuardTargets {
    std::vector<std::string> names;   // to guard, in this namespace
    std::vector<std::string> missing; // listed in the config, not in this namespace
};

// Throws Error when there are more than kGuardMaxInterfaces and the config lists none.
GuardTargets guard_targets(const Config &c, const std::string &mesh_if);

bool is_guard_hook(uint8_t hook);
// The loaded program an existing guard attachment runs (its entry: L2 or L3).
Prog guard_prog_of(const Attachment &a);

// Attaches both guard hooks to each target that has none in `have` yet; `add` records each
// attachment as soon as it exists. Returns the names of the interfaces newly guarded.
std::vector<std::string> attach_guard(const Datapath &dp, const std::string &dir,
                                      const GuardTargets &t, const std::vector<Attachment> &have,
                                      const std::function<void(Attachment)> &add,
                                      std::string *note);

// One line for the attach report: what is guarded, what the config names that is not here.
std::string describe_guard(const std::vector<std::string> &guarded, const GuardTargets &t);

} // namespace xi
