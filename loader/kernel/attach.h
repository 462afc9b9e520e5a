// Attaching programs to interfaces, and taking them off again.
//   XDP: a bpf_link (native, or generic as fallback), pinned as link_xdp_<ifname>.
//   TC:  tcx bpf_link (kernel >= 6.6), pinned as link_tcx_<dir>_<ifname> (the metadata guard's
//        as link_tcx_guard_<dir>_<ifname>); clsact filter
//        otherwise (6.1), recorded by handle/priority in the instance state.
// Pinned links keep the programs attached when the loader exits or dies.
#pragma once

#include <string>
#include <vector>

#include "state.h"

namespace xi
{

enum class XdpModeRequest { Auto, Native, Generic };

struct AttachSpec {
    std::string pin_dir;
    std::string ifname;
    uint32_t ifindex = 0;
    uint8_t hook = 0; // enum xi_hook
    int prog_fd = -1;
    std::string prog_name;
};

// mode Auto: native, or generic with *warning saying why native was not possible.
Attachment attach_xdp(const AttachSpec &s, XdpModeRequest mode, std::string *warning);
// tcx when the kernel has it, else clsact (*note says which and why).
Attachment attach_tc(const AttachSpec &s, bool ingress, std::string *note);
// Idempotent: a link already gone or an interface that disappeared is not an error.
void detach(const std::string &pin_dir, const Attachment &a);
// Atomic program replacement: bpf_link_update for links, tc filter replace for clsact.
void replace_program(const std::string &pin_dir, Attachment &a, int new_prog_fd);
// Is the clsact filter recorded at attach still there, running our program? Asked over
// netlink (RTM_GETTFILTER needs no capability) in this network namespace; when the
// interface is not here (another namespace) or the filter does not match, falls back to
// whether the program still exists (BPF_PROG_GET_FD_BY_ID, which needs CAP_SYS_ADMIN: the
// agent runs without it, see docs/deploy.md).
bool clsact_attached(const Attachment &a);

uint32_t prog_id_of(int prog_fd);
// Whether a hook (enum xi_hook) is a TC ingress hook.
bool hook_is_ingress(uint8_t hook);
// Every interface of this network namespace, by name.
std::vector<std::string> interface_names();
// Whether the interface has an Ethernet header (ARPHRD_ETHER) - selects the L2/L3 entries.
bool interface_is_ethernet(const std::string &ifname);
uint32_t interface_index(const std::string &ifname); // 0 if missing
uint32_t interface_mtu(const std::string &ifname);

} // namespace xi
