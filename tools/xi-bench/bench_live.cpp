// Sections 3 and 5: live frames (BPF_F_TEST_XDP_LIVE_FRAMES) in a network namespace.
//
// live: frames enter the XDP program as if received on veth "pub0"; XDP_PASS hands them to the
//   stack as skbs, XDP metadata included, where the TC program on pub0's TC ingress runs (tcx,
//   or a clsact filter on kernels without tcx). The cost of both programs per packet comes
//   from bpf_stats (run_time_ns / run_cnt), against empty XDP and TC programs attached and fed
//   the same way. This is the only place the TC
//   encapsulation runs on a packet our XDP program really marked: skb test_run cannot carry
//   XDP metadata.
// rate: a generator redirects live frames through a DEVMAP into veth "gen0"; its peer "rx0"
//   runs the program under test in native XDP mode. Packets per second delivered to rx0.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <linux/if_link.h>
#include <unistd.h>

#include "bench.h"
#include "xi_reasons.h"
#include "xib_tc.skel.h"
#include "xib_xdp.skel.h"

namespace xi::bench
{

namespace
{

constexpr int kTcxIngress = 46; // BPF_TCX_INGRESS: not in Debian 12's 6.1 UAPI headers

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

// An attachment that goes away with the object (an unpinned bpf_link).
class Link
{
public:
    Link(int prog_fd, uint32_t ifindex, int attach_type, uint32_t flags = 0)
    {
        LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
        fd_ = bpf_link_create(prog_fd, ifindex, static_cast<bpf_attach_type>(attach_type), &opts);
        if (fd_ < 0)
            throw Error("cannot attach (bpf_link_create type " + std::to_string(attach_type) + ")",
                        errno_of(fd_));
    }
    ~Link() { close(fd_); }
    Link(const Link &) = delete;
    Link &operator=(const Link &) = delete;
    void update(int prog_fd)
    {
        if (bpf_link_update(fd_, prog_fd, nullptr) != 0)
            throw Error("cannot replace the attached program", errno);
    }

private:
    int fd_ = -1;
};

// The TC ingress hook of the live section: a tcx link where the kernel has tcx (6.6+), a
// clsact direct-action filter otherwise (6.1 LTS, e.g. inside make vmtest). Either way a
// program swap is atomic (link update / filter replace), as the measurement loop needs.
class TcIngress
{
public:
    TcIngress(int prog_fd, uint32_t ifindex) : ifindex_(ifindex)
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
    }
    ~TcIngress()
    {
        if (fd_ >= 0) {
            close(fd_);
            return;
        }
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex_),
                    .attach_point = BPF_TC_INGRESS);
        LIBBPF_OPTS(bpf_tc_opts, to, .handle = handle_, .priority = priority_);
        bpf_tc_detach(&hook, &to);
    }
    TcIngress(const TcIngress &) = delete;
    TcIngress &operator=(const TcIngress &) = delete;
    void update(int prog_fd)
    {
        if (fd_ >= 0) {
            if (bpf_link_update(fd_, prog_fd, nullptr) != 0)
                throw Error("cannot replace the attached TC program", errno);
            return;
        }
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex_),
                    .attach_point = BPF_TC_INGRESS);
        LIBBPF_OPTS(bpf_tc_opts, to, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE,
                    .handle = handle_, .priority = priority_);
        int rc = bpf_tc_attach(&hook, &to);
        if (rc)
            throw Error("cannot replace the clsact ingress filter", -rc);
    }

private:
    uint32_t ifindex_;
    int fd_ = -1;
    uint32_t handle_ = 0, priority_ = 0;
};

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

void set_jump(int jmp_fd, int target)
{
    uint32_t zero = 0;
    if (bpf_map_update_elem(jmp_fd, &zero, &target, BPF_ANY) != 0)
        throw Error("cannot set the tail call target", errno);
}

// Live frames: `count` copies of pkt through prog as if received on ifindex.
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

struct Kind {
    std::string name;
    const Bytes *pkt;
    uint32_t xdp_reason, tc_reason;
};

