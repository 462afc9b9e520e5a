// xi-bench: shared pieces (docs/benchmarks.md explains the method).
//
// Every figure xi-bench reports is a ratio to an empty program measured in the same process,
// in the same round, the same way: the machine is a shared, noisy VM, so absolute times are
// printed for context only. Each measurement is repeated over rounds (interleaved, the order
// rotated per round) and summarised as median and min..max of the per-round ratios.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compile.h"
#include "counters.h"
#include "datapath.h"
#include "error.h"
#include "packet.h"
#include "publish.h"

struct bpf_object;

namespace xi::bench
{

using test::Bytes;

// Set by SIGINT/SIGTERM; long loops check it through check_interrupted() (throws), so the
// RAII cleanups (pins, links, namespaces) run.
extern std::atomic<bool> g_interrupted;
void install_signal_handlers();
void check_interrupted();

struct Options {
    std::string tag;     // prefix of pin directories and the network namespace
    int rounds = 11;     // interleaved rounds per measurement
    uint32_t repeat = 0; // test_run repeat count; 0: the section's default
    Options with_repeat(uint32_t dflt) const
    {
        Options o = *this;
        if (!o.repeat)
            o.repeat = dflt;
        return o;
    }
    uint32_t fresh = 0; // runs per "fresh packet" measurement (repeat 1 each); 0: default
    Options with_fresh(uint32_t dflt) const
    {
        Options o = *this;
        if (!o.fresh)
            o.fresh = dflt;
        return o;
    }
    int cpu = -1; // pin to this CPU (-1: the last one)
    bool verbose = false;
    // LABEL=OBJECT: also measure the program of this .bpf.o (e.g. the datapath before a change)
    // against the same maps, in the same rounds: before/after figures from one process.
    std::vector<std::string> compare;
};

// ---- statistics ------------------------------------------------------------------------
struct Summary {
    double median = 0, min = 0, max = 0;
    size_t n = 0;
};
Summary summarize(std::vector<double> v);
std::string fmt(double v, int prec = 2);
std::string fmt_ratio(const Summary &s); // "2.31x (2.20-2.45)"
std::string fmt_ns(const Summary &s);    // "23.1 (22.0-24.5)"

// ---- a scratch instance: the real objects, pinned maps, one published generation -------
using Counters = ReasonCounters; // (hook, reason) -> packets, kernel/counters.h

class Instance
{
public:
    // edge: load the public-interface objects too. Throws on config errors.
    Instance(const std::string &pin_dir, const std::string &yaml, const std::string &node,
             bool edge, uint8_t handoff = XI_HANDOFF_TC, bool mark_fails = false);
    ~Instance();
    Instance(const Instance &) = delete;
    Instance &operator=(const Instance &) = delete;

