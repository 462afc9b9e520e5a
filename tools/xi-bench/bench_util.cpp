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

Counters operator-(const Counters &after, const Counters &before)
{
    Counters d;
    for (const auto &[k, v] : after) {
        auto it = before.find(k);
        uint64_t b = it == before.end() ? 0 : it->second;
        if (v != b)
            d[k] = v - b;
    }
    return d;
}

std::string describe(const Counters &c)
{
    std::string out;
    for (const auto &[k, v] : c) {
        const char *hook = "?";
        for (const auto &h : hooks())
            if (h.number == k.first)
                hook = h.name;
        const ReasonInfo *r = reason_info(k.second);
        out += (out.empty() ? "" : " ") + std::string(hook) + "/" + (r ? r->label : "?") + "=" +
               std::to_string(v);
    }
    return out.empty() ? "(none)" : out;
}

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

// ---- hand-off modes ---------------------------------------------------------------------

const char *mode_label(uint8_t handoff)
{
    return handoff == XI_HANDOFF_XDP_MARK ? "xdp-mark" : "tc";
}

std::vector<uint8_t> runnable_modes(const std::string &section)
{
    const HelperProbe &p = probe_xdp_meta();
    if (p.result == HelperProbe::Result::Available) {
        printf("Hand-off modes measured (%s): tc, xdp-mark (this kernel lets XDP call "
               "bpf_xdp_adjust_meta).\n",
               section.c_str());
        return {XI_HANDOFF_TC, XI_HANDOFF_XDP_MARK};
    }
    std::string why =
        p.result == HelperProbe::Result::Refused
            ? "this kernel's verifier refuses bpf_xdp_adjust_meta in XDP" +
                  (p.verifier.empty() ? "" : " (\"" + p.verifier + "\")")
            : "the bpf_xdp_adjust_meta probe failed (" + std::string(strerror(p.err)) + ")";
    printf("Hand-off modes measured (%s): tc only. xdp-mark NOT measured: %s, so xdp-ingress "
           "runs only the tc hand-off here.\n",
           section.c_str(), why.c_str());
    return {XI_HANDOFF_TC};
}

Counters steer_expect(uint8_t handoff, uint32_t reason, bool forwarded, int only_hook,
                      bool mark_fails)
{
    const test::HandoffMode &m = handoff != XI_HANDOFF_XDP_MARK ? test::kModeTc
                                 : mark_fails                   ? test::kModeXdpMarkFails
                                                                : test::kModeXdpMark;
    Counters all = test::steer_counters(m, reason, forwarded);
    if (forwarded)
        all[{XI_HOOK_TC_PUBLIC_INGRESS, XI_R_REDIRECT}] += 1;
    if (only_hook < 0)
        return all;
    Counters one;
    for (const auto &[k, v] : all)
        if (k.first == static_cast<uint32_t>(only_hook))
            one[k] = v;
    return one;
}

Instance::Instance(const std::string &pin_dir, const std::string &yaml, const std::string &node,
                   bool edge, uint8_t handoff, bool mark_fails)
    : dir_(pin_dir), yaml_(yaml), node_(node)
{
    require_bpffs(Paths());
    mkdir_p(Paths().root());
    remove_pin_dir(dir_); // leftovers of an interrupted run with the same tag
    mkdir_p(dir_);
    try {
        dp_ = std::make_unique<Datapath>(LoadOptions{dir_, edge, true, handoff, mark_fails});
        maps_ = std::make_unique<GenMaps>(GenMaps::open_pinned(dir_));
        publish(1);
    } catch (...) {
        maps_.reset();
        dp_.reset();
        remove_pin_dir(dir_);
        throw;
    }
}

Instance::~Instance()
{
    maps_.reset();
    dp_.reset();
    remove_pin_dir(dir_);
}

void Instance::publish(uint32_t mesh_ifindex)
{
    auto res = parse_config(yaml_, "bench.yaml");
    if (!res.errors.empty())
        throw std::runtime_error("generated config does not validate: " + res.errors[0].str());
    CompileInput in;
    in.config = &*res.config;
    in.node = node_;
    in.mesh_ifindex = mesh_ifindex;
    in.generation = ++generation_;
    in.prev_node_slots = gen_.node_names;
    in.prev_rule_slots = gen_.rule_names;
    gen_ = compile_generation(in);
    publish_generation(*maps_, gen_);
}

Counters Instance::counters() const
{
    Counters c;
    for (const auto &row : read_reason_counters(dp_->map_fd("xi_stats")))
        c[{row.hook, row.reason}] = row.packets;
    return c;
}

namespace
{
// Sets a one-byte variable of an object's .rodata before load (what a skeleton's
// rodata->NAME = v does). False if the object has no such variable.
bool set_rodata_u8(bpf_object *obj, const char *name, uint8_t v)
{
    const btf *b = bpf_object__btf(obj);
    if (!b)
        return false;
    bpf_map *map;
    bpf_object__for_each_map(map, obj)
    {
        const char *mname = bpf_map__name(map);
        if (!bpf_map__is_internal(map) || !strstr(mname, ".rodata"))
            continue;
        int sec = btf__find_by_name_kind(b, ".rodata", BTF_KIND_DATASEC);
        if (sec < 0)
            return false;
        const btf_type *t = btf__type_by_id(b, sec);
        const btf_var_secinfo *vs = btf_var_secinfos(t);
        for (unsigned i = 0; i < btf_vlen(t); i++, vs++) {
            const btf_type *var = btf__type_by_id(b, vs->type);
            if (strcmp(btf__name_by_offset(b, var->name_off), name) != 0 || vs->size != 1)
                continue;
            size_t size = 0;
            const auto *init = static_cast<const uint8_t *>(bpf_map__initial_value(map, &size));
            if (!init || vs->offset >= size)
                return false;
            std::vector<uint8_t> data(init, init + size);
            data[vs->offset] = v;
            return bpf_map__set_initial_value(map, data.data(), data.size()) == 0;
        }
    }
    return false;
}
} // namespace

