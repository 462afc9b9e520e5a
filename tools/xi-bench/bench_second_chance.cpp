// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Section "second-chance" (issue #13): what asking the socket table costs on the owner's hot
// path. Two instances side by side on TC public ingress: edge-a in a settled fleet (no previous
// owners), and edge-a joining it (every slot it owns has a previous owner). The same packets:
// an ACK of an established connection (settled: local; joining: the lookup finds the socket,
// second_chance_held) and an ACK no socket holds (settled: local too, the stack would reset it;
// joining: second_chance_out, encapsulated for the previous owner, fresh skb per run), next to
// a plain forward to a sibling (the settled fleet's own encapsulation) and an empty TC program.
// test_run looks sockets up in the calling thread's network namespace: the section runs in a
// throwaway one whose lo carries the VIP and the connection.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cstdio>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "fleet_yaml.h"
#include "netns_command.h"
#include "owner.h"
#include "packet.h"
#include "scoped_fd.h"
#include "xi_hash.h"
#include "xi_reasons.h"
#include "xib_tc.skel.h"

namespace xi::bench
{

namespace
{

using test::Packet;

constexpr uint16_t kPort = 443;
constexpr uint32_t kHook = XI_HOOK_TC_PUBLIC_INGRESS;

std::string fleet(bool joining)
{
    return test::fleet_yaml_head("0x5c") + test::kEdgeANode +
           (joining ? "    state: joining\n" : "") + test::kEdgeBCNodes + test::kApp1Node +
           test::kWeb443Vip + R"(identities:
  edges: [10.200.0.0/24, fd00:200::/64]
  apps: [10.201.0.0/24]
default:
  ingress: deny
  egress: allow
)";
}

// The namespace the section runs in, removed with it.
struct Sandbox {
    std::string name = "xibench-sc-" + std::to_string(getpid());
    Sandbox()
    {
        test::must_run({"ip", "netns", "add", name});
        test::must_run({"ip", "link", "set", "lo", "up"}, name);
        test::must_run({"ip", "addr", "add", "198.51.100.10/32", "dev", "lo"}, name);
    }
    ~Sandbox() { test::run_command({"ip", "netns", "del", name}, nullptr); }
};

// A client port whose flow to the VIP the instance's table gives to `node` (with or without a
// previous owner), from `from` on.
uint16_t port_of(const Instance &in, uint16_t node, bool moved, uint16_t from)
{
    const GenContent &g = in.gen();
    for (uint32_t sport = from; sport < 65000; sport++) {
        FlowTuple t;
        t.src = *IpAddr::parse("127.0.0.1");
        t.dst = *IpAddr::parse("198.51.100.10");
        t.sport = static_cast<uint16_t>(sport);
        t.dport = kPort;
        t.proto = IPPROTO_TCP;
        uint32_t e = g.maglev[xi_maglev_slot(flow_hash(t, g.cfg.seed), g.cfg.table_size)];
        if (XI_MAGLEV_OWNER(e) == node && (XI_MAGLEV_PREV(e) != XI_NODE_NONE) == moved)
            return static_cast<uint16_t>(sport);
    }
    throw std::runtime_error("second-chance: no client port with the wanted owner");
}

Bytes ack(uint16_t sport)
{
    return Packet().eth().ipv4("127.0.0.1", "198.51.100.10").tcp(sport, kPort).ack().build();
}

sockaddr_in v4(const char *a, uint16_t port)
{
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_port = htons(port);
    inet_pton(AF_INET, a, &s.sin_addr);
    return s;
}

} // namespace