    void publish(uint32_t mesh_ifindex); // compile + publish the config again (a reload)
    int prog(Prog p) const { return dp_->prog_fd(p); }
    int map(const std::string &name) const { return dp_->map_fd(name); }
    Counters counters() const;
    const GenContent &gen() const { return gen_; }
    uint16_t node_slot(const std::string &name) const;
    const std::string &dir() const { return dir_; }

private:
    std::string dir_, yaml_, node_;
    std::unique_ptr<Datapath> dp_;
    std::unique_ptr<GenMaps> maps_;
    GenContent gen_;
};

// Another build of a datapath object, loaded against an instance's pinned maps. handoff: the
// value of xdp_public's .rodata xi_handoff (ignored by objects without it; 0: leave as built).
class ExtraObject
{
public:
    ExtraObject(const std::string &path, const Instance &in, uint8_t handoff = 0);
    ~ExtraObject();
    ExtraObject(const ExtraObject &) = delete;
    ExtraObject &operator=(const ExtraObject &) = delete;
    int prog(const std::string &name) const;

private:
    ::bpf_object *obj_ = nullptr;
};

std::string pin_dir_for(const Options &o, const std::string &what);
void remove_pin_dir(const std::string &dir);

// ---- hand-off modes (loader/kernel/handoff.h) ---------------------------------------------------
// The modes this kernel can run (tc always; xdp-mark where XDP may call bpf_xdp_adjust_meta,
// decided by loader/kernel/handoff.h's probe_xdp_meta()). Prints one line saying which modes the
// section measures and why a mode is left out, so a run never skips silently.
std::vector<uint8_t> runnable_modes(const std::string &section);
const char *mode_label(uint8_t handoff); // "tc", "xdp-mark"
// The counters one packet decided as `reason` leaves on the public hooks in this mode
// (tests/lib/handoff_modes.h), plus the TC redirect of a forwarded packet. Filtered to one
// hook with only_hook (-1: both). mark_fails: xdp-mark on a driver without metadata room
// (simulated by xdp_public's test switch, LoadOptions::test_mark_fails).
Counters steer_expect(uint8_t handoff, uint32_t reason, bool forwarded, int only_hook = -1,
                      bool mark_fails = false);

// ---- BPF_PROG_TEST_RUN timing ----------------------------------------------------------
struct Timing {
    double ns = 0;          // per run: thread CPU time of the syscall / repeat (sub-ns resolution)
    uint32_t kernel_ns = 0; // the kernel's own figure (integer ns, truncated)
    uint32_t retval = 0;
};
// Runs prog_fd `repeat` times on pkt (XDP or skb test_run, same syscall).
Timing test_run(int prog_fd, const Bytes &pkt, uint32_t repeat);
// One run, returning the output packet (for sanity checks).
Bytes test_run_once(int prog_fd, const Bytes &pkt, uint32_t *retval);

// One measured case of a test_run benchmark. run_cases() runs every case once per round, in an
// order rotated per round, and checks after each run that the counters moved exactly as
// expected (repeat x `expect`), so a measurement can never silently take another path.
struct Case {
    std::string name;
    int prog_fd = -1;
    Bytes pkt;
    std::function<void()> before;   // e.g. point a wrapper's tail call at the program under test
    const Instance *inst = nullptr; // whose counters to check (nullptr: none)
    Counters expect;                // per run
    bool strict = true;             // false: record what happened in `note` instead of failing
    // 0: one test_run with repeat = Options::repeat, timed by thread CPU time. N > 0: N
    // test_runs with repeat 1 (a fresh packet, skb or XDP buffer, every run: for programs
    // whose output cannot be fed back, like an encapsulation), timed by bpf_stats
    // (run_time_ns / run_cnt): compare only with other fresh cases (fresh_units()).
    uint32_t fresh = 0;
    std::vector<double> ns; // per round
    std::vector<double> kernel_ns;
    std::string note;
};
Case make_case(std::string name, int prog_fd, Bytes pkt, std::function<void()> before,
               const Instance *inst, Counters expect);
void run_cases(const Options &o, std::vector<Case> &cases);
Case &find_case(std::vector<Case> &cases, const std::string &name);
// --compare LABEL=OBJECT rows: the case of one path is named "<prefix> PATH [LABEL]"; its row
// below a table is "| PATH [LABEL] (counted: ...) |" with `before` empty cells, the ratio, and
// `after` empty cells.
std::string compare_case_name(const std::string &prefix, const std::string &path,
                              const std::string &label);
void print_compare_row(const Case &c, const std::string &path, const std::string &label, int before,
                       const Summary &ratio, int after);
// Per-round ratio a/b, and the wrapper-corrected ratio (w - floor + empty) / empty.
Summary ratio(const Case &a, const Case &b);
Summary ratio_kernel(const Case &a, const Case &b);
Summary corrected(const Case &wrapped, const Case &floor, const Case &empty);
// A fresh case in units of the repeated empty program: per round
// (m - fresh_empty + empty) / empty, i.e. its time over the empty program's on a fresh packet
// (both bpf_stats, whose own clock reads cancel out), plus the test_run floor, over the floor.
Summary fresh_units(const Case &m, const Case &fresh_empty, const Case &empty);

// run_time_ns / run_cnt of a program (bpf_stats must be enabled).
struct ProgStats {
    uint64_t ns = 0, cnt = 0;
};
ProgStats prog_stats(int prog_fd);
bool stats_sysctl_on(); // kernel.bpf_stats_enabled set by someone (would skew test_run floors)
// Keeps kernel.bpf_stats_enabled on while alive (BPF_ENABLE_STATS: no sysctl left behind).
class StatsEnabled
{
public:
    StatsEnabled();
    ~StatsEnabled();
    StatsEnabled(const StatsEnabled &) = delete;
    StatsEnabled &operator=(const StatsEnabled &) = delete;

private:
    int fd_ = -1;
};

// Program facts for the report: xlated/jited size, verified instructions, map count.
struct ProgFacts {
    std::string name;
    uint32_t xlated = 0, jited = 0, verified = 0, maps = 0;
};
ProgFacts prog_facts(int prog_fd);

// ---- network namespace with veth pairs (created with ip(8), removed on destruction) -----
class Netns
{
public:
    explicit Netns(const std::string &name);
    ~Netns();
    Netns(const Netns &) = delete;
    Netns &operator=(const Netns &) = delete;

