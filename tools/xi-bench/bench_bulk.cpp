// Section 6: BPF time per MB of a bulk TCP transfer through the forward path.
//
// Three network namespaces, one real TCP connection at a time, every packet of it steered:
//
//   client eth0 203.0.113.2 ── pub0 203.0.113.1  edge A (edge-0: XDP native + TC ingress on pub0)
//          eth1 198.18.0.2 ─┐   mesh0 ── mesh0   edge B (edge-1: the mesh ingress program
//                           └── pub0 198.18.0.1          decapsulates; VIP on lo; TCP server)
//
// The client sends to the VIP through A. Every flow used is owned by B, so A's programs forward
// every packet: XDP (native, so GRO on pub0 runs after it, as on a NIC) and TC ingress (decide or
// act on the mark, encapsulate, bpf_redirect into mesh0). B's mesh ingress program decapsulates
// and B's stack delivers to the server, which answers directly (DSR) through its own pub0; its
// route to the client advertises MSS 1360 so every encapsulated segment fits the 1420-byte mesh.
// A's mesh0 segments the encapsulated GSO packets in software, as wg0 would.
//
// Per hand-off mode and GRO setting on A's pub0 (on: TC sees GRO super-packets; off: TC
// encapsulates every wire packet), run_time_ns and run_cnt of A's two programs (bpf_stats, only
// while a transfer runs) per MB of payload. Every transfer is bounded in bytes and time, must
// deliver every byte (the server answers with its count), and must leave A's and B's counters
// without a drop.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <type_traits>
#include <unistd.h>

#include "bench.h"
#include "bulk_tcp.h"
#include "xi_reasons.h"
#include "xib_tc.skel.h"
#include "xib_xdp.skel.h"

