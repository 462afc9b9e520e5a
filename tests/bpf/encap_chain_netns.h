// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The throwaway network namespace the encapsulation chain runs in (encap_chain_env.h): shell
// commands, creating and joining the namespace, pinning the test thread to one CPU, a temporary
// config file, and AF_PACKET sockets bound to one device. Each object undoes what it did on
// destruction.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <utility>

#include "netns.h"
#include "packet.h"
#include "scoped_fd.h"

namespace xi::test::chain
{

// Runs a command; throws with its output when it fails.
std::string sh(const std::string &cmd);

// Throws std::runtime_error with `what` and strerror(errno).
[[noreturn]] void fail_errno(const std::string &what);

// A named network namespace (`ip netns add`), deleted with everything in it on destruction.
class ScratchNetns
{
public:
    explicit ScratchNetns(std::string name) : name_(std::move(name))
    {
        sh("ip netns add " + name_);
    }
    ~ScratchNetns()
    {
        try {
            sh("ip netns del " + name_);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "cleanup: %s\n", e.what());
        }
    }
    ScratchNetns(const ScratchNetns &) = delete;
    ScratchNetns &operator=(const ScratchNetns &) = delete;
    const std::string &name() const { return name_; }

private:
    std::string name_;
};

// The calling thread joins a network namespace and returns to its previous one on destruction.
class JoinNetns
{
public:
    explicit JoinNetns(const std::string &name)
        : prev_(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC))
    {
        if (prev_.get() < 0)
            fail_errno("open /proc/thread-self/ns/net");
        join_netns(name);
    }
    ~JoinNetns()
    {
        // Staying in a deleted namespace would silently break every later test in this process.
        if (setns(prev_.get(), CLONE_NEWNET) != 0) {
            std::perror("cannot return to the previous network namespace");
            std::abort();
        }
    }
    JoinNetns(const JoinNetns &) = delete;
    JoinNetns &operator=(const JoinNetns &) = delete;

private:
    Fd prev_;
};

// Pins the calling thread to the CPU it runs on; restores the affinity on destruction.
class PinCpu
{
public:
    PinCpu()
    {
        if (pthread_getaffinity_np(pthread_self(), sizeof(prev_), &prev_) != 0)
            throw std::runtime_error("pthread_getaffinity_np");
        int cpu = sched_getcpu();
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu < 0 ? 0 : cpu, &one);
        if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one) != 0)
            throw std::runtime_error("pthread_setaffinity_np");
    }
    ~PinCpu() { pthread_setaffinity_np(pthread_self(), sizeof(prev_), &prev_); }
    PinCpu(const PinCpu &) = delete;
    PinCpu &operator=(const PinCpu &) = delete;

private:
    cpu_set_t prev_;
};

// A file in /tmp with `content` (named xichain-PID-*.yaml), removed on destruction.
class TempFile
{
public:
    explicit TempFile(const std::string &content)
    {
        std::string tmpl = "/tmp/xichain-" + std::to_string(getpid()) + "-XXXXXX.yaml";
        Fd fd(mkstemps(tmpl.data(), 5));
        if (fd.get() < 0)
            fail_errno("mkstemps");
        path_ = tmpl;
        if (write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
            fail_errno("write " + path_);
    }
    ~TempFile() { unlink(path_.c_str()); }
    TempFile(const TempFile &) = delete;
    TempFile &operator=(const TempFile &) = delete;
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

// An AF_PACKET socket bound to `ifname` for `proto` (0: send only).
Fd packet_socket(const std::string &ifname, uint16_t proto);
void send_frame(int fd, const Bytes &frame);

} // namespace xi::test::chain
