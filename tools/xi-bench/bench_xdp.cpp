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

constexpr uint32_t kXdp = XI_HOOK_XDP_PUBLIC;

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
    Instance in(pin_dir_for(o, "steer"), steer_yaml(), "edge-0", true);
    XdpSkel h;
    const int ours = in.prog(Prog::XdpPublic);
    const int empty = bpf_program__fd(h.s->progs.xib_xdp_pass);
    const int wrap = bpf_program__fd(h.s->progs.xib_xdp_wrap);
    const int jmp = bpf_map__fd(h.s->maps.xib_xdp_jmp);
    auto aim = [jmp](int target) {
        return [jmp, target] {
            uint32_t zero = 0;
            if (bpf_map_update_elem(jmp, &zero, &target, BPF_ANY) != 0)
                throw Error("cannot set the tail call target", errno);
        };
    };
    // test_run rebuilds nothing between runs but the programs here change no packet bytes
    // (the counters prove every run took its path): the wrapper only resets the metadata.
    set_restore(bpf_map__fd(h.s->maps.xib_restore), nullptr);
    auto packets = xdp_packets(in);

    struct Path {
        std::string name;
        const Bytes *pkt;
        uint32_t reason;
        const char *katran;
    };
    std::vector<Path> paths = {
        {"non-VIP, IPv4", &packets.nonvip4, XI_R_PASS_NOT_VIP, "5.6x"},
        {"local owner, IPv4", &packets.local4, XI_R_LOCAL, ""},
        {"sibling owner (mark), IPv4", &packets.fwd4, XI_R_FORWARD, "10.9x (encap + XDP_TX)"},
        {"non-VIP, IPv6", &packets.nonvip6, XI_R_PASS_NOT_VIP, ""},
        {"local owner, IPv6", &packets.local6, XI_R_LOCAL, ""},
        {"sibling owner (mark), IPv6", &packets.fwd6, XI_R_FORWARD, ""},
    };

    std::vector<Case> cases;
    cases.push_back(make_case("empty", empty, packets.local4, nullptr, &in, {}));
    cases.push_back(make_case("floor", wrap, packets.local4, aim(empty), &in, {}));
    for (const auto &p : paths) {
        Case direct =
            make_case("direct " + p.name, ours, *p.pkt, nullptr, &in, {{{kXdp, p.reason}, 1}});
        // Without the wrapper the metadata area grows run after run: the direct run of a marked
        // path is not a measurement of that path, only shown to prove the point.
        direct.strict = p.reason != XI_R_FORWARD;
        cases.push_back(direct);
        cases.push_back(
            make_case("wrapped " + p.name, wrap, *p.pkt, aim(ours), &in, {{{kXdp, p.reason}, 1}}));
    }
    std::vector<std::pair<std::string, std::unique_ptr<ExtraObject>>> extra;
    for (const auto &spec : o.compare) {
        auto eq = spec.find('=');
        if (eq == std::string::npos)
            throw std::runtime_error("--compare wants LABEL=OBJECT");
        extra.emplace_back(spec.substr(0, eq),
                           std::make_unique<ExtraObject>(spec.substr(eq + 1), in));
        int fd = extra.back().second->prog("xi_xdp_public");
        for (const auto &p : paths) {
            cases.push_back(make_case("wrapped " + p.name + " [" + extra.back().first + "]", wrap,
                                      *p.pkt, aim(fd), &in, {{{kXdp, p.reason}, 1}}));
            cases.back().strict = false; // an experiment may count differently: shown, not fatal
        }
    }
    run_cases(o, cases);

    auto &e = find_case(cases, "empty");
    auto &f = find_case(cases, "floor");
    print_header("XDP steering cost (BPF_PROG_TEST_RUN, repeat " + std::to_string(o.repeat) + ", " +
                 std::to_string(o.rounds) + " rounds; ratio to an empty XDP program)");
    printf("| path | direct (raw) | wrapped (raw) | wrapped - wrapper | Katran, same method |\n");
    printf("|---|---|---|---|---|\n");
    printf("| empty XDP program (floor) | 1.00x | | | 1.00x |\n");
    printf("| wrapper + tail call into the empty program | | %s | 1.00x | |\n",
           fmt_ratio(ratio(f, e)).c_str());
    for (const auto &p : paths) {
        auto &d = find_case(cases, "direct " + p.name);
        auto &w = find_case(cases, "wrapped " + p.name);
        std::string direct = fmt_ratio(ratio(d, e));
        if (!d.note.empty())
            direct = "not this path: " + d.note;
        printf("| %s | %s | %s | **%s** | %s |\n", p.name.c_str(), direct.c_str(),
               fmt_ratio(ratio(w, e)).c_str(), fmt_ratio(corrected(w, f, e)).c_str(), p.katran);
    }
    for (const auto &[label, obj] : extra)
        for (const auto &p : paths) {
            auto &w = find_case(cases, "wrapped " + p.name + " [" + label + "]");
            auto &mine = find_case(cases, "wrapped " + p.name);
            std::vector<double> paired; // this build over the compared object, wrapper removed
            for (size_t r = 0; r < w.ns.size(); r++)
                paired.push_back((mine.ns[r] - f.ns[r] + e.ns[r]) / (w.ns[r] - f.ns[r] + e.ns[r]));
            std::string note = w.note.empty()
                                   ? "this build / " + label + ": " + fmt_ratio(summarize(paired))
                                   : "counted: " + w.note;
            printf("| %s [%s] | | %s | **%s** | %s |\n", p.name.c_str(), label.c_str(),
                   fmt_ratio(ratio(w, e)).c_str(), fmt_ratio(corrected(w, f, e)).c_str(),
                   note.c_str());
        }
    printf("\nwrapped - wrapper = (wrapped - (wrapper + empty) + empty) / empty, per round; "
           "median (min-max) over rounds.\n");
    printf("Floor for context only (not a claim): empty XDP %s ns/run, wrapper floor %s ns/run "
           "(thread CPU time / repeat). Kernel-reported ratio, local IPv4 direct: %s.\n",
           fmt_ns(summarize(e.ns)).c_str(), fmt_ns(summarize(f.ns)).c_str(),
           fmt_ratio(ratio_kernel(find_case(cases, "direct local owner, IPv4"), e)).c_str());
    auto facts = prog_facts(ours);
    printf("xi_xdp_public: %u xlated insns, %u bytes JITed, %u insns verified, %u maps.\n",
           facts.xlated, facts.jited, facts.verified, facts.maps);
    return 0;
}

} // namespace xi::bench