ExtraObject::ExtraObject(const std::string &path, const Instance &in, uint8_t handoff)
{
    obj_ = bpf_object__open_file(path.c_str(), nullptr);
    if (!obj_)
        throw Error("cannot open " + path, errno);
    if (handoff && bpf_object__find_program_by_name(obj_, "xi_xdp_public") &&
        !set_rodata_u8(obj_, "xi_handoff", handoff)) {
        bpf_object__close(obj_);
        throw std::runtime_error(path + ": no .rodata xi_handoff to set");
    }
    bpf_map *map;
    bpf_object__for_each_map(map, obj_)
    {
        if (bpf_map__is_internal(map))
            continue;
        std::string pin = in.dir() + "/" + bpf_map__name(map);
        bpf_map__set_pin_path(map, pin.c_str());
    }
    int err = bpf_object__load(obj_);
    if (err) {
        bpf_object__close(obj_);
        throw Error("cannot load " + path + " against " + in.dir(), errno_of(err));
    }
}

ExtraObject::~ExtraObject()
{
    bpf_object__close(obj_);
}

int ExtraObject::prog(const std::string &name) const
{
    bpf_program *p = bpf_object__find_program_by_name(obj_, name.c_str());
    if (!p)
        throw std::runtime_error("no program " + name);
    return bpf_program__fd(p);
}

uint16_t Instance::node_slot(const std::string &name) const
{
    for (size_t i = 0; i < gen_.node_names.size(); i++)
        if (gen_.node_names[i] == name)
            return static_cast<uint16_t>(i);
    throw std::runtime_error("no node " + name);
}

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

TcIngress::TcIngress(int prog_fd, uint32_t ifindex) : ifindex_(ifindex)
{
    LIBBPF_OPTS(bpf_link_create_opts, lo);
    fd_ = bpf_link_create(prog_fd, ifindex, static_cast<bpf_attach_type>(kTcxIngress), &lo);
    if (fd_ >= 0)
        return;
    int tcx_err = errno_of(fd_);
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex),
                .attach_point = BPF_TC_INGRESS);
    int rc = bpf_tc_hook_create(&hook);
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
    // The filter is found by ifindex, which means something else in another namespace.
    ns_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

TcIngress::~TcIngress()
{
    if (fd_ >= 0) {
        close(fd_);
        return;
    }
    int here = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (ns_fd_ < 0 || here < 0 || setns(ns_fd_, CLONE_NEWNET) != 0) {
        // Not detached: the filter goes away with the namespace's device.
        if (here >= 0)
            close(here);
        if (ns_fd_ >= 0)
            close(ns_fd_);
        return;
    }
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex_),
                .attach_point = BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, to, .handle = handle_, .priority = priority_);
    bpf_tc_detach(&hook, &to);
    if (setns(here, CLONE_NEWNET) != 0)
        abort(); // staying in the wrong namespace would misplace everything after
    close(here);
    close(ns_fd_);
}

void TcIngress::update(int prog_fd)
{
    if (fd_ >= 0) {
        if (bpf_link_update(fd_, prog_fd, nullptr) != 0)
            throw Error("cannot replace the attached TC program", errno);
        return;
    }
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex_),
                .attach_point = BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, to, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE, .handle = handle_,
                .priority = priority_);
    int rc = bpf_tc_attach(&hook, &to);
    if (rc)
        throw Error("cannot replace the clsact ingress filter", -rc);
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

// ---- steering fixtures -------------------------------------------------------------------

bool SteerPath::forwarded() const
{
    return reason == XI_R_FORWARD;
}

bool SteerPath::v4() const
{
    return name.find("IPv4") != std::string::npos;
}

std::vector<SteerPath> steer_paths(const XdpPackets &p)
{
    return {
        {"non-VIP, IPv4", &p.nonvip4, XI_R_PASS_NOT_VIP},
        {"local owner, IPv4", &p.local4, XI_R_LOCAL},
        {"sibling owner (forwarded), IPv4", &p.fwd4, XI_R_FORWARD},
        {"non-VIP, IPv6", &p.nonvip6, XI_R_PASS_NOT_VIP},
        {"local owner, IPv6", &p.local6, XI_R_LOCAL},
        {"sibling owner (forwarded), IPv6", &p.fwd6, XI_R_FORWARD},
    };
}

uint16_t port_owned_by(const Instance &in, const std::string &client, const std::string &vip,
                       uint16_t owner, uint16_t from)
{
    for (uint32_t p = from; p < 65000; p++) {
        FlowTuple t{*IpAddr::parse(client), *IpAddr::parse(vip), static_cast<uint16_t>(p), 443,
                    IPPROTO_TCP};
        if (flow_owner(in.gen(), t) == owner)
            return static_cast<uint16_t>(p);
    }
    throw std::runtime_error("no client port whose flow to " + vip + " node " +
                             std::to_string(owner) + " owns");
}

} // namespace xi::bench