int bench_second_chance(const Options &o)
{
    Sandbox box;
    test::ScopedNetns inside(box.name);
    Instance settled(pin_dir_for(o, "sc-settled"), fleet(false), "edge-a", true, XI_HANDOFF_TC);
    Instance joining(pin_dir_for(o, "sc-joining"), fleet(true), "edge-a", true, XI_HANDOFF_TC);
    Skel<xib_tc, xib_tc__destroy> t(xib_tc__open_and_load());
    const int empty = bpf_program__fd(t.s->progs.xib_tc_empty);

    // Owned by edge-a in both tables (joining's owners are the settled table's), moved in the
    // joining one: one port with an established connection, one without.
    const uint16_t self = joining.node_slot("edge-a");
    const uint16_t held = port_of(joining, self, true, 20000);
    const uint16_t lost = port_of(joining, self, true, held + 1);
    const uint16_t fwd = port_of(settled, settled.node_slot("edge-b"), false, 20000);
    test::Fd lst(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)),
        cl(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto la = v4("198.51.100.10", kPort), ca = v4("127.0.0.1", held);
    if (bind(lst.get(), reinterpret_cast<sockaddr *>(&la), sizeof(la)) || listen(lst.get(), 4) ||
        bind(cl.get(), reinterpret_cast<sockaddr *>(&ca), sizeof(ca)) ||
        connect(cl.get(), reinterpret_cast<sockaddr *>(&la), sizeof(la)))
        throw Error("second-chance: cannot set up the connection", errno);

    const int pin_settled = settled.prog(Prog::TcPublicIngress);
    const int pin_joining = joining.prog(Prog::TcPublicIngress);
    std::vector<Case> cases;
    cases.push_back(make_case("empty", empty, ack(held), nullptr, nullptr, {}));
    cases.push_back(make_case("fresh empty", empty, ack(held), nullptr, nullptr, {}));
    cases.back().fresh = o.fresh;
    cases.push_back(make_case("settled local", pin_settled, ack(held), nullptr, &settled,
                              {{{kHook, XI_R_LOCAL}, 1}}));
    cases.push_back(make_case("joining held", pin_joining, ack(held), nullptr, &joining,
                              {{{kHook, XI_R_SECOND_CHANCE_HELD}, 1}}));
    cases.push_back(make_case("settled lost", pin_settled, ack(lost), nullptr, &settled,
                              {{{kHook, XI_R_LOCAL}, 1}}));
    cases.push_back(make_case("fresh settled forward", pin_settled, ack(fwd), nullptr, &settled,
                              {{{kHook, XI_R_FORWARD}, 1}, {{kHook, XI_R_REDIRECT}, 1}}));
    cases.back().fresh = o.fresh;
    cases.push_back(make_case("fresh joining out", pin_joining, ack(lost), nullptr, &joining,
                              {{{kHook, XI_R_SECOND_CHANCE_OUT}, 1}, {{kHook, XI_R_REDIRECT}, 1}}));
    cases.back().fresh = o.fresh;
    run_cases(o, cases);

    auto &e = find_case(cases, "empty");
    auto &fe = find_case(cases, "fresh empty");
    auto &local = find_case(cases, "settled local");
    auto &hit = find_case(cases, "joining held");
    auto &lost_local = find_case(cases, "settled lost");
    auto &forward = find_case(cases, "fresh settled forward");
    auto &out = find_case(cases, "fresh joining out");
    print_header("Second chance on the owner (TC public ingress, tc hand-off, BPF_PROG_TEST_RUN; "
                 "repeat " +
                 std::to_string(o.repeat) + " / fresh skb x " + std::to_string(o.fresh) + ", " +
                 std::to_string(o.rounds) + " rounds; ratio to an empty TC program)");
    printf("| packet | settled fleet | edge-a joining (slot moved) | joining / settled |\n");
    printf("|---|---|---|---|\n");
    printf("| ACK of an established connection | %s (local) | %s (second_chance_held) | **%s** |\n",
           fmt_ratio(ratio(local, e)).c_str(), fmt_ratio(ratio(hit, e)).c_str(),
           fmt_ratio(ratio(hit, local)).c_str());
    printf("| ACK no socket holds, fresh skb | %s (local: the stack resets it) | %s "
           "(second_chance_out + encapsulation) | |\n",
           fmt_ratio(ratio(lost_local, e)).c_str(), fmt_ratio(fresh_units(out, fe, e)).c_str());
    printf("| plain forward to a sibling, fresh skb | %s (forward + encapsulation) | | |\n",
           fmt_ratio(fresh_units(forward, fe, e)).c_str());
    printf("\nOnly packets of moved slots pay the lookup; every other packet of either fleet "
           "takes the settled path.\n");
    return 0;
}

} // namespace xi::bench
