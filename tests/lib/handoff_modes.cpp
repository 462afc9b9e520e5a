#include "handoff_modes.h"

#include "handoff.h"
#include "privileges.h"
#include "xi_reasons.h"

namespace xi::test
{

std::vector<HandoffMode> handoff_modes()
{
    std::vector<HandoffMode> modes{kModeTc};
    // Test listing runs without privileges too: then only tc, whose tests skip loudly.
    if (have_bpf_privileges() && probe_xdp_meta().result == HelperProbe::Result::Available) {
        modes.push_back(kModeXdpMark);
        modes.push_back(kModeXdpMarkFails);
    }
    return modes;
}

ReasonCounters steer_counters(const HandoffMode &m, uint32_t reason, bool forwarded, uint64_t xdp_n,
                              uint64_t tc_n)
{
    constexpr uint32_t xdp = XI_HOOK_XDP_PUBLIC, tc = XI_HOOK_TC_PUBLIC_INGRESS;
    if (reason >= XI_DROP_BASE) // malformed: XDP drops it in every mode
        return {{{xdp, reason}, xdp_n}};
    if (m.handoff == XI_HANDOFF_TC)
        return {{{xdp, XI_R_TC_DECIDES}, xdp_n}, {{tc, reason}, tc_n}};
    if (reason == XI_R_PASS_NOT_IP) // nothing to mark: each hook sees it is not IP
        return {{{xdp, reason}, xdp_n}, {{tc, reason}, tc_n}};
    if (m.mark_fails)
        return {{{xdp, XI_R_MARK_FAILED}, xdp_n}, {{tc, reason}, tc_n}};
    if (forwarded)
        return {{{xdp, reason}, xdp_n}};
    return {{{xdp, reason}, xdp_n}, {{tc, XI_R_XDP_DECIDED}, tc_n}};
}

} // namespace xi::test
