// The hand-off modes a test runs the steering datapath in (docs/steering.md):
//   tc              XDP drops malformed packets only, TC ingress decides
//   xdp_mark        XDP decides and marks, TC acts on the mark
//   xdp_mark_fails  XDP decides but every mark fails (a driver without metadata room,
//                   simulated by xdp_public's test switch): TC decides again
// Only the modes this kernel can run are returned, so a test suite instantiated over them never
// registers a mode it would have to skip (xdp_mark needs bpf_xdp_adjust_meta in XDP).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "counters.h"
#include "xi_structs.h"

namespace xi::test
{

struct HandoffMode {
    const char *name;
    uint8_t handoff; // XI_HANDOFF_*
    bool mark_fails;
    bool xdp_decides() const { return handoff == XI_HANDOFF_XDP_MARK && !mark_fails; }
};

const HandoffMode kModeTc = {"tc", XI_HANDOFF_TC, false};
const HandoffMode kModeXdpMark = {"xdp_mark", XI_HANDOFF_XDP_MARK, false};
const HandoffMode kModeXdpMarkFails = {"xdp_mark_fails", XI_HANDOFF_XDP_MARK, true};

std::vector<HandoffMode> handoff_modes(); // runnable here; tc always

// The counters one packet leaves on the public ingress hooks when it is decided as `reason`
// (forwarded: to a sibling; the TC redirect that follows a successful encapsulation is not
// included): the decision where it is taken, the hand-off on the other hook.
ReasonCounters steer_counters(const HandoffMode &m, uint32_t reason, bool forwarded,
                              uint64_t xdp_n = 1, uint64_t tc_n = 1);

} // namespace xi::test
