// Section 5: packet rates through the live datapath (split from bench_live.cpp, whose header
// describes both sections).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cstdio>
#include <cstring>
#include <linux/if_link.h>
#include <unistd.h>

#include "bench.h"
#include "bench_live_kind.h"
#include "xi_reasons.h"
#include "xib_tc.skel.h"
#include "xib_xdp.skel.h"

namespace xi::bench
{

int bench_rate(const Options &o, double seconds)
{
    auto inst = edge_per_mode(o, "rate", runnable_modes("rate"));
    Netns ns(o.tag);
    ns.veth("gen0", "rx0");
    ns.veth("mesh0", "mesh1");
    ns.enter();
    const uint32_t gen = ns.ifindex("gen0"), rx = ns.ifindex("rx0");
    for (auto &[m, in] : inst)
        in->publish(ns.ifindex("mesh0"));

    Skel<xib_xdp, xib_xdp__destroy> x(xib_xdp__open_and_load());
    Skel<xib_tc, xib_tc__destroy> t(xib_tc__open_and_load());
    const int gen_prog = bpf_program__fd(x.s->progs.xib_xdp_gen);
    const int restore = bpf_map__fd(x.s->maps.xib_restore);
    {
        uint32_t zero = 0;
        if (bpf_map_update_elem(bpf_map__fd(x.s->maps.xib_tx), &zero, &gen, BPF_ANY) != 0)
            throw Error("cannot fill the DEVMAP", errno);
    }
    auto pk = xdp_packets(*inst.at(XI_HANDOFF_TC));
    std::vector<Kind> kinds;
    for (const auto &[m, in] : inst)
        for (const auto &p : steer_paths(pk))
            if (p.v4()) // IPv4 only
                kinds.push_back({std::string(mode_label(m)) + ": " + p.name, m, p, in.get()});

    struct Receiver {
        std::string name;
        int xdp, tc; // tc: -1 = none attached
        const Kind *kind;
    };
    std::vector<Receiver> rxs = {
        {"XDP_DROP (baseline)", bpf_program__fd(x.s->progs.xib_xdp_drop), -1, nullptr},
        {"XDP_PASS, no TC (baseline)", bpf_program__fd(x.s->progs.xib_xdp_pass), -1, nullptr},
        {"XDP_PASS + empty TC (baseline)", bpf_program__fd(x.s->progs.xib_xdp_pass),
         bpf_program__fd(t.s->progs.xib_tc_empty), nullptr},
    };
    for (const auto &k : kinds)
        rxs.push_back({"xdp-ingress, " + k.name, k.in->prog(Prog::XdpPublic),
                       k.in->prog(Prog::TcPublicIngress), &k});

    std::map<std::string, std::vector<double>> mpps, mpps_cpu;
    // One XDP link, its program replaced per receiver (a closed link detaches asynchronously,
    // and a new native attachment meanwhile fails with EBUSY).
    Link xl(rxs[0].xdp, rx, BPF_XDP, XDP_FLAGS_DRV_MODE);
    for (int r = 0; r < o.rounds; r++) {
        for (size_t i = 0; i < rxs.size(); i++) {
            check_interrupted();
            const auto &rcv = rxs[(i + r) % rxs.size()];
            const Bytes &pkt = rcv.kind ? *rcv.kind->path.pkt : pk.local4;
            xl.update(rcv.xdp);
            std::unique_ptr<TcIngress> tl;
            if (rcv.tc >= 0)
                tl = std::make_unique<TcIngress>(rcv.tc, rx);
            set_restore(restore, &pkt);
            // Warm-up, then chunks of frames until `seconds` have passed.
            live_run(gen_prog, gen, pkt, 100000);
            Counters before = rcv.kind ? rcv.kind->in->counters() : Counters{};
            uint32_t rx0 = static_cast<uint32_t>(ns.rx_packets("rx0"));
            double wall = 0;
            uint64_t sent = 0;
            timespec c0{}, c1{};
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
            while (wall < seconds) {
                wall += live_run(gen_prog, gen, pkt, 1000000);
                sent += 1000000;
            }
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
            double cpu = (c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
            usleep(20000); // let the receiver drain its ring
            uint32_t got = static_cast<uint32_t>(ns.rx_packets("rx0")) - rx0;
            if (rcv.kind) {
                std::string bad = counters_mismatch(*rcv.kind, before, got);
                if (!bad.empty())
                    throw std::runtime_error("rate '" + rcv.name + "': " + std::to_string(got) +
                                             " frames received, counted " + bad);
            }
            mpps[rcv.name].push_back(got / wall / 1e6);
            mpps_cpu[rcv.name].push_back(got / cpu / 1e6);
            if (o.verbose)
                fprintf(stderr, "%s: %.2f Mpps (%u of %lu delivered)\n", rcv.name.c_str(),
                        got / wall / 1e6, got, static_cast<unsigned long>(sent));
        }
    }
    ns.leave();

    print_header("Live frames -> DEVMAP -> veth -> native XDP on the peer, per hand-off mode (" +
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
           "there: not addressed to this host); forwarded frames are encapsulated by TC and "
           "redirected into the mesh veth.\n");
    return 0;
}

} // namespace xi::bench
