#include "caps.h"

#include <fstream>
#include <linux/capability.h>

namespace xi
{

uint64_t effective_capabilities()
{
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("CapEff:", 0) == 0)
            return std::stoull(line.substr(7), nullptr, 16);
    return 0;
}

std::vector<std::string> missing_datapath_capabilities(uint64_t eff)
{
    auto has = [eff](int cap) { return (eff >> cap) & 1; };
    std::vector<std::string> out;
    if (!has(CAP_BPF) && !has(CAP_SYS_ADMIN))
        out.push_back("CAP_BPF");
    if (!has(CAP_NET_ADMIN))
        out.push_back("CAP_NET_ADMIN");
    if (!has(CAP_PERFMON) && !has(CAP_SYS_ADMIN))
        out.push_back("CAP_PERFMON");
    return out;
}

std::string capability_hint()
{
    auto missing = missing_datapath_capabilities(effective_capabilities());
    if (missing.empty())
        return {};
    std::string names;
    for (const auto &m : missing)
        names += (names.empty() ? "" : ", ") + m;
    return "this process lacks " + names +
           "; the datapath needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (systemd: "
           "CapabilityBoundingSet=, Kubernetes: securityContext.capabilities.add)";
}

} // namespace xi
