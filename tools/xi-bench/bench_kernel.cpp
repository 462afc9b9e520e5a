// Kernel-facing measuring tools: test_run, bpf_stats, links and tc (namespaces: bench_netns.cpp).
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

// ---- test_run ------------------------------------------------------------------------

namespace
{
double thread_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}
} // namespace

Timing test_run(int prog_fd, const Bytes &pkt, uint32_t repeat)
{
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(),
                .data_size_in = static_cast<__u32>(pkt.size()), .repeat = static_cast<int>(repeat));
    double t0 = thread_ns();
    int err = bpf_prog_test_run_opts(prog_fd, &opts);
    double t1 = thread_ns();
    if (err)
        throw Error("BPF_PROG_TEST_RUN", errno_of(err));
    return {(t1 - t0) / repeat, opts.duration, opts.retval};
}

Bytes test_run_once(int prog_fd, const Bytes &pkt, uint32_t *retval)
{
    Bytes out(pkt.size() + 512);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(), .data_out = out.data(),
                .data_size_in = static_cast<__u32>(pkt.size()),
                .data_size_out = static_cast<__u32>(out.size()), .repeat = 1);
    int err = bpf_prog_test_run_opts(prog_fd, &opts);
    if (err)
        throw Error("BPF_PROG_TEST_RUN", errno_of(err));
    out.resize(opts.data_size_out);
    if (retval)
        *retval = opts.retval;
    return out;
}

ProgStats prog_stats(int prog_fd)
{
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
        throw Error("cannot read program info", errno);
    return {info.run_time_ns, info.run_cnt};
}

bool stats_sysctl_on()
{
    FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
    int v = 0;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v != 0;
}

StatsEnabled::StatsEnabled()
{
    fd_ = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (fd_ < 0)
        throw Error("cannot enable bpf_stats (BPF_ENABLE_STATS)", errno_of(fd_));
}

StatsEnabled::~StatsEnabled()
{
    if (fd_ >= 0)
        close(fd_);
}

ProgFacts prog_facts(int prog_fd)
{
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
        throw Error("cannot read program info", errno);
    ProgFacts f;
    f.name = info.name;
    f.xlated = info.xlated_prog_len / 8;
    f.jited = info.jited_prog_len;
    f.verified = info.verified_insns;
    f.maps = info.nr_map_ids;
    return f;
}

// ---- attachments ---------------------------------------------------------------------------

namespace
{
constexpr int kTcxIngress = 46; // BPF_TCX_INGRESS: not in Debian 12's 6.1 UAPI headers
}

Link::Link(int prog_fd, uint32_t ifindex, int attach_type, uint32_t flags)
{
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
    fd_ = bpf_link_create(prog_fd, ifindex, static_cast<bpf_attach_type>(attach_type), &opts);
    if (fd_ < 0)
        throw Error("cannot attach (bpf_link_create type " + std::to_string(attach_type) + ")",
                    errno_of(fd_));
}

Link::~Link()
{
    close(fd_);
}

void Link::update(int prog_fd)
{
    if (bpf_link_update(fd_, prog_fd, nullptr) != 0)
        throw Error("cannot replace the attached program", errno);
}

namespace
{

// Runs fn inside the network namespace ns_fd, then returns to the caller's. A clsact filter is
// found by ifindex, which names another device (or none) in any other namespace.
template <typename F>
void in_netns(int ns_fd, F fn)
{
    int here = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (here < 0)
        throw Error("cannot open this thread's network namespace", errno);
    if (setns(ns_fd, CLONE_NEWNET) != 0) {
        int err = errno;
        close(here);
        throw Error("cannot enter the TC filter's network namespace", err);
    }
    try {
        fn();
    } catch (...) {
        if (setns(here, CLONE_NEWNET) != 0)
            abort(); // staying in the wrong namespace would misplace everything after
        close(here);
        throw;
    }
    if (setns(here, CLONE_NEWNET) != 0)
        abort();
    close(here);
}

} // namespace

TcIngress::TcIngress(int prog_fd, uint32_t ifindex) : ifindex_(ifindex)
{
    LIBBPF_OPTS(bpf_link_create_opts, lo);
    fd_ = bpf_link_create(prog_fd, ifindex, static_cast<bpf_attach_type>(kTcxIngress), &lo);
    if (fd_ >= 0)
        return;
    int tcx_err = errno_of(fd_);
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex),
                .attach_point = BPF_TC_INGRESS);
    int rc;
    {
        // EEXIST (the qdisc is there already) is fine, but libbpf prints the kernel's
        // "Exclusivity flag on" for it: hold its output.
        LibbpfCapture quiet(false);
        rc = bpf_tc_hook_create(&hook);
    }
    if (rc && rc != -EEXIST)
        throw Error("cannot attach to TC ingress: no tcx (" + std::string(strerror(tcx_err)) +
                        ") and no clsact qdisc",
                    -rc);
    LIBBPF_OPTS(bpf_tc_opts, to, .prog_fd = prog_fd);
    rc = bpf_tc_attach(&hook, &to);
    if (rc)
        throw Error("cannot attach a clsact ingress filter", -rc);
    handle_ = to.handle;
    priority_ = to.priority;
    ns_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (ns_fd_ < 0)
        throw Error("cannot open this thread's network namespace", errno);
}

TcIngress::~TcIngress()
{
    if (fd_ >= 0) {
        close(fd_);
        return;
    }
    try {
        in_netns(ns_fd_, [&] {
            LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex_),
                        .attach_point = BPF_TC_INGRESS);
            LIBBPF_OPTS(bpf_tc_opts, to, .handle = handle_, .priority = priority_);
            bpf_tc_detach(&hook, &to);
        });
    } catch (const Error &) {
        // Not detached: the filter goes away with the namespace's device.
    }
    close(ns_fd_);
}

void TcIngress::update(int prog_fd)
{
    if (fd_ >= 0) {
        if (bpf_link_update(fd_, prog_fd, nullptr) != 0)
            throw Error("cannot replace the attached TC program", errno);
        return;
    }
    in_netns(ns_fd_, [&] {
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex_),
                    .attach_point = BPF_TC_INGRESS);
        LIBBPF_OPTS(bpf_tc_opts, to, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE,
                    .handle = handle_, .priority = priority_);
        int rc = bpf_tc_attach(&hook, &to);
        if (rc)
            throw Error("cannot replace the clsact ingress filter", -rc);
    });
}

void set_jump(int jmp_fd, int target)
{
    uint32_t zero = 0;
    if (bpf_map_update_elem(jmp_fd, &zero, &target, BPF_ANY) != 0)
        throw Error("cannot set the tail call target", errno);
}

double live_run(int prog_fd, uint32_t ifindex, const Bytes &pkt, uint32_t count)
{
    xdp_md ctx{};
    ctx.data_end = static_cast<__u32>(pkt.size());
    ctx.ingress_ifindex = ifindex;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(),
                .data_size_in = static_cast<__u32>(pkt.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx), .repeat = static_cast<int>(count),
                .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
    auto t0 = std::chrono::steady_clock::now();
    int err = bpf_prog_test_run_opts(prog_fd, &opts);
    if (err)
        throw Error("live frames test_run", errno_of(err));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int pin_cpu(int cpu)
{
    if (cpu < 0)
        cpu = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)) - 1;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        throw Error("cannot pin to CPU " + std::to_string(cpu), errno);
    return cpu;
}

} // namespace xi::bench
