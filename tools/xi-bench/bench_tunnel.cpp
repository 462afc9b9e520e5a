// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Section "tunnels" (issue #12): what the mesh hooks' look into tunnels costs. The same packets
// through tc_mesh_ingress (L2 entry) of two instances side by side, one with
// `tunnels: {inspect: enforce}`, one with `inspect: off`, next to an empty TC program: a VXLAN
// packet of a tracked flow (the common overlay case: conntrack hit, then the inner header
// read), a GRE packet, and a plain UDP packet of a tracked flow (what every other packet pays:
// a flag and a port compare). Then the metadata guard: mesh ingress marking what it passes
// (an instance with `metadata_guard: {mode: off}` beside), and the guard's own cost on a
// packet nobody marked (what every packet on every other interface pays).
#include <bpf/bpf.h>
#include <cstdio>

#include "bench.h"
#include "tunnel_packets.h"
#include "xi_reasons.h"
#include "xib_tc.skel.h"

namespace xi::bench
{

namespace
{

using test::Packet;

constexpr uint32_t kIn = XI_HOOK_TC_MESH_INGRESS;

// tunnel_config (tests/lib/tunnel_packets.h): app-1 and app-2 may run overlays between them.
std::string overlay_config(const char *inspect)
{
    return test::tunnel_config(std::string("tunnels: {inspect: ") + inspect + "}\n");
}

// Between app-2 and app-1 (arriving at app-1) an overlay's packets: VXLAN with an Ethernet
// frame inside, GRE with a key and an IPv4 packet inside, neither bound for a metadata address.
Bytes vxlan_packet()
{
    return test::over_udp(true, false, 4789, test::vxlan(test::frame4("10.244.2.9")));
}

Bytes gre_packet()
{
    return test::over_gre(true, false, test::gre(0x2000, 0x0800, test::inner4("10.244.2.9")));
}

Bytes plain_packet()
{
    return Packet().eth().ipv4("10.201.0.2", "10.201.0.1").udp(40001, 5000).payload(114).build();
}

// A UDP flow is tracked after its first packet: run it once before every measurement, so
// every measured run is a conntrack hit.
std::function<void()> prime(int prog, const Bytes &pkt)
{
    return [prog, pkt] {
        uint32_t ret = 0;
        test_run_once(prog, pkt, &ret);
    };
}

} // namespace

int bench_tunnel(const Options &o)
{
    Instance on(pin_dir_for(o, "tun-on"), overlay_config("enforce"), "app-1", false);
    Instance off(pin_dir_for(o, "tun-off"), overlay_config("off"), "app-1", false);
    Instance unguarded(pin_dir_for(o, "tun-unguarded"),
                       test::tunnel_config("metadata_guard: {mode: off}\n"), "app-1", false);
    xib_tc *h = xib_tc__open_and_load();
    if (!h)
        throw Error("cannot load xib_tc (bench helpers)", errno);
    std::unique_ptr<xib_tc, void (*)(xib_tc *)> guard(h, xib_tc__destroy);
    const int empty = bpf_program__fd(h->progs.xib_tc_empty);

    struct Kind {
        std::string name;
        Bytes pkt;
        uint32_t reason;
    };
    const std::vector<Kind> kinds = {
        {"VXLAN, tracked flow", vxlan_packet(), XI_R_ALLOW_TRACKED},
        {"GRE (untracked protocol: rule)", gre_packet(), XI_R_ALLOW_RULE},
        {"plain UDP, tracked flow", plain_packet(), XI_R_ALLOW_TRACKED},
    };
    std::vector<Case> cases;
    cases.push_back(make_case("empty", empty, kinds[0].pkt, nullptr, nullptr, {}));
    for (const auto &k : kinds)
        for (const Instance *in : {&on, &off}) {
            const int prog = in->prog(Prog::MeshIngress);
            cases.push_back(make_case((in == &on ? "on " : "off ") + k.name, prog, k.pkt,
                                      prime(prog, k.pkt), in, {{{kIn, k.reason}, 1}}));
        }
    const auto &plain = kinds[2];
    const int unguarded_in = unguarded.prog(Prog::MeshIngress);
    cases.push_back(make_case("guard off " + plain.name, unguarded_in, plain.pkt,
                              prime(unguarded_in, plain.pkt), &unguarded,
                              {{{kIn, plain.reason}, 1}}));
    cases.push_back(make_case("guard egress, unmarked", on.prog(Prog::GuardEgressL2), plain.pkt,
                              nullptr, &on, {}));
    run_cases(o, cases);

    auto &e = find_case(cases, "empty");
    print_header("Tunnel inspection on the mesh (BPF_PROG_TEST_RUN on the L2 ingress entry, "
                 "repeat " +
                 std::to_string(o.repeat) + ", " + std::to_string(o.rounds) +
                 " rounds; ratio to an empty TC program)");
    printf("| packet | inspect: off | inspect: enforce | enforce / off |\n|---|---|---|---|\n");
    for (const auto &k : kinds) {
        auto &a = find_case(cases, "off " + k.name);
        auto &b = find_case(cases, "on " + k.name);
        printf("| %s | %s | %s | **%s** |\n", k.name.c_str(), fmt_ratio(ratio(a, e)).c_str(),
               fmt_ratio(ratio(b, e)).c_str(), fmt_ratio(ratio(b, a)).c_str());
    }
    printf("\nAll three pass (the overlay rule allows apps to apps): the inner destination is no "
           "metadata address, so what is measured is the look alone.\n");

    auto &marking = find_case(cases, "on " + plain.name);
    auto &unmarking = find_case(cases, "guard off " + plain.name);
    auto &guard_out = find_case(cases, "guard egress, unmarked");
    print_header("The metadata guard (same run; ratio to the empty TC program)");
    printf("| what | ratio to empty | ratio |\n|---|---|---|\n");
    printf("| mesh ingress, %s: guard off | %s | |\n", plain.name.c_str(),
           fmt_ratio(ratio(unmarking, e)).c_str());
    printf("| mesh ingress, %s: guard enforce (marks) | %s | **%s** enforce / off |\n",
           plain.name.c_str(), fmt_ratio(ratio(marking, e)).c_str(),
           fmt_ratio(ratio(marking, unmarking)).c_str());
    printf("| guard egress, a packet nobody marked | %s | |\n",
           fmt_ratio(ratio(guard_out, e)).c_str());
    return 0;
}

} // namespace xi::bench
