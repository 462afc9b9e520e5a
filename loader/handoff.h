// How the steering decision reaches TC ingress on the public interface (docs/steering.md):
//   tc        XDP drops malformed packets only; TC ingress decides (every kernel, every driver)
//   xdp-mark  XDP decides and writes the decision into the XDP metadata area; TC acts on it and
//             decides itself whatever arrives unmarked (driver without metadata room)
// The choice is made by loading a probe program, never from BTF or bpftool's feature probe:
// a kernel may list bpf_xdp_adjust_meta and still refuse it in XDP programs (vendor 6.18).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "xi_structs.h"

namespace xi
{

enum class HandoffRequest { Auto, XdpMark, Tc };

std::optional<HandoffRequest> parse_handoff(const std::string &s); // auto|xdp-mark|tc
const char *handoff_name(uint8_t mode);                            // XI_HANDOFF_* -> "tc", ...

struct HelperProbe {
    enum class Result { Available, Refused, Unknown } result = Result::Unknown;
    int err = 0;          // errno of a failed probe load
    std::string verifier; // the verifier's line that refused it
};

// May XDP programs call this helper (BPF_FUNC_*) on this kernel? Loads a 4-instruction XDP
// program that calls it.
HelperProbe probe_xdp_helper(int helper);
// probe_xdp_helper(bpf_xdp_adjust_meta), once per process. XI_TEST_XDP_META_REFUSED=1 (tests)
// probes with a helper XDP may never call instead, so the refusal path runs for real on kernels
// that allow bpf_xdp_adjust_meta.
const HelperProbe &probe_xdp_meta();

struct HandoffChoice {
    uint8_t mode = XI_HANDOFF_TC;
    std::string note; // one sentence when auto could not have the faster hand-off
};

// The hand-off for the public interface ifname. Throws xi::Error when xdp-mark is asked for
// and this kernel refuses it.
HandoffChoice choose_handoff(HandoffRequest req, const std::string &ifname);
HandoffChoice choose_handoff(HandoffRequest req, const std::string &ifname,
                             const HelperProbe &probe);

} // namespace xi
