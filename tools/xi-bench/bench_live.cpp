// Sections 3 and 5: live frames (BPF_F_TEST_XDP_LIVE_FRAMES) in a network namespace.
//
// live: frames enter the XDP program as if received on veth "pub0"; XDP_PASS hands them to the
//   stack as skbs, XDP metadata included, where the TC program on pub0's TC ingress runs (tcx,
//   or a clsact filter on kernels without tcx). The cost of both programs per packet comes
//   from bpf_stats (run_time_ns / run_cnt), against empty XDP and TC programs attached and fed
//   the same way, in each hand-off mode this kernel runs: tc (XDP drops malformed packets, TC
//   decides and encapsulates) and xdp-mark (XDP decides and marks, TC acts on the mark). This
//   is the only place the TC program acts on a mark our XDP program really wrote: skb test_run
//   cannot carry XDP metadata.
// rate: a generator redirects live frames through a DEVMAP into veth "gen0"; its peer "rx0"
//   runs the program under test in native XDP mode. Packets per second delivered to rx0.
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

int bench_live(const Options &o, uint32_t packets)
{
    const auto modes = runnable_modes("live");
    Netns ns(o.tag);
    ns.veth("pub0", "pub1");
    ns.veth("mesh0", "mesh1");
    auto inst = edge_per_mode(o, "live", modes);
    // xdp-mark where the driver gives XDP no metadata room (ena, gve, hv_netvsc, mana,
    // vmxnet3): every mark fails, TC decides again. What `--handoff auto` gets there, since its
    // probe sees the kernel, not the driver.
    std::unique_ptr<Instance> fails;
    if (inst.count(XI_HANDOFF_XDP_MARK))
        fails = std::make_unique<Instance>(pin_dir_for(o, "live-markfails"), steer_yaml(), "edge-0",
                                           true, XI_HANDOFF_XDP_MARK, true);
    ns.enter();
    const uint32_t pub = ns.ifindex("pub0");
    for (auto &[m, in] : inst)
        in->publish(ns.ifindex("mesh0")); // redirect target of the encapsulated packets
    if (fails)
        fails->publish(ns.ifindex("mesh0"));

    Skel<xib_xdp, xib_xdp__destroy> x(xib_xdp__open_and_load());
    Skel<xib_tc, xib_tc__destroy> t(xib_tc__open_and_load());
    const int xdp_empty = bpf_program__fd(x.s->progs.xib_xdp_pass);
    const int xdp_wrap = bpf_program__fd(x.s->progs.xib_xdp_wrap);
    const int jmp = bpf_map__fd(x.s->maps.xib_xdp_jmp);
    const int restore = bpf_map__fd(x.s->maps.xib_restore);
    const int tc_empty = bpf_program__fd(t.s->progs.xib_tc_empty);
    auto pk = xdp_packets(*inst.at(XI_HANDOFF_TC));
    std::vector<Kind> kinds;
    for (uint8_t m : modes)
        for (const auto &p : steer_paths(pk))
            kinds.push_back({std::string(mode_label(m)) + ": " + p.name, m, p, inst.at(m).get()});
    if (fails)
        for (const auto &p : steer_paths(pk))
            kinds.push_back(
                {std::string(kFails) + ": " + p.name, XI_HANDOFF_XDP_MARK, p, fails.get(), true});

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
    auto measure = [&](const std::string &key, int xdp_prog, int tc_prog, const Bytes &pkt,
                       const Kind *k, bool check) {
        tc.update(tc_prog);
        set_restore(restore, &pkt);
        Counters before = k ? k->in->counters() : Counters{};
        ProgStats x0, t0, x1, t1;
        {
            // Only while measuring: the test_run calibration below must run without it.
            StatsEnabled stats;
            x0 = prog_stats(xdp_prog);
            t0 = prog_stats(tc_prog);
            live_run(xdp_prog, pub, pkt, packets);
            x1 = prog_stats(xdp_prog);
            t1 = prog_stats(tc_prog);
        }
        if (x1.cnt - x0.cnt != packets || t1.cnt - t0.cnt < packets ||
            t1.cnt - t0.cnt > packets + packets / 1000)
            throw std::runtime_error(
                "live '" + key + "': XDP ran " + std::to_string(x1.cnt - x0.cnt) + "x, TC ran " +
                std::to_string(t1.cnt - t0.cnt) + "x for " + std::to_string(packets) + " frames");
        if (k) {
            std::string bad = counters_mismatch(*k, before, packets);
            if (!bad.empty() && check)
                throw std::runtime_error("live '" + key + "' took another path: " + bad);
            if (!bad.empty())
                notes[key] = bad;
        }
        s[key].xdp.push_back(double(x1.ns - x0.ns) / double(x1.cnt - x0.cnt));
        s[key].tc.push_back(double(t1.ns - t0.ns) / double(t1.cnt - t0.cnt));
    };

    // --compare LABEL=OBJECT: another build of tc_public_ingress.bpf.o on the same maps, in
    // every mode, on the forwarded IPv4 path (the one the breakdowns are about).
    struct Extra {
        std::string label;
        uint8_t mode;
        std::unique_ptr<ExtraObject> obj;
    };
    std::vector<Extra> extra;
    for (const auto &spec : o.compare) {
        auto eq = spec.find('=');
        if (eq == std::string::npos)
            throw std::runtime_error("--compare wants LABEL=OBJECT");
        for (uint8_t m : modes)
            extra.push_back({spec.substr(0, eq), m,
                             std::make_unique<ExtraObject>(spec.substr(eq + 1), *inst.at(m))});
    }
    auto fwd4 = [&](uint8_t m) -> const Kind & {
        for (const auto &k : kinds)
            if (k.mode == m && !k.mark_fails && k.path.forwarded() && k.path.v4())
                return k;
        throw std::logic_error("no forwarded IPv4 kind");
    };
    const size_t n = kinds.size() + extra.size() + 2;
    for (int r = 0; r < o.rounds; r++) {
        for (size_t i = 0; i < n; i++) {
            check_interrupted();
            size_t j = (i + r) % n;
            if (j < kinds.size()) {
                const Kind &k = kinds[j];
                set_jump(jmp, k.in->prog(Prog::XdpPublic));
                measure(k.name, xdp_wrap, k.in->prog(Prog::TcPublicIngress), *k.path.pkt, &k, true);
            } else if (j == kinds.size()) {
                measure("empty", xdp_empty, tc_empty, pk.local4, nullptr, false);
            } else if (j == kinds.size() + 1) {
                set_jump(jmp, xdp_empty);
                measure("floor", xdp_wrap, tc_empty, pk.local4, nullptr, false);
            } else {
                const Extra &ex = extra[j - kinds.size() - 2];
                const Kind &k = fwd4(ex.mode);
                set_jump(jmp, k.in->prog(Prog::XdpPublic));
                measure(k.name + " [" + ex.label + "]", xdp_wrap, ex.obj->prog("xi_tc_pub_in"),
                        *k.path.pkt, &k, false);
            }
        }
        if (stats_sysctl_on())
            throw std::runtime_error("kernel.bpf_stats_enabled is on (someone else enabled it): "
                                     "the test_run calibration would include its clock reads");
        tr_xdp.push_back(test_run(xdp_empty, pk.local4, 1000000).ns);
        tr_tc.push_back(test_run(tc_empty, pk.local4, 1000000).ns);
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
    // In test_run units (see the note printed below).
    auto xdp_u = [&](const Series &m, int r) {
        return (m.xdp[r] - f.xdp[r] + tr_xdp[r]) / tr_xdp[r];
    };
    auto tc_u = [&](const Series &m, int r) { return (m.tc[r] - e.tc[r] + tr_tc[r]) / tr_tc[r]; };
    auto both_ns = [&](const Series &m, int r) {
        return m.xdp[r] - f.xdp[r] + m.tc[r] - e.tc[r] + tr_xdp[r];
    };
    const bool mark = inst.count(XI_HANDOFF_XDP_MARK) > 0;
    print_header("XDP -> TC with live frames, per hand-off mode (veth in a namespace, " +
                 std::to_string(packets) + " frames per measurement, " + std::to_string(o.rounds) +
                 " rounds; per-program cost from bpf_stats, in test_run units)");
    printf("| path | tc: XDP | tc: TC | tc: **XDP + TC** | xdp-mark: XDP | xdp-mark: TC | "
           "xdp-mark: **XDP + TC** | xdp-mark / tc, XDP + TC (paired) | xdp-mark, marks fail: "
           "XDP + TC | marks fail / tc (paired) |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n");
    printf("| empty programs (floors) | 1.00x | 1.00x | 1.00x | 1.00x | 1.00x | 1.00x | | 1.00x "
           "| |\n");
    printf("| wrapper + tail call into the empty XDP program (bpf_stats, raw) | %s | | | | | | "
           "| | |\n",
           fmt_ratio(per_round([&](int r) { return f.xdp[r] / e.xdp[r]; })).c_str());
    for (const auto &p : steer_paths(pk)) {
        const auto &mt = s[std::string("tc: ") + p.name];
        std::string cells =
            fmt_ratio(per_round([&](int r) { return xdp_u(mt, r); })) + " | " +
            fmt_ratio(per_round([&](int r) { return tc_u(mt, r); })) + " | **" +
            fmt_ratio(per_round([&](int r) { return both_ns(mt, r) / tr_xdp[r]; })) + "**";
        if (mark) {
            const auto &mm = s[std::string("xdp-mark: ") + p.name];
            cells += " | " + fmt_ratio(per_round([&](int r) { return xdp_u(mm, r); })) + " | " +
                     fmt_ratio(per_round([&](int r) { return tc_u(mm, r); })) + " | **" +
                     fmt_ratio(per_round([&](int r) { return both_ns(mm, r) / tr_xdp[r]; })) +
                     "** | " +
                     fmt_ratio(per_round([&](int r) { return both_ns(mm, r) / both_ns(mt, r); }));
            const auto &mf = s[std::string(kFails) + ": " + p.name];
            cells += " | " +
                     fmt_ratio(per_round([&](int r) { return both_ns(mf, r) / tr_xdp[r]; })) +
                     " | " +
                     fmt_ratio(per_round([&](int r) { return both_ns(mf, r) / both_ns(mt, r); }));
        } else {
            cells += " | not run | not run | not run | | not run | |";
        }
        printf("| %s | %s |\n", p.name.c_str(), cells.c_str());
    }
    for (const auto &ex : extra) {
        const Kind &k = fwd4(ex.mode);
        const std::string key = k.name + " [" + ex.label + "]";
        const auto &m = s[key];
        std::string note = notes.count(key) ? " (counted: " + notes[key] + ")" : "";
        std::string tcu = fmt_ratio(per_round([&](int r) { return tc_u(m, r); }));
        std::string both = fmt_ratio(per_round([&](int r) { return both_ns(m, r) / tr_xdp[r]; }));
        if (ex.mode == XI_HANDOFF_TC)
            printf("| %s [%s]%s | | %s | %s | | | | | | |\n", k.path.name.c_str(), ex.label.c_str(),
                   note.c_str(), tcu.c_str(), both.c_str());
        else
            printf("| %s [%s]%s | | | | | %s | %s | | | |\n", k.path.name.c_str(), ex.label.c_str(),
                   note.c_str(), tcu.c_str(), both.c_str());
    }
    printf("\nbpf_stats floors include its two clock reads, so its ratios are smaller than "
           "test_run ratios of the same code. \"test_run units\": the extra time over the "
           "empty program on the same hook (which bpf_stats measures without bias; XDP through "
           "the wrapper, whose cost is subtracted), plus the test_run floor, over the test_run "
           "floor (empty TC, resp. empty XDP, measured in the same round): comparable with the "
           "test_run sections and with Katran's figures. XDP + TC: both programs' extra work "
           "over the empty XDP program, per packet: the total cost of a hand-off mode. The "
           "paired columns are per-round ratios of the totals (below 1: cheaper than tc). "
           "\"marks fail\": xdp-mark where the driver gives XDP no metadata room (ena, gve, "
           "hv_netvsc, mana, vmxnet3; simulated with xdp_public's test switch): XDP decides, "
           "its mark fails (`mark_failed`), TC decides again. It leaves out the skb the stack "
           "builds between XDP and TC (see the rates).\n");
    printf("Floors for context only (not a claim): bpf_stats empty XDP %s ns, empty TC %s ns; "
           "test_run empty XDP %s ns, empty TC %s ns.\n",
           fmt_ns(summarize(e.xdp)).c_str(), fmt_ns(summarize(e.tc)).c_str(),
           fmt_ns(summarize(tr_xdp)).c_str(), fmt_ns(summarize(tr_tc)).c_str());
    auto facts = prog_facts(inst.at(XI_HANDOFF_TC)->prog(Prog::TcPublicIngress));
    printf("xi_tc_pub_in: %u xlated insns, %u bytes JITed, %u insns verified, %u maps.\n",
           facts.xlated, facts.jited, facts.verified, facts.maps);
    return 0;
}

} // namespace xi::bench
