// Measured cases in interleaved rounds, and the ratios between them.
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
#include "owner.h"
#include "xi_reasons.h"

extern char **environ;

namespace xi::bench
{

Case make_case(std::string name, int prog_fd, Bytes pkt, std::function<void()> before,
               const Instance *inst, Counters expect)
{
    Case c;
    c.name = std::move(name);
    c.prog_fd = prog_fd;
    c.pkt = std::move(pkt);
    c.before = std::move(before);
    c.inst = inst;
    c.expect = std::move(expect);
    return c;
}

namespace
{
// N single runs of a fresh packet; ns per run from bpf_stats.
double fresh_ns(int prog_fd, const Bytes &pkt, uint32_t n)
{
    StatsEnabled stats;
    ProgStats s0 = prog_stats(prog_fd);
    for (uint32_t i = 0; i < n; i++)
        test_run(prog_fd, pkt, 1);
    ProgStats s1 = prog_stats(prog_fd);
    if (s1.cnt - s0.cnt != n)
        throw std::runtime_error("bpf_stats counted " + std::to_string(s1.cnt - s0.cnt) +
                                 " runs of " + std::to_string(n));
    return double(s1.ns - s0.ns) / double(s1.cnt - s0.cnt);
}
} // namespace

void run_cases(const Options &o, std::vector<Case> &cases)
{
    const size_t n = cases.size();
    for (int r = 0; r < o.rounds; r++) {
        // test_run floors would include bpf_stats' clock reads.
        if (stats_sysctl_on())
            throw std::runtime_error("kernel.bpf_stats_enabled is on (someone else enabled it): "
                                     "every test_run time would include its clock reads");
        for (size_t i = 0; i < n; i++) {
            check_interrupted();
            Case &c = cases[(i + r) % n];
            if (c.before)
                c.before();
            Counters before = c.inst ? c.inst->counters() : Counters{};
            const uint64_t runs = c.fresh ? c.fresh : o.repeat;
            Timing t;
            if (c.fresh)
                t.ns = fresh_ns(c.prog_fd, c.pkt, c.fresh);
            else
                t = test_run(c.prog_fd, c.pkt, o.repeat);
            if (c.inst) {
                Counters want;
                for (const auto &[k, v] : c.expect)
                    want[k] = v * runs;
                Counters got = c.inst->counters() - before;
                if (got != want) {
                    if (c.strict)
                        throw std::runtime_error("case '" + c.name + "' took another path: " +
                                                 describe(got) + ", expected " + describe(want));
                    c.note = describe(got);
                }
            }
            c.ns.push_back(t.ns);
            c.kernel_ns.push_back(t.kernel_ns);
        }
        if (o.verbose)
            fprintf(stderr, "round %d/%d done\n", r + 1, o.rounds);
    }
}

Case &find_case(std::vector<Case> &cases, const std::string &name)
{
    for (auto &c : cases)
        if (c.name == name)
            return c;
    throw std::logic_error("no case " + name);
}

Summary ratio(const Case &a, const Case &b)
{
    std::vector<double> v;
    for (size_t r = 0; r < a.ns.size() && r < b.ns.size(); r++)
        v.push_back(a.ns[r] / b.ns[r]);
    return summarize(v);
}

Summary ratio_kernel(const Case &a, const Case &b)
{
    std::vector<double> v;
    for (size_t r = 0; r < a.kernel_ns.size() && r < b.kernel_ns.size(); r++)
        if (b.kernel_ns[r] > 0)
            v.push_back(a.kernel_ns[r] / b.kernel_ns[r]);
    return summarize(v);
}

Summary corrected(const Case &wrapped, const Case &floor, const Case &empty)
{
    std::vector<double> v;
    for (size_t r = 0; r < wrapped.ns.size(); r++)
        v.push_back((wrapped.ns[r] - floor.ns[r] + empty.ns[r]) / empty.ns[r]);
    return summarize(v);
}

Summary fresh_units(const Case &m, const Case &fresh_empty, const Case &empty)
{
    return corrected(m, fresh_empty, empty);
}

} // namespace xi::bench
