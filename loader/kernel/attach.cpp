#include "attach.h"

// glibc's net/if.h must come before the kernel's linux/if*.h (libc-compat.h sorts it out).
#include <net/if.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cstring>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "libbpf_log.h"
#include "xi_reasons.h"

namespace xi
{

namespace
{

// Not in the 6.1 UAPI headers Debian 12 ships; stable kernel ABI values since 6.6.
constexpr int kBpfTcxIngress = 46;
constexpr int kBpfTcxEgress = 47;

std::string link_pin_name(const std::string &kind, const std::string &ifname)
{
    return "link_" + kind + "_" + ifname;
}

// bpf_tc_hook_create fails with EEXIST when the clsact qdisc is already there (created for the
// other direction, or by someone else): expected, yet libbpf prints the kernel's "Exclusivity
// flag on, cannot modify" as a warning on every attach. Hold libbpf's output during the call
// and pass it on only when the call really failed.
int tc_hook_create(bpf_tc_hook *hook)
{
    std::string held;
    int rc;
    {
        LibbpfCapture cap(false);
        rc = bpf_tc_hook_create(hook);
        held = cap.text();
    }
    if (rc && rc != -EEXIST && !held.empty()) {
        while (!held.empty() && held.back() == '\n')
            held.pop_back();
        spdlog::warn("{}", held);
    }
    return rc;
}

int pin_link(int link_fd, const std::string &path)
{
    if (bpf_obj_pin(link_fd, path.c_str()) != 0) {
        int err = errno;
        close(link_fd);
        return err;
    }
    close(link_fd); // the pin holds the link now
    return 0;
}

} // namespace

uint32_t prog_id_of(int prog_fd)
{
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
        return 0;
    return info.id;
}

bool hook_is_ingress(uint8_t hook)
{
    return hook == XI_HOOK_TC_PUBLIC_INGRESS || hook == XI_HOOK_TC_MESH_INGRESS ||
           hook == XI_HOOK_TC_GUARD_INGRESS;
}

std::vector<std::string> interface_names()
{
    std::vector<std::string> out;
    struct if_nameindex *all = if_nameindex();
    if (!all)
        throw Error("cannot list the interfaces of this network namespace", errno);
    for (auto *i = all; i->if_index; i++)
        out.emplace_back(i->if_name);
    if_freenameindex(all);
    return out;
}

uint32_t interface_index(const std::string &ifname)
{
    return if_nametoindex(ifname.c_str());
}

bool interface_is_ethernet(const std::string &ifname)
{
    // /sys/class/net reflects the network namespace sysfs was mounted in, not ours after
    // setns(); ask the kernel through a socket ioctl instead.
    struct ifreq ifr {
    };
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw Error("socket", errno);
    int rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
    int err = errno;
    close(fd);
    if (rc != 0)
        throw Error("cannot read the link type of " + ifname, err);
    return ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER;
}

uint32_t interface_mtu(const std::string &ifname)
{
    struct ifreq ifr {
    };
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw Error("socket", errno);
    int rc = ioctl(fd, SIOCGIFMTU, &ifr);
    int err = errno;
    close(fd);
    if (rc != 0)
        throw Error("cannot read the MTU of " + ifname, err);
    return ifr.ifr_mtu;
}

Attachment attach_xdp(const AttachSpec &s, XdpModeRequest mode, std::string *warning)
{
    Attachment a;
    a.ifname = s.ifname;
    a.ifindex = s.ifindex;
    a.hook = s.hook;
    a.method = AttachMethod::XdpLink;
    a.prog_name = s.prog_name;
    a.prog_id = prog_id_of(s.prog_fd);
    a.pin_name = link_pin_name("xdp", s.ifname);

    auto try_mode = [&](__u32 flags) {
        LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
        int fd = bpf_link_create(s.prog_fd, s.ifindex, BPF_XDP, &opts);
        return fd < 0 ? -errno : fd;
    };
    int fd = -EOPNOTSUPP;
    if (mode != XdpModeRequest::Generic) {
        fd = try_mode(XDP_FLAGS_DRV_MODE);
        a.xdp_mode = XdpMode::Native;
        if (fd == -EOPNOTSUPP && mode == XdpModeRequest::Native)
            throw Error("the driver of " + s.ifname + " does not support native XDP", EOPNOTSUPP,
                        "use --xdp-mode generic (slower) or --xdp-mode auto");
        if (fd == -EOPNOTSUPP && warning)
            *warning = "the driver of " + s.ifname +
                       " does not support native XDP: using generic XDP (slower, same behaviour)";
    }
    if (fd == -EOPNOTSUPP && mode != XdpModeRequest::Native) {
        fd = try_mode(XDP_FLAGS_SKB_MODE);
        a.xdp_mode = XdpMode::Generic;
    }
    if (fd == -EBUSY || fd == -EEXIST)
        throw Error("another XDP program is already attached to " + s.ifname, -fd,
                    "remove it first (ip link set dev " + s.ifname +
                        " xdp off) or run xdp-ingress detach");
    if (fd < 0)
        throw Error("cannot attach XDP program " + s.prog_name + " to " + s.ifname, -fd);
    if (int err = pin_link(fd, s.pin_dir + "/" + a.pin_name))
        throw Error("cannot pin the XDP link of " + s.ifname, err);
    return a;
}

Attachment attach_tc(const AttachSpec &s, bool ingress, std::string *note)
{
    Attachment a;
    a.ifname = s.ifname;
    a.ifindex = s.ifindex;
    a.hook = s.hook;
    a.prog_name = s.prog_name;
    a.prog_id = prog_id_of(s.prog_fd);
    const char *dir = ingress ? "ingress" : "egress";

    auto type = static_cast<bpf_attach_type>(ingress ? kBpfTcxIngress : kBpfTcxEgress);
    int fd = bpf_link_create(s.prog_fd, s.ifindex, type, nullptr);
    if (fd >= 0) {
        a.method = AttachMethod::Tcx;
        bool guard = s.hook == XI_HOOK_TC_GUARD_INGRESS || s.hook == XI_HOOK_TC_GUARD_EGRESS;
        a.pin_name = link_pin_name(std::string(guard ? "tcx_guard_" : "tcx_") + dir, s.ifname);
        if (int err = pin_link(fd, s.pin_dir + "/" + a.pin_name))
            throw Error("cannot pin the tcx link of " + s.ifname, err);
        return a;
    }
    int err = errno;
    if (err != EINVAL)
        throw Error(std::string("cannot attach TC ") + dir + " program " + s.prog_name + " to " +
                        s.ifname,
                    err);

    // Kernels before 6.6 have no tcx: a clsact qdisc with a direct-action BPF filter.
    if (note)
        *note = "tcx is not available on this kernel (< 6.6): using a clsact qdisc";
    a.method = AttachMethod::Clsact;
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(s.ifindex),
                .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
    int rc = tc_hook_create(&hook);
    if (rc && rc != -EEXIST)
        throw Error("cannot create a clsact qdisc on " + s.ifname, -rc);
    a.created_qdisc = rc == 0;
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = s.prog_fd);
    rc = bpf_tc_attach(&hook, &opts);
    if (rc)
        throw Error(std::string("cannot attach clsact ") + dir + " filter " + s.prog_name + " to " +
                        s.ifname,
                    -rc);
    a.tc_handle = opts.handle;
    a.tc_priority = opts.priority;
    return a;
}

