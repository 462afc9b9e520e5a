// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Commands and settings inside named network namespaces (/run/netns/NAME, as `ip netns add`
// makes them), for test harnesses that build throwaway namespaces (nft_reference.h). Joining is
// setns only: mounts stay, so /proc/sys is the caller's view of the joined namespace.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace xi::test
{

// Run argv (argv[0] resolved in PATH, /usr/sbin, /sbin) optionally inside a named network
// namespace (/run/netns/NAME, joined with setns only: mounts stay). Output is stdout+stderr.
// Killed after timeout_ms. Returns the exit status (-1 if killed or not started).
int run_command(const std::vector<std::string> &argv, std::string *output,
                const std::string &netns = "", int timeout_ms = 20000);

// run_command that must succeed: throws std::runtime_error with the command and its output.
void must_run(const std::vector<std::string> &argv, const std::string &netns = "");

// Write /proc/sys/KEY ("net/ipv4/ip_forward") in a named network namespace; throws on failure.
void set_netns_sysctl(const std::string &netns, const std::string &key, const std::string &value);

// Where `ip netns add NAME` puts the namespace.
inline std::string netns_path(const std::string &name)
{
    return "/run/netns/" + name;
}

// Join a named network namespace for the lifetime of the object (this thread only).
class ScopedNetns
{
public:
    explicit ScopedNetns(const std::string &name)
    {
        old_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        int fd = open(netns_path(name).c_str(), O_RDONLY | O_CLOEXEC);
        if (old_ < 0 || fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
            int err = errno;
            if (fd >= 0)
                close(fd);
            if (old_ >= 0)
                close(old_);
            throw std::runtime_error("cannot enter netns " + name + ": " + strerror(err));
        }
        close(fd);
    }
    ~ScopedNetns()
    {
        if (setns(old_, CLONE_NEWNET) != 0)
            abort(); // a test thread stranded in a throwaway namespace cannot continue
        close(old_);
    }
    ScopedNetns(const ScopedNetns &) = delete;
    ScopedNetns &operator=(const ScopedNetns &) = delete;

private:
    int old_ = -1;
};

} // namespace xi::test
