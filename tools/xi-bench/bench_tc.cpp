// Section 1b: TC public ingress in the tc hand-off, by BPF_PROG_TEST_RUN on skbs.
//
// In the tc hand-off the TC program takes the whole steering decision on a plain packet, so an
// skb test_run measures it as it runs: non-VIP and local packets pass unchanged (repeat N on one
// skb, like the XDP section). A forwarded packet is encapsulated in place, and the encapsulation
// cannot be undone for the next run: a second BPF_F_ADJ_ROOM_ENCAP_L3_* on the same skb fails
// with -EALREADY (skb->encapsulation stays set; shrinking, with or without the DECAP flags, does
// not clear it: checked on 6.18). A wrapper can therefore not feed the program its input again,
// so the forwarded path, and every other path for comparison, is also measured on a fresh skb
// per run: test_runs with repeat 1, timed by bpf_stats, next to the empty TC program timed the
// same way. The TC side of the xdp-mark hand-off needs a real XDP mark: section live.
#include <bpf/bpf.h>
#include <cstdio>

#include "bench.h"
#include "xi_reasons.h"
#include "xib_tc.skel.h"

namespace xi::bench
{

int bench_tc(const Options &o)
{
    printf("Hand-off mode measured (tc): tc (the TC program decides; the xdp-mark TC side needs "
           "a real XDP mark: section live).\n");
    Instance in(pin_dir_for(o, "tcsteer"), steer_yaml(), "edge-0", true, XI_HANDOFF_TC);
    Skel<xib_tc, xib_tc__destroy> t(xib_tc__open_and_load());
    const int ours = in.prog(Prog::TcPublicIngress);
    const int empty = bpf_program__fd(t.s->progs.xib_tc_empty);
    auto packets = xdp_packets(in);
    auto paths = steer_paths(packets);

    std::vector<Case> cases;
    cases.push_back(make_case("empty", empty, packets.local4, nullptr, &in, {}));
    cases.push_back(make_case("fresh empty", empty, packets.local4, nullptr, &in, {}));
    cases.back().fresh = o.fresh;
    for (const auto &p : paths) {
        Counters want =
            steer_expect(XI_HANDOFF_TC, p.reason, p.forwarded(), XI_HOOK_TC_PUBLIC_INGRESS);
        Case direct = make_case("direct " + p.name, ours, *p.pkt, nullptr, &in, want);
        // Run 2 of a forwarded packet sees run 1's IPIP packet: not the path, shown as such.
        direct.strict = !p.forwarded();
        cases.push_back(direct);
        cases.push_back(make_case("fresh " + p.name, ours, *p.pkt, nullptr, &in, want));
        cases.back().fresh = o.fresh;
    }
    // --compare LABEL=OBJECT: another tc_public_ingress.bpf.o (variants.py's cut-short
    // programs), fresh skbs, IPv4 local and forwarded.
    std::vector<std::pair<std::string, std::unique_ptr<ExtraObject>>> extra;
    for (const auto &spec : o.compare) {
        auto eq = spec.find('=');
        if (eq == std::string::npos)
            throw std::runtime_error("--compare wants LABEL=OBJECT");
        extra.emplace_back(spec.substr(0, eq),
                           std::make_unique<ExtraObject>(spec.substr(eq + 1), in));
        int fd = extra.back().second->prog("xi_tc_pub_in");
        for (const auto &p : paths) {
            if (!p.v4() || p.reason == XI_R_PASS_NOT_VIP)
                continue;
            cases.push_back(make_case(
                compare_case_name("fresh", p.name, extra.back().first), fd, *p.pkt, nullptr, &in,
                steer_expect(XI_HANDOFF_TC, p.reason, p.forwarded(), XI_HOOK_TC_PUBLIC_INGRESS)));
            cases.back().fresh = o.fresh;
            cases.back().strict = false;
        }
    }
    run_cases(o, cases);

    auto &e = find_case(cases, "empty");
    auto &fe = find_case(cases, "fresh empty");
    print_header("TC public ingress, tc hand-off: the whole decision in TC (BPF_PROG_TEST_RUN on "
                 "skbs, repeat " +
                 std::to_string(o.repeat) + " / fresh skb x " + std::to_string(o.fresh) + ", " +
                 std::to_string(o.rounds) + " rounds; ratio to an empty TC program)");
    printf("| path | TC decides (direct, repeat: warm) | TC decides (+ encapsulates), fresh skb "
           "per run (cold) |\n");
    printf("|---|---|---|\n");
    printf("| empty TC program (floor) | 1.00x | 1.00x |\n");
    for (const auto &p : paths) {
        auto &d = find_case(cases, "direct " + p.name);
        auto &f = find_case(cases, "fresh " + p.name);
        std::string direct =
            d.note.empty() ? "**" + fmt_ratio(ratio(d, e)) + "**" : "not this path: " + d.note;
        printf("| %s | %s | %s |\n", p.name.c_str(), direct.c_str(),
               fmt_ratio(fresh_units(f, fe, e)).c_str());
    }
    print_compare_rows(
        cases, extra, paths, "fresh",
        [](const SteerPath &p) { return p.v4() && p.reason != XI_R_PASS_NOT_VIP; }, 1,
        [&](const Case &f) { return fresh_units(f, fe, e); }, 0);
    printf("\nDirect: one skb rerun `repeat` times, warm caches, like the XDP section; a "
           "forwarded packet comes back encapsulated on run 2, so that path has no direct "
           "figure (warm: section live, tc columns). Fresh skb: %u test_runs of repeat 1 per "
           "measurement, each on a new skb, timed by bpf_stats, in test_run units: (fresh - "
           "fresh empty + empty) / empty per round (bpf_stats' own clock reads cancel out). "
           "Every syscall in between evicts part of the program, its maps and the skb from the "
           "caches: this column is a cold-cache cost, for comparisons within the column.\n",
           o.fresh);
    printf("Floors for context only (not a claim): empty TC %s ns/run (thread CPU time / "
           "repeat), fresh empty TC %s ns/run (bpf_stats).\n",
           fmt_ns(summarize(e.ns)).c_str(), fmt_ns(summarize(fe.ns)).c_str());
    auto facts = prog_facts(ours);
    printf("xi_tc_pub_in: %u xlated insns, %u bytes JITed, %u insns verified, %u maps.\n",
           facts.xlated, facts.jited, facts.verified, facts.maps);
    return 0;
}

} // namespace xi::bench
