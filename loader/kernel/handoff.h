// How the steering decision reaches TC ingress on the public interface (docs/steering.md):
//   tc        XDP drops malformed packets only; TC ingress decides (every kernel, every driver)
//   xdp-mark  XDP decides and writes the decision into the XDP metadata area; TC acts on it and
//             decides itself whatever arrives unmarked (driver without metadata room)
// Whether xdp-mark can run is found by loading a probe program, never from BTF or bpftool's
// feature probe: a kernel may list bpf_xdp_adjust_meta and still refuse it in XDP programs
// (vendor 6.18 builds).
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

// The hand-off for the public interface ifname (XI_HANDOFF_*). auto is tc: it benchmarks no
// slower per packet than xdp-mark and cheaper per MB of bulk traffic (docs/benchmarks.md), so
// XDP keeps what it does better, the early drops, and xdp-mark runs only when asked for.
// Throws xi::Error when xdp-mark is asked for and this kernel refuses it.
uint8_t choose_handoff(HandoffRequest req, const std::string &ifname);
uint8_t choose_handoff(HandoffRequest req, const std::string &ifname, const HelperProbe &probe);

} // namespace xi
