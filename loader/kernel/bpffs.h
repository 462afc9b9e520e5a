// Where our pins live and how concurrent invocations are serialised.
//   /sys/fs/bpf/xdp-ingress/<instance>/            one directory per instance (node)
//       xi_<map>                                   maps, by name
//       link_xdp_<ifname>, link_tcx_<dir>_<ifname> links, by hook and interface
#pragma once

#include <string>
#include <vector>

namespace xi
{

struct Paths {
    std::string bpffs = "/sys/fs/bpf"; // mount point (overridable for tests)
    std::string root() const { return bpffs + "/xdp-ingress"; }
    // Throws xi::Error for a name that is not an instance name ("../../.." must not reach /sys).
    std::string instance(const std::string &name) const;
};

// Throws xi::Error with a hint when bpffs is not mounted at p.bpffs.
void require_bpffs(const Paths &p);
void mkdir_p(const std::string &dir);
bool path_exists(const std::string &path);
std::vector<std::string> list_dir(const std::string &dir); // names, sorted; empty if missing
// Instance names are directory names: letters, digits, '-', '_', '.'.
bool valid_instance_name(const std::string &name);

// flock() on the pin root directory: attach, detach and reload hold it exclusively, so two
// invocations cannot interleave their pin and map updates. Released on destruction.
class PinLock
{
public:
    explicit PinLock(const Paths &p, int timeout_ms = 30000);
    ~PinLock();
    PinLock(const PinLock &) = delete;
    PinLock &operator=(const PinLock &) = delete;

private:
    int fd_ = -1;
};

} // namespace xi
