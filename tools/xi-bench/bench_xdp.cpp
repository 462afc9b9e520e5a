// Section 1: XDP steering cost by BPF_PROG_TEST_RUN, next to an empty XDP program.
#include <bpf/bpf.h>
#include <cstdio>
#include <netinet/in.h>

#include "bench.h"
#include "owner.h"
#include "scale_config.h"
#include "xi_reasons.h"
#include "xib_xdp.skel.h"

namespace xi::bench
{

namespace
{

using test::Packet;

struct XdpSkel {
    xib_xdp *s = xib_xdp__open_and_load();
    XdpSkel()
    {
        if (!s)
            throw Error("cannot load xib_xdp (bench helpers)", errno);
    }
    ~XdpSkel() { xib_xdp__destroy(s); }
    XdpSkel(const XdpSkel &) = delete;
    XdpSkel &operator=(const XdpSkel &) = delete;
};

Packet client4(uint16_t sport, const std::string &dst)
{
    return Packet().eth().ipv4("203.0.113.7", dst).tcp(sport, 443).ack().payload(64);
}

Packet client6(uint16_t sport, const std::string &dst)
{
    return Packet().eth().ipv6("2001:db8:ffff::7", dst).tcp(sport, 443).ack().payload(64);
}

// A client port whose flow to vip:443 is owned by this edge (self) or by a sibling.
uint16_t port_for(const Instance &in, const std::string &client, const std::string &vip, bool self)
{
    const uint16_t me = in.gen().cfg.self_node;
    for (uint16_t p = 20000; p < 65000; p++) {
        FlowTuple t{*IpAddr::parse(client), *IpAddr::parse(vip), p, 443, IPPROTO_TCP};
        uint16_t owner = flow_owner(in.gen(), t);
        if ((owner == me) == self && owner != XI_NODE_NONE)
            return p;
    }
    throw std::runtime_error("no client port with the wanted owner");
}

} // namespace

void set_restore(int map_fd, const Bytes *pkt)
{
    struct {
        uint32_t len;
        uint8_t bytes[64];
    } v{};
    if (pkt) {
        if (pkt->size() < sizeof(v.bytes))
            throw std::logic_error("bench packets are at least 64 bytes");
        v.len = sizeof(v.bytes);
        std::copy(pkt->begin(), pkt->begin() + sizeof(v.bytes), v.bytes);
    }
    uint32_t zero = 0;
    if (bpf_map_update_elem(map_fd, &zero, &v, BPF_ANY) != 0)
        throw Error("cannot write xib_restore", errno);
}

XdpPackets xdp_packets(const Instance &in)
{
    XdpPackets p;
    p.nonvip4 = client4(40000, "203.0.113.99").build();
    p.local4 = client4(port_for(in, "203.0.113.7", "198.51.100.10", true), "198.51.100.10").build();
    p.fwd4 = client4(port_for(in, "203.0.113.7", "198.51.100.10", false), "198.51.100.10").build();
    p.nonvip6 = client6(40000, "2001:db8:ffff::99").build();
    p.local6 =
        client6(port_for(in, "2001:db8:ffff::7", "2001:db8:100::10", true), "2001:db8:100::10")
            .build();
    p.fwd6 =
        client6(port_for(in, "2001:db8:ffff::7", "2001:db8:100::10", false), "2001:db8:100::10")
            .build();
    return p;
}

std::string steer_yaml()
{
    ScaleSpec s;
    s.edges = 8;
    s.identities = 6;
    s.prefixes = 12;
    s.rules = 2;
    return make_scale_config(s).yaml;
}

int bench_xdp(const Options &o)
{
    const auto modes = runnable_modes("xdp");
    XdpSkel h;
    const int empty = bpf_program__fd(h.s->progs.xib_xdp_pass);
    const int wrap = bpf_program__fd(h.s->progs.xib_xdp_wrap);
    const int jmp = bpf_map__fd(h.s->maps.xib_xdp_jmp);
    auto aim = [jmp](int target) { return [jmp, target] { set_jump(jmp, target); }; };
    // The programs here change no packet bytes (the counters prove every run took its path):
    // the wrapper only resets the metadata.
    set_restore(bpf_map__fd(h.s->maps.xib_restore), nullptr);

    // One scratch instance per hand-off mode: xi_handoff is .rodata, fixed at load.
    std::map<uint8_t, std::unique_ptr<Instance>> inst;
    for (uint8_t m : modes)
        inst[m] = std::make_unique<Instance>(pin_dir_for(o, std::string("steer-") + mode_label(m)),
                                             steer_yaml(), "edge-0", true, m);
    const Instance &in0 = *inst.at(XI_HANDOFF_TC);
    auto packets = xdp_packets(in0); // same config, same table: same ports in every mode
    auto paths = steer_paths(packets);
    const char *katran[] = {"5.6x", "", "10.9x (encap + XDP_TX)", "", "", ""};

    std::vector<Case> cases;
    cases.push_back(make_case("empty", empty, packets.local4, nullptr, &in0, {}));
    cases.push_back(make_case("floor", wrap, packets.local4, aim(empty), &in0, {}));
    for (uint8_t m : modes) {
        const Instance &in = *inst.at(m);
        const int ours = in.prog(Prog::XdpPublic);
        const std::string ml = mode_label(m);
        for (const auto &p : paths) {
            Counters want = steer_expect(m, p.reason, p.forwarded(), XI_HOOK_XDP_PUBLIC);
            Case direct = make_case(ml + " direct " + p.name, ours, *p.pkt, nullptr, &in, want);
            // xdp-mark grows the metadata area run after run: its direct runs are not a
            // measurement of the path, only shown to prove the point.
            direct.strict = m == XI_HANDOFF_TC;
            cases.push_back(direct);
            if (m != XI_HANDOFF_TC)
                cases.push_back(
                    make_case(ml + " wrapped " + p.name, wrap, *p.pkt, aim(ours), &in, want));
        }
    }
    // --compare: experiments (variants.py) are decide-and-mark programs: measured in xdp-mark
    // mode (IPv4 paths), or in tc mode where this kernel has no xdp-mark.
    const uint8_t cmp_mode = modes.back();
    std::vector<std::pair<std::string, std::unique_ptr<ExtraObject>>> extra;
    for (const auto &spec : o.compare) {
        auto eq = spec.find('=');
        if (eq == std::string::npos)
            throw std::runtime_error("--compare wants LABEL=OBJECT");
        extra.emplace_back(
            spec.substr(0, eq),
            std::make_unique<ExtraObject>(spec.substr(eq + 1), *inst.at(cmp_mode), cmp_mode));
        int fd = extra.back().second->prog("xi_xdp_public");
        for (const auto &p : paths) {
            if (!p.v4())
                continue;
            cases.push_back(
                make_case(compare_case_name("wrapped", p.name, extra.back().first), wrap, *p.pkt,
                          aim(fd), inst.at(cmp_mode).get(),
                          steer_expect(cmp_mode, p.reason, p.forwarded(), XI_HOOK_XDP_PUBLIC)));
            cases.back().strict = false; // an experiment may count differently: shown, not fatal
        }
    }
    run_cases(o, cases);

    auto &e = find_case(cases, "empty");
    auto &f = find_case(cases, "floor");
    const bool mark = inst.count(XI_HANDOFF_XDP_MARK) > 0;
    print_header("XDP steering cost per hand-off mode (BPF_PROG_TEST_RUN, repeat " +
                 std::to_string(o.repeat) + ", " + std::to_string(o.rounds) +
                 " rounds; ratio to an empty XDP program)");
    printf("| path | tc: XDP drops malformed only (direct) | xdp-mark: decide + mark (wrapped - "
           "wrapper) | xdp-mark direct (raw) | Katran, same method |\n");
    printf("|---|---|---|---|---|\n");
    printf("| empty XDP program (floor) | 1.00x | 1.00x | 1.00x | 1.00x |\n");
    printf("| wrapper + tail call into the empty program | | %s (raw) | | |\n",
           fmt_ratio(ratio(f, e)).c_str());
    for (size_t i = 0; i < paths.size(); i++) {
        const auto &p = paths[i];
        auto &td = find_case(cases, "tc direct " + p.name);
        std::string mw = "not run", md = "not run";
        if (mark) {
            auto &w = find_case(cases, "xdp-mark wrapped " + p.name);
            auto &d = find_case(cases, "xdp-mark direct " + p.name);
            mw = "**" + fmt_ratio(corrected(w, f, e)) + "**";
            md = d.note.empty() ? fmt_ratio(ratio(d, e)) : "not this path: " + d.note;
        }
        printf("| %s | **%s** | %s | %s | %s |\n", p.name.c_str(), fmt_ratio(ratio(td, e)).c_str(),
               mw.c_str(), md.c_str(), katran[i]);
    }
    print_compare_rows(
        cases, extra, paths, "wrapped", [](const SteerPath &p) { return p.v4(); }, 1,
        [&](const Case &w) { return corrected(w, f, e); }, 2);
    printf("\ntc: the XDP program of the tc hand-off parses and drops malformed packets; every "
           "other packet goes on unmarked (counted `tc_decides`) and TC decides it (next table). "
           "xdp-mark: XDP decides and writes its decision into the metadata area (forward: owner; "
           "local and non-VIP: \"stays here\"), run through the wrapper that removes the "
           "metadata again: wrapped - wrapper = (wrapped - (wrapper + empty) + empty) / empty, "
           "per round; its direct runs show why the wrapper is needed. Median (min-max) over "
           "rounds.\n");
    printf("Floor for context only (not a claim): empty XDP %s ns/run, wrapper floor %s ns/run "
           "(thread CPU time / repeat). Kernel-reported ratio, tc mode local IPv4 direct: %s.\n",
           fmt_ns(summarize(e.ns)).c_str(), fmt_ns(summarize(f.ns)).c_str(),
           fmt_ratio(ratio_kernel(find_case(cases, "tc direct local owner, IPv4"), e)).c_str());
    for (uint8_t m : modes) {
        auto facts = prog_facts(inst.at(m)->prog(Prog::XdpPublic));
        printf("xi_xdp_public (%s): %u xlated insns, %u bytes JITed, %u insns verified, %u "
               "maps.\n",
               mode_label(m), facts.xlated, facts.jited, facts.verified, facts.maps);
    }
    return 0;
}

} // namespace xi::bench
