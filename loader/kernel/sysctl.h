// Host settings the datapath relies on. Decapsulated client packets arrive on the mesh
// interface with a source address that is routed via the public interface: strict reverse-path
// filtering (rp_filter=1) on the mesh interface drops every one of them.
#pragma once

#include <string>
#include <vector>

namespace xi
{

struct SysctlChange {
    std::string key; // e.g. net.ipv4.conf.wg0.rp_filter
    std::string from, to;
};

// Effective rp_filter of an interface is max(conf.all, conf.<if>); 0 and 2 are fine.
// fix=true: set conf.<if>.rp_filter=2 (which makes the effective value 2 whatever "all" says)
// and return the change; fix=false: throw naming the sysctl.
std::vector<SysctlChange> ensure_loose_rp_filter(const std::string &ifname, bool fix);

std::string read_sysctl(const std::string &key); // "" if missing
void write_sysctl(const std::string &key, const std::string &value);

} // namespace xi