std::vector<Kind> kinds_of(const XdpPackets &p)
{
    return {
        {"non-VIP, IPv4", &p.nonvip4, XI_R_PASS_NOT_VIP, XI_R_XDP_DECIDED},
        {"local owner, IPv4", &p.local4, XI_R_LOCAL, XI_R_XDP_DECIDED},
        {"sibling owner: XDP mark + TC encap, IPv4", &p.fwd4, XI_R_FORWARD, XI_R_REDIRECT},
        {"sibling owner: XDP mark + TC encap, IPv6", &p.fwd6, XI_R_FORWARD, XI_R_REDIRECT},
    };
}

// "" if the counters moved as expected, else what they did.
std::string counters_mismatch(const Instance &in, const Counters &before, const Kind &k, uint64_t n)
{
    Counters want{{{XI_HOOK_XDP_PUBLIC, k.xdp_reason}, n},
                  {{XI_HOOK_TC_PUBLIC_INGRESS, k.tc_reason}, n}};
    Counters got = in.counters() - before;
    return got == want ? "" : describe(got);
}

} // namespace

int bench_live(const Options &o, uint32_t packets)
{
    Netns ns(o.tag);
    ns.veth("pub0", "pub1");
    ns.veth("mesh0", "mesh1");
    Instance in(pin_dir_for(o, "live"), steer_yaml(), "edge-0", true, XI_HANDOFF_XDP_MARK);
    ns.enter();
    const uint32_t pub = ns.ifindex("pub0");
    in.publish(ns.ifindex("mesh0")); // redirect target of the encapsulated packets

    Skel<xib_xdp, xib_xdp__destroy> x(xib_xdp__open_and_load());
    Skel<xib_tc, xib_tc__destroy> t(xib_tc__open_and_load());
    const int xdp_empty = bpf_program__fd(x.s->progs.xib_xdp_pass);
    const int xdp_wrap = bpf_program__fd(x.s->progs.xib_xdp_wrap);
    const int jmp = bpf_map__fd(x.s->maps.xib_xdp_jmp);
    const int restore = bpf_map__fd(x.s->maps.xib_restore);
    const int tc_empty = bpf_program__fd(t.s->progs.xib_tc_empty);
    const int xdp_ours = in.prog(Prog::XdpPublic);
    const int tc_ours = in.prog(Prog::TcPublicIngress);
    auto packets_ = xdp_packets(in);
    auto kinds = kinds_of(packets_);

    TcIngress tc(tc_empty, pub);

    // Per round and kind: ns per packet of the XDP entry program and of the TC program.
    struct Series {
        std::vector<double> xdp, tc;
    };
    std::map<std::string, Series> s;
    std::map<std::string, std::string> notes; // --compare rows that counted something else
    // Calibration: bpf_stats floors include two clock reads, test_run floors do not; the extra
    // nanoseconds of a program over an empty one are the same in both, so they are also given
    // in units of the test_run floors of sections 1 and 2 (measured here, every round).
    std::vector<double> tr_xdp, tr_tc;
    auto measure = [&](const std::string &key, int xdp_prog, int tc_prog, const Kind &k,
                       bool check) {
        tc.update(tc_prog);
        set_restore(restore, k.pkt);
        Counters before = in.counters();
        ProgStats x0, t0, x1, t1;
        {
            // Only while measuring: the test_run calibration below must run without it.
            StatsEnabled stats;
            x0 = prog_stats(xdp_prog);
            t0 = prog_stats(tc_prog);
            live_run(xdp_prog, pub, *k.pkt, packets);
            x1 = prog_stats(xdp_prog);
            t1 = prog_stats(tc_prog);
        }
        if (x1.cnt - x0.cnt != packets || t1.cnt - t0.cnt < packets ||
            t1.cnt - t0.cnt > packets + packets / 1000)
            throw std::runtime_error(
                "live '" + key + "': XDP ran " + std::to_string(x1.cnt - x0.cnt) + "x, TC ran " +
                std::to_string(t1.cnt - t0.cnt) + "x for " + std::to_string(packets) + " frames");
        std::string bad = counters_mismatch(in, before, k, packets);
        if (!bad.empty() && check)
            throw std::runtime_error("live '" + key + "' took another path: " + bad);
        if (!bad.empty())
            notes[key] = bad;
        s[key].xdp.push_back(double(x1.ns - x0.ns) / double(x1.cnt - x0.cnt));
        s[key].tc.push_back(double(t1.ns - t0.ns) / double(t1.cnt - t0.cnt));
    };

    // --compare LABEL=OBJECT: another build of tc_public_ingress.bpf.o on the same maps.
    std::vector<std::pair<std::string, std::unique_ptr<ExtraObject>>> extra;
    for (const auto &spec : o.compare) {
        auto eq = spec.find('=');
        if (eq == std::string::npos)
            throw std::runtime_error("--compare wants LABEL=OBJECT");
        extra.emplace_back(spec.substr(0, eq),
                           std::make_unique<ExtraObject>(spec.substr(eq + 1), in));
    }
    const size_t n = kinds.size() * (1 + extra.size()) + 2;
    for (int r = 0; r < o.rounds; r++) {
        for (size_t i = 0; i < n; i++) {
            check_interrupted();
            size_t j = (i + r) % n;
            const Kind &k0 = kinds[0];
            if (j >= kinds.size() + 2) {
                size_t x = (j - kinds.size() - 2) / kinds.size();
                const Kind &k = kinds[(j - kinds.size() - 2) % kinds.size()];
                set_jump(jmp, xdp_ours);
                measure(k.name + " [" + extra[x].first + "]", xdp_wrap,
                        extra[x].second->prog("xi_tc_pub_in"), k, false);
            } else if (j == kinds.size()) {
                measure("empty", xdp_empty, tc_empty, k0, false);
                notes.erase("empty");
            } else if (j == kinds.size() + 1) {
                set_jump(jmp, xdp_empty);
                measure("floor", xdp_wrap, tc_empty, k0, false);
                notes.erase("floor");
            } else {
                set_jump(jmp, xdp_ours);
                measure(kinds[j].name, xdp_wrap, tc_ours, kinds[j], true);
            }
        }
        if (stats_sysctl_on())
            throw std::runtime_error("kernel.bpf_stats_enabled is on (someone else enabled it): "
                                     "the test_run calibration would include its clock reads");
        tr_xdp.push_back(test_run(xdp_empty, *kinds[0].pkt, 1000000).ns);
        tr_tc.push_back(test_run(tc_empty, *kinds[0].pkt, 1000000).ns);
        if (o.verbose)
            fprintf(stderr, "live round %d/%d done\n", r + 1, o.rounds);
    }
    ns.leave();

    const auto &e = s["empty"], &f = s["floor"];
    auto per_round = [&](auto fn) {
        std::vector<double> v;
        for (int r = 0; r < o.rounds; r++)
            v.push_back(fn(r));
        return summarize(v);
    };
    print_header("XDP -> TC with live frames (veth in a namespace, " + std::to_string(packets) +
                 " frames per measurement, " + std::to_string(o.rounds) +
                 " rounds; per-program cost from bpf_stats)");
    printf("| path | XDP, vs empty XDP (bpf_stats, wrapper subtracted) | TC public ingress, vs "
           "empty TC (bpf_stats) | TC, in test_run units | XDP + TC, in test_run units |\n"
           "|---|---|---|---|---|\n");
    printf("| empty programs (floors) | 1.00x | 1.00x | 1.00x | 1.00x |\n");
    printf("| wrapper + tail call into the empty XDP program | %s (raw) | | | |\n",
           fmt_ratio(per_round([&](int r) { return f.xdp[r] / e.xdp[r]; })).c_str());
    for (const auto &k : kinds) {
        const auto &m = s[k.name];
        auto xdp = per_round([&](int r) { return (m.xdp[r] - f.xdp[r] + e.xdp[r]) / e.xdp[r]; });
        auto tcr = per_round([&](int r) { return m.tc[r] / e.tc[r]; });
        auto tc_cal = per_round([&](int r) { return (m.tc[r] - e.tc[r] + tr_tc[r]) / tr_tc[r]; });
        auto both = per_round([&](int r) {
            return (m.xdp[r] - f.xdp[r] + m.tc[r] - e.tc[r] + tr_xdp[r]) / tr_xdp[r];
        });
        printf("| %s | %s | %s | **%s** | **%s** |\n", k.name.c_str(), fmt_ratio(xdp).c_str(),
               fmt_ratio(tcr).c_str(), fmt_ratio(tc_cal).c_str(), fmt_ratio(both).c_str());
    }
    for (const auto &[label, obj] : extra)
        for (const auto &k : kinds) {
            const auto &m = s[k.name + " [" + label + "]"];
            auto tcr = per_round([&](int r) { return m.tc[r] / e.tc[r]; });
            auto tc_cal =
                per_round([&](int r) { return (m.tc[r] - e.tc[r] + tr_tc[r]) / tr_tc[r]; });
            auto both = per_round([&](int r) {
                return (m.xdp[r] - f.xdp[r] + m.tc[r] - e.tc[r] + tr_xdp[r]) / tr_xdp[r];
            });
            std::string note = notes.count(k.name + " [" + label + "]")
                                   ? " (counted: " + notes[k.name + " [" + label + "]"] + ")"
                                   : "";
            printf("| %s [%s]%s | | %s | %s | %s |\n", k.name.c_str(), label.c_str(), note.c_str(),
                   fmt_ratio(tcr).c_str(), fmt_ratio(tc_cal).c_str(), fmt_ratio(both).c_str());
        }
    printf("\nbpf_stats floors include its two clock reads, so its ratios are smaller than "
           "test_run ratios of the same code. \"test_run units\": the extra time over the "
           "empty program on the same hook (which bpf_stats measures without bias), plus the "
           "test_run floor, over the test_run floor (empty TC, resp. empty XDP, measured in "
           "the same round): comparable with sections 1 and 2 and with Katran's figures. The "
           "last column adds both programs' extra work, XDP mark and TC encapsulation, over the "
           "empty XDP program: the figure to hold against an XDP-only design. It leaves out the "
           "skb the stack builds between XDP and TC (see the rates).\n");
    printf("Floors for context only (not a claim): bpf_stats empty XDP %s ns, empty TC %s ns; "
           "test_run empty XDP %s ns, empty TC %s ns.\n",
           fmt_ns(summarize(e.xdp)).c_str(), fmt_ns(summarize(e.tc)).c_str(),
           fmt_ns(summarize(tr_xdp)).c_str(), fmt_ns(summarize(tr_tc)).c_str());
    auto facts = prog_facts(tc_ours);
    printf("xi_tc_pub_in: %u xlated insns, %u bytes JITed, %u insns verified, %u maps.\n",
           facts.xlated, facts.jited, facts.verified, facts.maps);
    return 0;
}

