// Which of the capabilities the datapath needs this process lacks, so a permission error
// names them instead of leaving the operator with a bare EPERM or a verifier log.
//   CAP_BPF        maps, BTF, programs, pins (CAP_SYS_ADMIN also grants it)
//   CAP_NET_ADMIN  XDP/TC program types, attaching them, per-interface sysctls
//   CAP_PERFMON    the verifier's Spectre v1 bypass: without it, packet pointer + variable
//                  offset ("R4 has pointer with unsupported alu operation") is rejected
//                  (CAP_SYS_ADMIN also grants it)
// docs/deploy.md ("Capabilities") has the measurements.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xi
{

// CapEff of this process (0 if /proc is unreadable).
uint64_t effective_capabilities();

// Names of the needed capabilities missing from the mask, in a fixed order.
std::vector<std::string> missing_datapath_capabilities(uint64_t effective);

// Hint for a permission error: names the missing capabilities, or empty if none is missing.
std::string capability_hint();

} // namespace xi
