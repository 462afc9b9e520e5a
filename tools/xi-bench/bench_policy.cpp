// Section 2: mesh policy verdict cost by BPF_PROG_TEST_RUN on the L2 ingress entry, next to an
// empty TC program: a small config (10 rules) against a large one (10,000 rules, 100,000
// identity prefixes), loaded side by side in two scratch instances.
#include <bpf/bpf.h>
#include <chrono>
#include <cstdio>

#include "bench.h"
#include "scale_config.h"
#include "xi_reasons.h"
#include "xib_tc.skel.h"

namespace xi::bench
{

namespace
{

using test::Packet;

constexpr uint32_t kIn = XI_HOOK_TC_MESH_INGRESS;

struct TcSkel {
    xib_tc *s = xib_tc__open_and_load();
    TcSkel()
    {
        if (!s)
            throw Error("cannot load xib_tc (bench helpers)", errno);
    }
    ~TcSkel() { xib_tc__destroy(s); }
    TcSkel(const TcSkel &) = delete;
    TcSkel &operator=(const TcSkel &) = delete;
};

struct Rot {
    uint32_t sport_off, addr_off, seq, pad;
};

Packet flow(const BenchFlow &f, bool v6, uint16_t sport)
{
    Packet p = Packet().eth();
    if (v6)
        p.ipv6(f.src, f.dst);
    else
        p.ipv4(f.src, f.dst);
    return p.tcp(sport, f.dport);
}

// Bytes of a connection's opening SYN: the MSS option is below the mesh clamp, so the packet
// stays the same run after run while the clamp still walks the options.
Bytes syn(const BenchFlow &f, bool v6)
{
    return flow(f, v6, 40000).syn().mss(1200).build();
}

BenchFlow other_dst(BenchFlow f)
{
    // Same identities, another destination host: never one of the rotated new flows.
    auto dot = f.dst.find_last_of(".:");
    f.dst = f.dst.substr(0, dot + 1) + "8";
    return f;
}

} // namespace

int bench_policy(const Options &o, size_t prefixes, size_t rules)
{
    ScaleSpec small_spec;
    small_spec.identities = 10;
    small_spec.prefixes = 20;
    small_spec.rules = 10;
    ScaleSpec large_spec;
    large_spec.identities = 1000;
    large_spec.prefixes = prefixes;
    large_spec.rules = rules;
    large_spec.seed = 2;
    auto small = make_scale_config(small_spec);
    auto large = make_scale_config(large_spec);

    auto t0 = std::chrono::steady_clock::now();
    Instance in_small(pin_dir_for(o, "pol-small"), small.yaml, small.self_backend, false);
    Instance in_large(pin_dir_for(o, "pol-large"), large.yaml, large.self_backend, false);
    if (o.verbose)
        fprintf(stderr, "policy instances loaded in %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

    TcSkel h;
    const int empty = bpf_program__fd(h.s->progs.xib_tc_empty);
    const int wrap = bpf_program__fd(h.s->progs.xib_tc_wrap);
    const int jmp = bpf_map__fd(h.s->maps.xib_tc_jmp);
    const int rot = bpf_map__fd(h.s->maps.xib_rot);

    // Point the wrapper at `target`, rotating the source port and the last source address byte
    // of pkt (per-CPU sequence numbers continue across runs: every run sees new flows).
    // Offsets in our packets: Ethernet (14), IP without options or extension headers, TCP.
    auto wrapped = [=](int target, bool v6) {
        const uint32_t l3 = 14, l4 = v6 ? l3 + 40 : l3 + 20;
        const uint32_t addr_last = v6 ? l3 + 8 + 15 : l3 + 12 + 3; // last byte of the source
        return [=] {
            uint32_t zero = 0;
            if (bpf_map_update_elem(jmp, &zero, &target, BPF_ANY) != 0)
                throw Error("cannot set the tail call target", errno);
            std::vector<Rot> v(libbpf_num_possible_cpus());
            if (bpf_map_lookup_elem(rot, &zero, v.data()) != 0)
                throw Error("cannot read xib_rot", errno);
            for (auto &r : v) {
                r.sport_off = l4;
                r.addr_off = addr_last;
            }
            if (bpf_map_update_elem(rot, &zero, v.data(), BPF_ANY) != 0)
                throw Error("cannot write xib_rot", errno);
        };
    };

    struct Conf {
        std::string label;
        const ScaleConfig *cfg;
        const Instance *in;
    };
    std::vector<Conf> confs = {{"small", &small, &in_small}, {"large", &large, &in_large}};
    struct Kind {
        std::string name;
        uint32_t reason;
    };
    const std::vector<Kind> kinds = {
        {"new flow allowed by a rule (SYN; conntrack miss, rule, entry created)", XI_R_ALLOW_RULE},
        {"denied by a rule (SYN)", XI_R_DROP_RULE},
        {"default deny after four role-pair probes (SYN)", XI_R_DROP_DEFAULT},
        {"established flow, conntrack hit (ACK + 64 bytes)", XI_R_ALLOW_TRACKED},
    };

    std::vector<Case> cases;
    Bytes floor4 = syn(small.allow4, false), floor6 = syn(small.allow6, true);
    cases.push_back(make_case("empty", empty, floor4, nullptr, nullptr, {}));
    cases.push_back(make_case("floor v4", wrap, floor4, wrapped(empty, false), nullptr, {}));
    cases.push_back(make_case("floor v6", wrap, floor6, wrapped(empty, true), nullptr, {}));
    const int prog_small = in_small.prog(Prog::MeshIngress);
    const int prog_large = in_large.prog(Prog::MeshIngress);
    for (const auto &c : confs) {
        const int prog = c.in == &in_small ? prog_small : prog_large;
        for (bool v6 : {false, true}) {
            const auto &cf = *c.cfg;
            std::string fam = v6 ? " v6 " : " v4 ";
            Bytes allow = syn(v6 ? cf.allow6 : cf.allow4, v6);
            cases.push_back(make_case(c.label + fam + kinds[0].name, wrap, allow, wrapped(prog, v6),
                                      c.in, {{{kIn, kinds[0].reason}, 1}}));
            cases.push_back(make_case(c.label + fam + kinds[1].name, prog,
                                      syn(v6 ? cf.deny6 : cf.deny4, v6), nullptr, c.in,
                                      {{{kIn, kinds[1].reason}, 1}}));
            cases.push_back(make_case(c.label + fam + kinds[2].name, prog,
                                      syn(v6 ? cf.dflt6 : cf.dflt4, v6), nullptr, c.in,
                                      {{{kIn, kinds[2].reason}, 1}}));
            // The established flow: its first segment (picked up mid-stream by the allowing
            // rule) creates the entry; re-created before every run, since the new-flow runs
            // churn the LRU table.
            Bytes ack =
                flow(other_dst(v6 ? cf.allow6 : cf.allow4), v6, 40000).ack(1).payload(64).build();
            cases.push_back(make_case(c.label + fam + kinds[3].name, prog, ack,
                                      [prog, ack] {
                                          uint32_t ret = 0;
                                          test_run_once(prog, ack, &ret);
                                      },
                                      c.in, {{{kIn, kinds[3].reason}, 1}}));
        }
    }
    // --compare LABEL=OBJECT: another build of tc_mesh_ingress.bpf.o on the same maps (IPv4).
    std::vector<std::unique_ptr<ExtraObject>> extra;
    std::vector<std::string> labels;
    for (const auto &spec : o.compare) {
        auto eq = spec.find('=');
        if (eq == std::string::npos)
            throw std::runtime_error("--compare wants LABEL=OBJECT");
        labels.push_back(spec.substr(0, eq));
        for (const auto &c : confs) {
            extra.push_back(std::make_unique<ExtraObject>(spec.substr(eq + 1), *c.in));
            const int prog = extra.back()->prog("xi_mesh_in_l2");
            const auto &cf = *c.cfg;
            std::string pre = c.label + " v4 [" + labels.back() + "] ";
            Bytes allow = syn(cf.allow4, false);
            Bytes ack = flow(other_dst(cf.allow4), false, 40000).ack(1).payload(64).build();
            auto want = [&](size_t k) { return Counters{{{kIn, kinds[k].reason}, 1}}; };
            std::vector<Case> more = {
                make_case(pre + kinds[0].name, wrap, allow, wrapped(prog, false), c.in, want(0)),
                make_case(pre + kinds[1].name, prog, syn(cf.deny4, false), nullptr, c.in, want(1)),
                make_case(pre + kinds[2].name, prog, syn(cf.dflt4, false), nullptr, c.in, want(2)),
                make_case(
                    pre + kinds[3].name, prog, ack,
                    [prog, ack] {
                        uint32_t ret = 0;
                        test_run_once(prog, ack, &ret);
                    },
                    c.in, want(3))};
            for (auto &m : more) {
                m.strict = false;
                cases.push_back(std::move(m));
            }
        }
    }
    run_cases(o, cases);

    auto &e = find_case(cases, "empty");
    print_header("Mesh policy verdict cost (BPF_PROG_TEST_RUN on the L2 ingress entry, repeat " +
                 std::to_string(o.repeat) + ", " + std::to_string(o.rounds) +
                 " rounds; ratio to an empty TC program)");
    printf("small: %zu rules, %zu identities, %zu prefixes. large: %zu rules, %zu identities, %zu "
           "prefixes (IPv4 /24../32 and IPv6 /48../64, random, non-overlapping).\n\n",
           small.rules, small.identities, small.prefixes, large.rules, large.identities,
           large.prefixes);
    printf("| path | family | small | large | large / small |\n|---|---|---|---|---|\n");
    printf("| empty TC program (floor) | | 1.00x | 1.00x | |\n");
    for (bool v6 : {false, true}) {
        auto &fl = find_case(cases, v6 ? "floor v6" : "floor v4");
        printf("| wrapper (rotating the source) + tail call into the empty program | %s | %s | | "
               "|\n",
               v6 ? "IPv6" : "IPv4", fmt_ratio(ratio(fl, e)).c_str());
    }
    for (size_t k = 0; k < kinds.size(); k++)
        for (bool v6 : {false, true}) {
            std::string fam = v6 ? " v6 " : " v4 ";
            auto &s = find_case(cases, "small" + fam + kinds[k].name);
            auto &l = find_case(cases, "large" + fam + kinds[k].name);
            Summary rs, rl;
            std::vector<double> quot;
            if (k == 0) {
                auto &fl = find_case(cases, v6 ? "floor v6" : "floor v4");
                rs = corrected(s, fl, e);
                rl = corrected(l, fl, e);
                for (size_t r = 0; r < s.ns.size(); r++)
                    quot.push_back((l.ns[r] - fl.ns[r] + e.ns[r]) / (s.ns[r] - fl.ns[r] + e.ns[r]));
            } else {
                rs = ratio(s, e);
                rl = ratio(l, e);
                for (size_t r = 0; r < s.ns.size(); r++)
                    quot.push_back(l.ns[r] / s.ns[r]);
            }
            printf("| %s%s | %s | %s | %s | **%s** |\n", kinds[k].name.c_str(),
                   k == 0 ? " (wrapper subtracted)" : "", v6 ? "IPv6" : "IPv4",
                   fmt_ratio(rs).c_str(), fmt_ratio(rl).c_str(),
                   fmt_ratio(summarize(quot)).c_str());
        }
    for (const auto &label : labels)
        for (size_t k = 0; k < kinds.size(); k++) {
            auto &s = find_case(cases, "small v4 [" + label + "] " + kinds[k].name);
            auto &l = find_case(cases, "large v4 [" + label + "] " + kinds[k].name);
            auto &ms = find_case(cases, "small v4 " + kinds[k].name);
            auto &ml = find_case(cases, "large v4 " + kinds[k].name);
            auto &fl = find_case(cases, "floor v4");
            Summary rs = k == 0 ? corrected(s, fl, e) : ratio(s, e);
            Summary rl = k == 0 ? corrected(l, fl, e) : ratio(l, e);
            // Paired, per round: this build's cost over the compared object's.
            auto paired = [&](const Case &mine, const Case &other) {
                std::vector<double> v;
                for (size_t r = 0; r < mine.ns.size(); r++) {
                    double sub = k == 0 ? fl.ns[r] - e.ns[r] : 0;
                    v.push_back((mine.ns[r] - sub) / (other.ns[r] - sub));
                }
                return fmt_ratio(summarize(v));
            };
            std::string note =
                "this build / " + label + ": small " + paired(ms, s) + ", large " + paired(ml, l);
            if (!s.note.empty() || !l.note.empty())
                note = "counted: small " + s.note + ", large " + l.note;
            printf("| [%s] %s | IPv4 | %s | %s | %s |\n", label.c_str(), kinds[k].name.c_str(),
                   fmt_ratio(rs).c_str(), fmt_ratio(rl).c_str(), note.c_str());
        }
    printf("\nFloor for context only (not a claim): empty TC %s ns/run (thread CPU time / "
           "repeat).\n",
           fmt_ns(summarize(e.ns)).c_str());
    auto facts = prog_facts(prog_large);
    printf("xi_mesh_in_l2: %u xlated insns, %u bytes JITed, %u insns verified, %u maps.\n",
           facts.xlated, facts.jited, facts.verified, facts.maps);
    return 0;
}

} // namespace xi::bench