namespace xi::bench
{

namespace
{

constexpr const char *kClient = "203.0.113.2";
constexpr const char *kVip = "198.51.100.10";
constexpr uint16_t kPort = 443;
constexpr const char *kPubMac = "02:00:00:00:0a:01"; // A's pub0, and B's mesh0 (see below)
constexpr double kMB = 1e6;                          // per MB = per 10^6 bytes of TCP payload

void ip(const Netns &ns, const std::string &args)
{
    std::vector<std::string> argv{"ip", "-n", ns.name()};
    size_t pos = 0;
    while (pos < args.size()) {
        size_t sp = args.find(' ', pos);
        if (sp == std::string::npos)
            sp = args.size();
        if (sp > pos)
            argv.push_back(args.substr(pos, sp - pos));
        pos = sp + 1;
    }
    run_cmd(argv);
}

void nsexec(const Netns &ns, std::vector<std::string> argv)
{
    argv.insert(argv.begin(), {"ip", "netns", "exec", ns.name()});
    run_cmd(argv);
}

// Counters with any drop reason, or "".
std::string drops(const Counters &d)
{
    Counters bad;
    for (const auto &[k, v] : d)
        if (k.second >= XI_DROP_BASE || k.second == XI_R_MARK_FAILED)
            bad[k] = v;
    return bad.empty() ? "" : describe(bad);
}

uint64_t count(const Counters &d, uint32_t hook, uint32_t reason)
{
    auto it = d.find({hook, reason});
    return it == d.end() ? 0 : it->second;
}

struct Sample {
    double mb = 0, seconds = 0;
    uint64_t xdp_runs = 0, xdp_ns = 0, tc_runs = 0, tc_ns = 0;
};

} // namespace

int bench_bulk(const Options &o, uint32_t megabytes, double max_seconds)
{
    const auto modes = runnable_modes("bulk");
    Netns cl(o.tag + "-cl"), a(o.tag + "-a"), b(o.tag + "-b");
    for (Netns *n : {&cl, &a, &b})
        // Loose everywhere: the client gets the VIP's answers on eth1 (DSR), B gets client
        // packets on mesh0 (decapsulated) while it routes the client via pub0.
        nsexec(*n, {"sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0"});
    veth_between(cl, "eth0", a, "pub0");
    veth_between(a, "mesh0", b, "mesh0");
    veth_between(cl, "eth1", b, "pub0");
    // The encapsulated frames keep the client's Ethernet header (to A's pub0): B's mesh0 takes
    // that address, so its stack sees them as addressed to it (a veth is L2; wg0 is L3 and has
    // no such question).
    ip(a, std::string("link set pub0 address ") + kPubMac);
    ip(b, std::string("link set mesh0 address ") + kPubMac);
    ip(cl, "addr add 203.0.113.2/24 dev eth0");
    ip(cl, "addr add 198.18.0.2/24 dev eth1");
    ip(cl, std::string("route add ") + kVip + "/32 via 203.0.113.1 dev eth0");
    ip(a, "addr add 203.0.113.1/24 dev pub0");
    ip(b, "addr add 198.18.0.1/24 dev pub0");
    for (Netns *n : {&a, &b})
        ip(*n, std::string("addr add ") + kVip + "/32 dev lo"); // anycast: the VIP on every edge
    // MSS 1360 from both servers: client segments fit the 1420-byte mesh once encapsulated (the
    // product clamps the VIP's SYN-ACK on the public TC egress; a route attribute does the same
    // here), and local and forwarded transfers move the same segments.
    ip(b, "route add 203.0.113.0/24 via 198.18.0.2 dev pub0 advmss 1360");
    ip(a, "route add 203.0.113.2/32 dev pub0 advmss 1360");
    // Real checksums from the client (a NIC delivers them); A's mesh0 segments the IPIP GSO
    // packets in software like wg0, so B receives wire-sized packets.
    nsexec(cl, {"ethtool", "-K", "eth0", "tx", "off"});
    nsexec(a, {"ethtool", "-K", "mesh0", "tx", "off", "tx-ipxip4-segmentation", "off",
               "tx-ipxip6-segmentation", "off"});

    std::map<uint8_t, std::unique_ptr<Instance>> ina;
    for (uint8_t m : modes)
        ina[m] = std::make_unique<Instance>(pin_dir_for(o, std::string("bulk-a-") + mode_label(m)),
                                            steer_yaml(), "edge-0", true, m);
    Instance inb(pin_dir_for(o, "bulk-b"), steer_yaml(), "edge-1", true, XI_HANDOFF_TC);
    const Instance &in0 = *ina.at(XI_HANDOFF_TC);

    Skel<xib_xdp, xib_xdp__destroy> x(xib_xdp__open_and_load());
    Skel<xib_tc, xib_tc__destroy> t(xib_tc__open_and_load());
    const int xdp_empty = bpf_program__fd(x.s->progs.xib_xdp_pass);
    const int tc_empty = bpf_program__fd(t.s->progs.xib_tc_empty);

    // Attachments, each made in (and, for clsact, detached from) its namespace.
    const uint8_t m0 = modes.front();
    std::unique_ptr<Link> xdp;
    std::unique_ptr<TcIngress> tc, mesh, cal_tc;
    uint32_t cal_if = 0;
    in_ns(a, [&] {
        for (auto &[m, in] : ina)
            in->publish(a.ifindex("mesh0"));
        const uint32_t pub = a.ifindex("pub0");
        xdp = std::make_unique<Link>(ina.at(m0)->prog(Prog::XdpPublic), pub, BPF_XDP,
                                     XDP_FLAGS_DRV_MODE);
        tc = std::make_unique<TcIngress>(ina.at(m0)->prog(Prog::TcPublicIngress), pub);
        // Calibration device: empty programs fed with live frames, as in section live.
        a.veth("cal0", "cal1");
        cal_if = a.ifindex("cal0");
        cal_tc = std::make_unique<TcIngress>(tc_empty, cal_if);
    });
    in_ns(b, [&] {
        mesh = std::make_unique<TcIngress>(inb.prog(Prog::MeshIngress), b.ifindex("mesh0"));
    });
    Fd lsock_a(listener(a, kVip, kPort)), lsock_b(listener(b, kVip, kPort));
    Server server_a(lsock_a.get()), server_b(lsock_b.get());

    // Client ports per path: flows to the VIP owned by A itself (local) or by B (forwarded).
    struct Path {
        std::string name;
        uint16_t owner;
        uint16_t next = 20000;
        uint16_t port(const Instance &in)
        {
            uint16_t p = port_owned_by(in, kClient, kVip, owner, next);
            next = static_cast<uint16_t>(p + 1);
            if (next > 60000)
                next = 20000; // TIME_WAIT of a flow that many transfers old is long gone
            return p;
        }
    };
    Path paths[] = {{"forwarded", in0.node_slot("edge-1")},
                    {"local owner", in0.node_slot("edge-0")}};
    const uint64_t bytes = uint64_t(megabytes) * uint64_t(kMB);

    struct Config {
        Path *path;
        uint8_t mode;
        bool gro;
        std::string name() const
        {
            return path->name + ", " + mode_label(mode) + (gro ? ", GRO on" : ", GRO off");
        }
    };
    std::vector<Config> configs;
    for (auto &p : paths)
        for (uint8_t m : modes)
            for (bool g : {true, false})
                configs.push_back({&p, m, g});
    std::map<std::string, std::vector<Sample>> samples;
    std::vector<double> ovh_xdp, ovh_tc; // bpf_stats' own cost per run, per round
    const Bytes packet = xdp_packets(in0).fwd4;

    for (int r = 0; r < o.rounds; r++) {
        for (size_t i = 0; i < configs.size(); i++) {
            check_interrupted();
            const Config &c = configs[(i + r) % configs.size()];
            const bool fwd = c.path == &paths[0];
            const Instance &in = *ina.at(c.mode);
            const int xp = in.prog(Prog::XdpPublic), tp = in.prog(Prog::TcPublicIngress);
            xdp->update(xp);
            tc->update(tp);
            nsexec(a, {"ethtool", "-K", "pub0", "gro", c.gro ? "on" : "off"});
            transfer(cl, kClient, kVip, kPort, c.path->port(in0), 1 << 20,
                     max_seconds); // warm-up: neighbours, caches
            usleep(100000);        // its closing packets, before the counters are read
            Counters ca = in.counters(), cb = inb.counters();
            ProgStats x0, t0, x1, t1;
            double secs;
            const uint16_t sport = c.path->port(in0);
            {
                StatsEnabled stats;
                x0 = prog_stats(xp), t0 = prog_stats(tp);
                secs = transfer(cl, kClient, kVip, kPort, sport, bytes, max_seconds);
                x1 = prog_stats(xp), t1 = prog_stats(tp);
            }
            // The client's closing packets (FIN, last ACK) are still on their way through A
            // and B when the transfer returns: one read between A's counters and B's would
            // count at one edge only and fail the check below (seen: B decapsulated one packet
            // more than A's XDP saw). Read both once they are through, as before the transfer.
            usleep(100000);
            Counters da = in.counters() - ca, db = inb.counters() - cb;
            const uint64_t redir = count(da, XI_HOOK_TC_PUBLIC_INGRESS, XI_R_REDIRECT);
            const uint64_t decap = count(db, XI_HOOK_TC_MESH_INGRESS, XI_R_DECAP);
            uint64_t xdp_counted = 0;
            for (const auto &[k, v] : da)
                if (k.first == XI_HOOK_XDP_PUBLIC)
                    xdp_counted += v;
            // Forwarded: A redirects skbs (GRO super-packets or not), its mesh0 segments them,
            // B decapsulates wire packets: at least one per redirect, at most one per packet
            // XDP saw. Local: nothing redirected, every VIP packet counted local (by XDP or TC).
            const uint64_t local = count(da, XI_HOOK_XDP_PUBLIC, XI_R_LOCAL) +
                                   count(da, XI_HOOK_TC_PUBLIC_INGRESS, XI_R_LOCAL);
            std::string bad = drops(da) + drops(db);
            bool ok = bad.empty() && (fwd ? redir > 0 && decap >= redir && decap <= xdp_counted
                                          : redir == 0 && decap == 0 && local > 0);
            if (!ok)
                throw std::runtime_error("bulk '" + c.name() + "': edge A counted " + describe(da) +
                                         "; owner B counted " + describe(db) +
                                         (fwd ? " (expected no drop, and A's redirects <= B's "
                                                "decapsulations <= A's XDP runs)"
                                              : " (expected no drop, nothing redirected)"));
            for (const Server *sv : {&server_a, &server_b})
                if (!sv->error().empty())
                    throw std::runtime_error(sv->error());
            Sample s;
            s.mb = double(bytes) / kMB;
            s.seconds = secs;
            s.xdp_runs = x1.cnt - x0.cnt;
            s.xdp_ns = x1.ns - x0.ns;
            s.tc_runs = t1.cnt - t0.cnt;
            s.tc_ns = t1.ns - t0.ns;
            samples[c.name()].push_back(s);
            if (o.verbose)
                fprintf(stderr, "bulk %s: %.1f MB in %.2f s, XDP %lu runs, TC %lu runs\n",
                        c.name().c_str(), s.mb, secs, static_cast<unsigned long>(s.xdp_runs),
                        static_cast<unsigned long>(s.tc_runs));
        }
        // Calibration: what bpf_stats adds per run (its clock reads) on these hooks, from empty
        // programs fed live frames, minus their test_run floor.
        in_ns(a, [&] {
            ProgStats x0, c0, x1, c1;
            {
                StatsEnabled stats;
                x0 = prog_stats(xdp_empty), c0 = prog_stats(tc_empty);
                live_run(xdp_empty, cal_if, packet, 100000);
                x1 = prog_stats(xdp_empty), c1 = prog_stats(tc_empty);
            }
            double tr_x = test_run(xdp_empty, packet, 1000000).ns;
            double tr_t = test_run(tc_empty, packet, 1000000).ns;
            ovh_xdp.push_back(double(x1.ns - x0.ns) / double(x1.cnt - x0.cnt) - tr_x);
            ovh_tc.push_back(double(c1.ns - c0.ns) / double(c1.cnt - c0.cnt) - tr_t);
        });
    }

    print_header("BPF time per MB of a bulk TCP transfer, per hand-off mode and GRO setting (" +
                 std::to_string(megabytes) + " MB per transfer, IPv4, " + std::to_string(o.rounds) +
                 " round(s); bpf_stats of edge A's programs)");
    auto cell = [&](const std::vector<Sample> &v, auto fn, int prec) {
        std::vector<double> xs;
        for (const auto &s : v)
            xs.push_back(fn(s));
        auto sv = summarize(xs);
        return fmt(sv.median, prec) + " (" + fmt(sv.min, prec) + "-" + fmt(sv.max, prec) + ")";
    };
    auto raw = [](const Sample &s) { return double(s.xdp_ns + s.tc_ns) / 1e3 / s.mb; };
    auto net = [&](const Sample &s, size_t r) {
        double ns = double(s.xdp_ns) - double(s.xdp_runs) * ovh_xdp[r] + double(s.tc_ns) -
                    double(s.tc_runs) * ovh_tc[r];
        return ns / 1e3 / s.mb;
    };
    auto per_round = [&](const std::vector<Sample> &v, auto fn) {
        std::vector<double> xs;
        for (size_t r = 0; r < v.size(); r++)
            xs.push_back(fn(v[r], r));
        return summarize(xs);
    };
    auto fmt_s = [](const Summary &sv) {
        return fmt(sv.median, 1) + " (" + fmt(sv.min, 1) + "-" + fmt(sv.max, 1) + ")";
    };
    printf("| path | hand-off | GRO on A's pub0 | XDP runs/MB | TC runs/MB | XDP us/MB | TC us/MB "
           "| **XDP + TC us/MB** | XDP + TC us/MB, net of bpf_stats | Mbit/s |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n");
    for (const auto &c : configs) {
        const auto &v = samples[c.name()];
        printf("| %s | %s | %s | %s | %s | %s | %s | **%s** | %s | %s |\n", c.path->name.c_str(),
               mode_label(c.mode), c.gro ? "on" : "off",
               cell(
                   v, [](const Sample &s) { return s.xdp_runs / s.mb; }, 0)
                   .c_str(),
               cell(
                   v, [](const Sample &s) { return s.tc_runs / s.mb; }, 0)
                   .c_str(),
               cell(
                   v, [](const Sample &s) { return s.xdp_ns / 1e3 / s.mb; }, 1)
                   .c_str(),
               cell(
                   v, [](const Sample &s) { return s.tc_ns / 1e3 / s.mb; }, 1)
                   .c_str(),
               cell(v, raw, 1).c_str(), fmt_s(per_round(v, net)).c_str(),
               cell(
                   v, [](const Sample &s) { return s.mb * 8 / s.seconds; }, 0)
                   .c_str());
    }
    auto get = [&](Path &p, uint8_t m, bool g) -> const std::vector<Sample> & {
        return samples[Config{&p, m, g}.name()];
    };
    // Paired per round (same round, back to back).
    auto paired = [&](const std::vector<Sample> &num, const std::vector<Sample> &den, bool use_net,
                      bool tc_only) {
        std::vector<double> xs;
        for (size_t r = 0; r < num.size() && r < den.size(); r++) {
            if (tc_only)
                xs.push_back(double(num[r].tc_ns) / num[r].mb / (double(den[r].tc_ns) / den[r].mb));
            else if (use_net)
                xs.push_back(net(num[r], r) / net(den[r], r));
            else
                xs.push_back(raw(num[r]) / raw(den[r]));
        }
        return fmt_ratio(summarize(xs));
    };
    printf("\nForwarded path, GRO off (TC encapsulates every wire packet) over GRO on, BPF time "
           "per MB (paired per round):\n\n| hand-off | XDP + TC | XDP + TC, net of bpf_stats | "
           "TC alone |\n|---|---|---|---|\n");
    for (uint8_t m : modes)
        printf("| %s | **%s** | %s | %s |\n", mode_label(m),
               paired(get(paths[0], m, false), get(paths[0], m, true), false, false).c_str(),
               paired(get(paths[0], m, false), get(paths[0], m, true), true, false).c_str(),
               paired(get(paths[0], m, false), get(paths[0], m, true), false, true).c_str());
    if (modes.size() > 1) {
        printf("\nxdp-mark over tc, XDP + TC BPF time per MB (paired per round; below 1: "
               "xdp-mark is cheaper):\n\n| path | GRO on A's pub0 | raw | net of bpf_stats "
               "|\n|---|---|---|---|\n");
        for (auto &p : paths)
            for (bool g : {true, false})
                printf(
                    "| %s | %s | **%s** | %s |\n", p.name.c_str(), g ? "on" : "off",
                    paired(get(p, XI_HANDOFF_XDP_MARK, g), get(p, XI_HANDOFF_TC, g), false, false)
                        .c_str(),
                    paired(get(p, XI_HANDOFF_XDP_MARK, g), get(p, XI_HANDOFF_TC, g), true, false)
                        .c_str());
    }
    printf("\nOne TCP connection per transfer, client -> VIP through edge A's pub0. Forwarded: "
           "flows owned by edge B, A forwards every packet, B decapsulates them (counters "
           "checked after every transfer: no drop anywhere, B decapsulated every wire packet A "
           "redirected). Local owner: flows owned by A, delivered to a server on A. Every byte "
           "is delivered (the server answers with its count). MB = 10^6 bytes of TCP payload; "
           "us = microseconds of BPF run time (run_time_ns, bpf_stats enabled only during the "
           "measured transfer). XDP runs once per wire packet whatever GRO does; with GRO on, TC "
           "runs once per GRO super-packet. \"net of bpf_stats\": minus the cost bpf_stats adds "
           "to every run (its clock reads; %s ns per XDP run, %s ns per TC run here: empty "
           "programs fed live frames, minus their test_run floor), which weighs more the more "
           "runs there are. Median (min-max) over rounds; Mbit/s for context only (client, both "
           "edges and the servers share one CPU).\n",
           fmt_ns(summarize(ovh_xdp)).c_str(), fmt_ns(summarize(ovh_tc)).c_str());
    return 0;
}

} // namespace xi::bench