void detach(const std::string &pin_dir, const Attachment &a)
{
    if (a.method == AttachMethod::XdpLink || a.method == AttachMethod::Tcx) {
        std::string path = pin_dir + "/" + a.pin_name;
        int fd = bpf_obj_get(path.c_str());
        if (fd >= 0) {
            bpf_link_detach(fd); // detach now, even if someone else holds the link open
            close(fd);
        }
        if (unlink(path.c_str()) != 0 && errno != ENOENT)
            throw Error("cannot remove " + path, errno);
        return;
    }
    bool ingress = hook_is_ingress(a.hook);
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(a.ifindex),
                .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = a.tc_handle, .priority = a.tc_priority);
    int rc = bpf_tc_detach(&hook, &opts);
    if (rc && rc != -ENOENT && rc != -ENODEV && rc != -EINVAL)
        throw Error("cannot remove the clsact filter of " + a.ifname, -rc);
}

void replace_program(const std::string &pin_dir, Attachment &a, int new_prog_fd)
{
    if (a.method == AttachMethod::XdpLink || a.method == AttachMethod::Tcx) {
        std::string path = pin_dir + "/" + a.pin_name;
        int fd = bpf_obj_get(path.c_str());
        if (fd < 0)
            throw Error("cannot open link " + path, errno);
        int rc = bpf_link_update(fd, new_prog_fd, nullptr);
        int err = errno;
        close(fd);
        if (rc != 0)
            throw Error("cannot replace the program of " + a.pin_name, err);
    } else {
        bool ingress = hook_is_ingress(a.hook);
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(a.ifindex),
                    .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
        LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = new_prog_fd, .flags = BPF_TC_F_REPLACE,
                    .handle = a.tc_handle, .priority = a.tc_priority);
        int rc = bpf_tc_attach(&hook, &opts);
        if (rc)
            throw Error("cannot replace the clsact filter of " + a.ifname, -rc);
    }
    a.prog_id = prog_id_of(new_prog_fd);
}

bool clsact_attached(const Attachment &a)
{
    char name[IF_NAMESIZE] = {};
    if (if_indextoname(a.ifindex, name) && a.ifname == name) {
        bool ingress = hook_is_ingress(a.hook);
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(a.ifindex),
                    .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
        LIBBPF_OPTS(bpf_tc_opts, opts, .handle = a.tc_handle, .priority = a.tc_priority);
        if (bpf_tc_query(&hook, &opts) == 0 && opts.prog_id == a.prog_id)
            return true;
    }
    int fd = bpf_prog_get_fd_by_id(a.prog_id);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

} // namespace xi
