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

std::atomic<bool> g_interrupted{false};

namespace
{
void on_signal(int)
{
    g_interrupted = true;
}
} // namespace

void install_signal_handlers()
{
    struct sigaction sa {
    };
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
}

void check_interrupted()
{
    if (g_interrupted)
        throw std::runtime_error("interrupted");
}

// ---- statistics ------------------------------------------------------------------------

Summary summarize(std::vector<double> v)
{
    Summary s;
    s.n = v.size();
    if (v.empty())
        return s;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.max = v.back();
    size_t n = v.size();
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

std::string fmt(double v, int prec)
{
    char b[64];
    snprintf(b, sizeof(b), "%.*f", prec, v);
    return b;
}

std::string compare_case_name(const std::string &prefix, const std::string &path,
                              const std::string &label)
{
    return prefix + " " + path + " [" + label + "]";
}

void print_compare_row(const Case &c, const std::string &path, const std::string &label, int before,
                       const Summary &ratio, int after)
{
    std::string row = "| " + path + " [" + label + "]";
    if (!c.note.empty())
        row += " (counted: " + c.note + ")";
    row += " |";
    for (int i = 0; i < before; i++)
        row += " |";
    row += " " + fmt_ratio(ratio) + " |";
    for (int i = 0; i < after; i++)
        row += " |";
    printf("%s\n", row.c_str());
}

std::string fmt_ratio(const Summary &s)
{
    return fmt(s.median) + "x (" + fmt(s.min) + "-" + fmt(s.max) + ")";
}

std::string fmt_ns(const Summary &s)
{
    return fmt(s.median, 1) + " (" + fmt(s.min, 1) + "-" + fmt(s.max, 1) + ")";
}

void print_header(const std::string &title)
{
    printf("\n### %s\n\n", title.c_str());
    fflush(stdout);
}

// ---- counters and instances ------------------------------------------------------------

std::string pin_dir_for(const Options &o, const std::string &what)
{
    return Paths().instance(o.tag + "-" + what);
}

void remove_pin_dir(const std::string &dir)
{
    for (const auto &n : list_dir(dir))
        unlink((dir + "/" + n).c_str());
    rmdir(dir.c_str());
}

} // namespace xi::bench
