#include "privileges.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace xi::test
{

static bool has_cap(const __user_cap_data_struct *data, int cap)
{
    return data[cap / 32].effective & (1u << (cap % 32));
}

bool have_bpf_privileges()
{
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &hdr, data) != 0)
        return false;
    constexpr int cap_bpf = 39; // not in older headers
    bool bpf = has_cap(data, cap_bpf) || has_cap(data, CAP_SYS_ADMIN);
    return bpf && has_cap(data, CAP_NET_ADMIN);
}

std::string scratch_instance(const std::string &tag)
{
    static int n = 0;
    return "xitest-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

} // namespace xi::test
