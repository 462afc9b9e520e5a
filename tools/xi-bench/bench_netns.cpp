// xi-bench: the processes and network namespaces its live sections run in (split from
// bench_kernel.cpp).
#include "bench.h"

#include <net/if.h>

#include <algorithm>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <sched.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <chrono>

#include "bpffs.h"
#include "config.h"
#include "counters.h"
#include "error.h"
#include "handoff.h"
#include "handoff_modes.h"
#include "libbpf_log.h"
#include "owner.h"
#include "xi_reasons.h"

extern char **environ;

namespace xi::bench
{

// ---- processes, namespaces -------------------------------------------------------------

void run_cmd(const std::vector<std::string> &argv, bool quiet_fail)
{
    std::vector<char *> args;
    for (const auto &a : argv)
        args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    // xi-bench's stdout is the Markdown report: what tools print (ethtool's "Actual changes")
    // stays out of it.
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (quiet_fail)
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        throw Error("cannot run " + argv[0], rc);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (quiet_fail)
            return;
        std::string cmd;
        for (const auto &a : argv)
            cmd += (cmd.empty() ? "" : " ") + a;
        throw std::runtime_error("command failed: " + cmd);
    }
}

Netns::Netns(const std::string &name) : name_(name)
{
    run_cmd({"ip", "netns", "del", name_}, true);
    run_cmd({"ip", "netns", "add", name_});
    try {
        run_cmd({"ip", "-n", name_, "link", "set", "lo", "up"});
    } catch (...) {
        run_cmd({"ip", "netns", "del", name_}, true);
        throw;
    }
}

Netns::~Netns()
{
    if (entered_)
        leave();
    run_cmd({"ip", "netns", "del", name_}, true);
}

void Netns::veth(const std::string &a, const std::string &b)
{
    run_cmd({"ip", "-n", name_, "link", "add", a, "type", "veth", "peer", "name", b});
    // No IPv6 on the test links: no router/neighbour solicitations among the measured packets.
    for (const auto &dev : {a, b}) {
        run_cmd({"ip", "netns", "exec", name_, "sysctl", "-qw",
                 "net.ipv6.conf." + dev + ".disable_ipv6=1"});
        run_cmd({"ip", "-n", name_, "link", "set", dev, "up"});
    }
}

void veth_between(const Netns &ns_a, const std::string &a, const Netns &ns_b, const std::string &b)
{
    run_cmd({"ip", "-n", ns_a.name(), "link", "add", a, "type", "veth", "peer", "name", b, "netns",
             ns_b.name()});
    for (const auto &[ns, dev] : {std::pair{&ns_a, a}, std::pair{&ns_b, b}}) {
        run_cmd({"ip", "netns", "exec", ns->name(), "sysctl", "-qw",
                 "net.ipv6.conf." + dev + ".disable_ipv6=1"});
        run_cmd({"ip", "-n", ns->name(), "link", "set", dev, "up"});
    }
}

void Netns::enter()
{
    if (entered_)
        return;
    home_fd_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_fd_ < 0)
        throw Error("cannot open /proc/self/ns/net", errno);
    std::string path = "/var/run/netns/" + name_;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error("cannot open " + path, errno);
    int rc = setns(fd, CLONE_NEWNET);
    int err = errno;
    close(fd);
    if (rc != 0)
        throw Error("cannot join network namespace " + name_, err);
    entered_ = true;
}

void Netns::leave()
{
    if (!entered_)
        return;
    setns(home_fd_, CLONE_NEWNET);
    close(home_fd_);
    home_fd_ = -1;
    entered_ = false;
}

uint32_t Netns::ifindex(const std::string &ifname) const
{
    uint32_t i = if_nametoindex(ifname.c_str());
    if (!i)
        throw Error("no interface " + ifname + " in netns " + name_, errno);
    return i;
}

uint64_t Netns::rx_packets(const std::string &ifname) const
{
    // Counters of the current network namespace through netlink (getifaddrs): /sys/class/net
    // would show the namespace sysfs was mounted in.
    ifaddrs *ifa = nullptr;
    if (getifaddrs(&ifa) != 0)
        throw Error("getifaddrs", errno);
    uint64_t v = 0;
    bool found = false;
    for (auto *i = ifa; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET && i->ifa_data &&
            ifname == i->ifa_name) {
            v = static_cast<rtnl_link_stats *>(i->ifa_data)->rx_packets;
            found = true;
        }
    freeifaddrs(ifa);
    if (!found)
        throw std::runtime_error("no counters for " + ifname);
    return v;
}

} // namespace xi::bench