    void veth(const std::string &a, const std::string &b); // both ends up, IPv6 off
    void enter();                                          // setns(CLONE_NEWNET), this thread
    void leave();
    uint32_t ifindex(const std::string &ifname) const; // after enter()
    uint64_t rx_packets(const std::string &ifname) const;
    const std::string &name() const { return name_; }

private:
    std::string name_;
    int home_fd_ = -1;
    bool entered_ = false;
};

void run_cmd(const std::vector<std::string> &argv, bool quiet_fail = false); // throws on failure
// A veth pair between two namespaces (a in ns_a, b in ns_b), both ends up, IPv6 off.
void veth_between(const Netns &ns_a, const std::string &a, const Netns &ns_b, const std::string &b);

// ---- attachments (unpinned: they go away with the object) -------------------------------
template <typename S, void (*Destroy)(S *)>
struct Skel {
    S *s;
    explicit Skel(S *p) : s(p)
    {
        if (!s)
            throw Error("cannot load the bench helper objects", errno);
    }
    ~Skel() { Destroy(s); }
    Skel(const Skel &) = delete;
    Skel &operator=(const Skel &) = delete;
};

// A bpf_link (XDP with flags, or any other link type) on ifindex of the current namespace.
class Link
{
public:
    Link(int prog_fd, uint32_t ifindex, int attach_type, uint32_t flags = 0);
    ~Link();
    Link(const Link &) = delete;
    Link &operator=(const Link &) = delete;
    void update(int prog_fd);

private:
    int fd_ = -1;
};

// TC ingress: a tcx link where the kernel has tcx (6.6+), a clsact direct-action filter
// otherwise (6.1 LTS, e.g. inside make vmtest). Either way a program swap is atomic.
class TcIngress
{
public:
    TcIngress(int prog_fd, uint32_t ifindex);
    ~TcIngress();
    TcIngress(const TcIngress &) = delete;
    TcIngress &operator=(const TcIngress &) = delete;
    void update(int prog_fd);

private:
    uint32_t ifindex_;
    int fd_ = -1;                        // tcx link
    uint32_t handle_ = 0, priority_ = 0; // clsact filter
    int ns_fd_ = -1;                     // its namespace, entered for every clsact change
};

// Points a PROG_ARRAY's slot 0 at target (the wrappers' tail call).
void set_jump(int jmp_fd, int target);
// Live frames (BPF_F_TEST_XDP_LIVE_FRAMES): `count` copies of pkt through an XDP program as if
// received on ifindex. Returns the wall time it took.
double live_run(int prog_fd, uint32_t ifindex, const Bytes &pkt, uint32_t count);

// ---- steering fixtures shared by the XDP sections --------------------------------------
std::string steer_yaml(); // 8 edges, an IPv4 and an IPv6 VIP; run as edge-0
struct XdpPackets {
    Bytes nonvip4, local4, fwd4, nonvip6, local6, fwd6; // TCP ACK + 64 bytes, client -> VIP
};
XdpPackets xdp_packets(const Instance &in);
// The six paths every steering section measures, in this order.
struct SteerPath {
    std::string name; // "non-VIP, IPv4", ...
    const Bytes *pkt;
    uint32_t reason; // XI_R_PASS_NOT_VIP, XI_R_LOCAL, XI_R_FORWARD
    bool forwarded() const;
    bool v4() const;
};
std::vector<SteerPath> steer_paths(const XdpPackets &p);
// The --compare rows of a steering table (print_compare_row): for each label, each path
// `measured` says has a case.
template <class Labels, class Measured, class Ratio>
void print_compare_rows(std::vector<Case> &cases, const Labels &labels,
                        const std::vector<SteerPath> &paths, const std::string &prefix,
                        Measured measured, int before, Ratio ratio, int after)
{
    for (const auto &[label, obj] : labels)
        for (const auto &p : paths)
            if (measured(p)) {
                const Case &c = find_case(cases, compare_case_name(prefix, p.name, label));
                print_compare_row(c, p.name, label, before, ratio(c), after);
            }
}
// A client source port whose flow client -> vip:443 `owner` owns (in.gen()'s Maglev table).
uint16_t port_owned_by(const Instance &in, const std::string &client, const std::string &vip,
                       uint16_t owner, uint16_t from = 20000);
// What xib_xdp_wrap/gen rewrite into every frame (nullptr: nothing).
void set_restore(int restore_map_fd, const Bytes *pkt);

// ---- sections --------------------------------------------------------------------------
int bench_xdp(const Options &o);
int bench_tc(const Options &o);
int bench_policy(const Options &o, size_t prefixes, size_t rules);
int bench_tunnel(const Options &o);
int bench_second_chance(const Options &o);
int bench_live(const Options &o, uint32_t packets);
int bench_rate(const Options &o, double seconds);
int bench_bulk(const Options &o, uint32_t megabytes, double max_seconds);
int bench_load(const Options &o, size_t prefixes, size_t rules, size_t edges);

// Pins this thread to one CPU (-1: the last online one); returns the CPU.
int pin_cpu(int cpu);

void print_header(const std::string &title);

} // namespace xi::bench