int bench_rate(const Options &o, double seconds)
{
    Netns ns(o.tag);
    ns.veth("gen0", "rx0");
    ns.veth("mesh0", "mesh1");
    Instance in(pin_dir_for(o, "rate"), steer_yaml(), "edge-0", true);
    ns.enter();
    const uint32_t gen = ns.ifindex("gen0"), rx = ns.ifindex("rx0");
    in.publish(ns.ifindex("mesh0"));

    Skel<xib_xdp, xib_xdp__destroy> x(xib_xdp__open_and_load());
    Skel<xib_tc, xib_tc__destroy> t(xib_tc__open_and_load());
    const int gen_prog = bpf_program__fd(x.s->progs.xib_xdp_gen);
    const int restore = bpf_map__fd(x.s->maps.xib_restore);
    {
        uint32_t zero = 0;
        if (bpf_map_update_elem(bpf_map__fd(x.s->maps.xib_tx), &zero, &gen, BPF_ANY) != 0)
            throw Error("cannot fill the DEVMAP", errno);
    }
    auto pk = xdp_packets(in);
    auto kinds = kinds_of(pk);
    kinds.pop_back(); // IPv4 only

    struct Receiver {
        std::string name;
        int xdp, tc; // tc: -1 = none attached
        const Kind *kind;
    };
    const Kind drop{"baseline", &pk.local4, 0, 0};
    std::vector<Receiver> rxs = {
        {"XDP_DROP (baseline)", bpf_program__fd(x.s->progs.xib_xdp_drop), -1, &drop},
        {"XDP_PASS, no TC (baseline)", bpf_program__fd(x.s->progs.xib_xdp_pass), -1, &drop},
        {"XDP_PASS + empty TC (baseline)", bpf_program__fd(x.s->progs.xib_xdp_pass),
         bpf_program__fd(t.s->progs.xib_tc_empty), &drop},
    };
    for (const auto &k : kinds)
        rxs.push_back({"xdp-ingress: " + k.name, in.prog(Prog::XdpPublic),
                       in.prog(Prog::TcPublicIngress), &k});

    std::map<std::string, std::vector<double>> mpps, mpps_cpu;
    // One XDP link, its program replaced per receiver (a closed link detaches asynchronously,
    // and a new native attachment meanwhile fails with EBUSY).
    Link xl(rxs[0].xdp, rx, BPF_XDP, XDP_FLAGS_DRV_MODE);
    for (int r = 0; r < o.rounds; r++) {
        for (size_t i = 0; i < rxs.size(); i++) {
            check_interrupted();
            const auto &rcv = rxs[(i + r) % rxs.size()];
            xl.update(rcv.xdp);
            std::unique_ptr<TcIngress> tl;
            if (rcv.tc >= 0)
                tl = std::make_unique<TcIngress>(rcv.tc, rx);
            set_restore(restore, rcv.kind->pkt);
            // Warm-up, then chunks of frames until `seconds` have passed.
            live_run(gen_prog, gen, *rcv.kind->pkt, 100000);
            Counters before = in.counters();
            uint32_t rx0 = static_cast<uint32_t>(ns.rx_packets("rx0"));
            double wall = 0;
            uint64_t sent = 0;
            timespec c0{}, c1{};
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
            while (wall < seconds) {
                wall += live_run(gen_prog, gen, *rcv.kind->pkt, 1000000);
                sent += 1000000;
            }
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
            double cpu = (c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
            usleep(20000); // let the receiver drain its ring
            uint32_t got = static_cast<uint32_t>(ns.rx_packets("rx0")) - rx0;
            if (rcv.kind != &drop) {
                Counters d = in.counters() - before;
                uint64_t xdp = d[{XI_HOOK_XDP_PUBLIC, rcv.kind->xdp_reason}];
                uint64_t tc = d[{XI_HOOK_TC_PUBLIC_INGRESS, rcv.kind->tc_reason}];
                if (xdp != got || tc != got)
                    throw std::runtime_error("rate '" + rcv.name + "': " + std::to_string(got) +
                                             " frames received, counted " + describe(d));
            }
            mpps[rcv.name].push_back(got / wall / 1e6);
            mpps_cpu[rcv.name].push_back(got / cpu / 1e6);
            if (o.verbose)
                fprintf(stderr, "%s: %.2f Mpps (%u of %lu delivered)\n", rcv.name.c_str(),
                        got / wall / 1e6, got, static_cast<unsigned long>(sent));
        }
    }
    ns.leave();

    print_header("Live frames -> DEVMAP -> veth -> native XDP on the peer (" +
                 std::to_string(o.rounds) + " round(s) of " + fmt(seconds, 1) +
                 " s; generator and receiver share one CPU)");
    // Ratios to XDP_PASS + empty TC: the same hooks with empty programs.
    const auto &ref = mpps[rxs[2].name], &ref_cpu = mpps_cpu[rxs[2].name];
    printf("| receiver | Mpps per wall second | ratio | Mpps per CPU second | ratio |\n"
           "|---|---|---|---|---|\n");
    auto cell = [](const std::vector<double> &v) {
        auto sv = summarize(v);
        return fmt(sv.median) + " (" + fmt(sv.min) + "-" + fmt(sv.max) + ")";
    };
    for (const auto &rcv : rxs) {
        const auto &v = mpps[rcv.name], &vc = mpps_cpu[rcv.name];
        std::vector<double> rel, rel_cpu;
        for (size_t r = 0; r < v.size(); r++) {
            rel.push_back(v[r] / ref[r]);
            rel_cpu.push_back(vc[r] / ref_cpu[r]);
        }
        printf("| %s | %s | %s | %s | **%s** |\n", rcv.name.c_str(), cell(v).c_str(),
               fmt_ratio(summarize(rel)).c_str(), cell(vc).c_str(),
               fmt_ratio(summarize(rel_cpu)).c_str());
    }
    printf("\nPer CPU second: frames delivered over the CPU time of the generating thread, "
           "which here includes the receiver's softirq work (no IRQ time accounting; steal time "
           "excluded): far less sensitive to the machine's other load than wall time.");
    printf(" Mpps are this machine's, under its load at the time: for comparison with the rows "
           "above, not as a claim. Non-VIP and local frames go to the stack (XDP_PASS, dropped "
           "there: not addressed to this host); marked frames are encapsulated by TC and "
           "redirected into the mesh veth.\n");
    return 0;
}

} // namespace xi::bench
