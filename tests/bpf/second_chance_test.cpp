// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Second chance (bpf/lib/second_chance.h, issue #13) through BPF_PROG_TEST_RUN with real
// sockets: test_run looks sockets up in the network namespace of the calling thread, so each
// test joins a throwaway namespace whose lo carries the VIPs (198.51.100.10, 2001:db8::10),
// where a listener and its connections (from 127.0.0.1 / ::1) live.
// edge-a joins a fleet of edge-b and edge-c: the slots it takes keep their previous owner, and
// a packet of such a slot stays on edge-a only if edge-a holds its flow (or it is a new flow).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <chrono>
#include <thread>

#include "datapath_fixture.h"
#include "fleet_yaml.h"
#include "handoff_modes.h"
#include "netns_command.h"
#include "owner.h"
#include "packet.h"
#include "privileges.h"
#include "scoped_fd.h"
#include "xi_hash.h"
#include "xi_names.h"
#include "xi_reasons.h"

namespace xi::test
{
namespace
{

constexpr uint32_t kPubIn = XI_HOOK_TC_PUBLIC_INGRESS;
constexpr uint32_t kMeshIn = XI_HOOK_TC_MESH_INGRESS;
constexpr uint16_t kListened = 8443, kClosed = 8444;

std::string step_config()
{
    return fleet_yaml_head("0x5c") + kEdgeANode + "    state: joining\n" + kEdgeBCNodes +
           kApp1DualStackNode + R"(vips:
  - name: web4
    address: 198.51.100.10
    protocol: tcp
    ports: [8443, 8444]
  - name: web6
    address: 2001:db8::10
    protocol: tcp
    ports: [8443, 8444]
  - name: dns4
    address: 198.51.100.10
    protocol: udp
    ports: [8443]
identities:
  edges: [10.200.0.0/24, fd00:200::/64]
  apps: [10.201.0.0/24, fd00:201::/64]
default:
  ingress: deny
  egress: allow
)";
}

// A listening or connected TCP socket on loopback, closed with the test.
struct Sock {
    Fd fd;
    int family;
    explicit Sock(int fam) : fd(socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0)), family(fam)
    {
        int one = 1;
        setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    bool bind_to(const char *addr, uint16_t port)
    {
        sockaddr_storage ss{};
        socklen_t len = fill(ss, addr, port);
        return ::bind(fd.get(), reinterpret_cast<sockaddr *>(&ss), len) == 0;
    }
    bool connect_to(const char *addr, uint16_t port)
    {
        sockaddr_storage ss{};
        socklen_t len = fill(ss, addr, port);
        return ::connect(fd.get(), reinterpret_cast<sockaddr *>(&ss), len) == 0;
    }
    socklen_t fill(sockaddr_storage &ss, const char *addr, uint16_t port) const
    {
        if (family == AF_INET) {
            auto *a = reinterpret_cast<sockaddr_in *>(&ss);
            a->sin_family = AF_INET;
            a->sin_port = htons(port);
            inet_pton(AF_INET, addr, &a->sin_addr);
            return sizeof(*a);
        }
        auto *a = reinterpret_cast<sockaddr_in6 *>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, addr, &a->sin6_addr);
        return sizeof(*a);
    }
};

class SecondChance : public ::testing::Test
{
protected:
    static void SetUpTestSuite()
    {
        if (!have_bpf_privileges())
            return;
        netns_ = "xitest-sc-" + std::to_string(getpid());
        must_run({"ip", "netns", "add", netns_});
        must_run({"ip", "link", "set", "lo", "up"}, netns_);
        must_run({"ip", "addr", "add", "198.51.100.10/32", "dev", "lo"}, netns_);
        must_run({"ip", "addr", "add", "2001:db8::10/128", "dev", "lo", "nodad"}, netns_);
        fx_ = new DatapathFixture(step_config(), "edge-a");
    }
    static void TearDownTestSuite()
    {
        delete fx_;
        fx_ = nullptr;
        if (!netns_.empty())
            run_command({"ip", "netns", "del", netns_}, nullptr);
    }
    void SetUp() override
    {
        XI_REQUIRE_PRIVILEGES();
        fx_->publish(step_config(), "edge-a");
        in_ns_ = std::make_unique<ScopedNetns>(netns_);
    }
    void TearDown() override { in_ns_.reset(); }

    const char *client(bool v6) const { return v6 ? "::1" : "127.0.0.1"; }
    const char *vip(bool v6) const { return v6 ? "2001:db8::10" : "198.51.100.10"; }

    // The Maglev entry of the client's flow to the VIP, as the datapath finds it.
    uint32_t entry_of(bool v6, uint16_t sport, uint16_t dport, uint8_t proto = IPPROTO_TCP) const
    {
        const GenContent &g = fx_->gen();
        FlowTuple t;
        t.src = *IpAddr::parse(client(v6));
        t.dst = *IpAddr::parse(vip(v6));
        t.sport = sport;
        t.dport = dport;
        t.proto = proto;
        return g.maglev[xi_maglev_slot(flow_hash(t, g.cfg.seed), g.cfg.table_size)];
    }
    // Client ports whose flow to the VIP edge-a owns, with (or without) a previous owner.
    uint16_t port_where(bool v6, uint16_t dport, bool moved, uint16_t from = 20000,
                        uint8_t proto = IPPROTO_TCP)
    {
        const uint16_t self = fx_->node_slot("edge-a");
        for (uint32_t sport = from; sport < 60000; sport++) {
            uint32_t e = entry_of(v6, static_cast<uint16_t>(sport), dport, proto);
            bool has_prev = XI_MAGLEV_PREV(e) != XI_NODE_NONE;
            if (XI_MAGLEV_OWNER(e) == self && has_prev == moved)
                return static_cast<uint16_t>(sport);
        }
        ADD_FAILURE() << "no such port";
        return 0;
    }
    Packet seg(bool v6, uint16_t sport, uint16_t dport)
    {
        Packet p = Packet().eth();
        if (v6)
            p.ipv6(client(v6), vip(v6));
        else
            p.ipv4(client(v6), vip(v6));
        return p.tcp(sport, dport);
    }
    // One packet through public TC ingress: its verdict, and the counters it moved there.
    Counters pub_in(const Bytes &pkt, RunResult *out)
    {
        auto before = fx_->counters();
        *out = fx_->run_tc(Prog::TcPublicIngress, pkt);
        return fx_->counters() - before;
    }
    // The outer header a second chance leaves with: to the previous owner, marked.
    void expect_marked_for_prev(const RunResult &r, bool v6, uint16_t sport, uint16_t dport)
    {
        const std::string prev =
            fx_->gen().node_names.at(XI_MAGLEV_PREV(entry_of(v6, sport, dport)));
        ASSERT_GE(r.out.size(), 14u + 40u);
        if (!v6) {
            EXPECT_EQ(r.out[14] >> 4, 4);
            EXPECT_EQ(r.out[14 + 9], IPPROTO_IPIP);
            EXPECT_TRUE(r.out[14 + 4] & 0x80) << "IPv4 ID bit 15: the second-chance marker";
            char dst[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &r.out[14 + 16], dst, sizeof(dst));
            EXPECT_EQ(std::string(dst), prev == "edge-b" ? "10.200.0.2" : "10.200.0.3");
        } else {
            EXPECT_EQ(r.out[14] >> 4, 6);
            EXPECT_EQ(r.out[14 + 6], IPPROTO_IPV6);
            EXPECT_TRUE(r.out[14 + 1] & XI_ENCAP_FLOW_SECOND_CHANCE) << "flow label bit 19";
            char dst[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, &r.out[14 + 24], dst, sizeof(dst));
            EXPECT_EQ(std::string(dst), prev == "edge-b" ? "fd00:200::2" : "fd00:200::3");
        }
    }

    static inline DatapathFixture *fx_ = nullptr;
    static inline std::string netns_;
    std::unique_ptr<ScopedNetns> in_ns_;
};

TEST_F(SecondChance, EstablishedFlowStaysNoSocketGoesToThePreviousOwnerOnce)
{
    for (bool v6 : {false, true}) {
        SCOPED_TRACE(v6 ? "IPv6" : "IPv4");
        const int fam = v6 ? AF_INET6 : AF_INET;
        Sock lst(fam);
        ASSERT_TRUE(lst.bind_to(vip(v6), kListened)) << strerror(errno);
        ASSERT_EQ(listen(lst.fd.get(), 8), 0);
        const uint16_t held = port_where(v6, kListened, true);
        Sock cl(fam);
        ASSERT_TRUE(cl.bind_to(client(v6), held)) << strerror(errno);
        ASSERT_TRUE(cl.connect_to(vip(v6), kListened)) << strerror(errno);

        RunResult r;
        // ESTABLISHED: the flow is here.
        auto d = pub_in(seg(v6, held, kListened).ack().payload(10).build(), &r);
        EXPECT_EQ(r.retval, TC_ACT_UNSPEC);
        EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_SECOND_CHANCE_HELD}, 1}})) << describe(d);

        // LISTEN and an ACK without a cookie: the flow is elsewhere, the previous owner's.
        const uint16_t other = port_where(v6, kListened, true, held + 1);
        d = pub_in(seg(v6, other, kListened).ack().payload(10).build(), &r);
        EXPECT_EQ(r.retval, TC_ACT_REDIRECT);
        EXPECT_EQ(d,
                  (Counters{{{kPubIn, XI_R_SECOND_CHANCE_OUT}, 1}, {{kPubIn, XI_R_REDIRECT}, 1}}))
            << describe(d);
        expect_marked_for_prev(r, v6, other, kListened);
        // A RST or FIN of a flow we do not hold is not ours either.
        d = pub_in(seg(v6, other, kListened).tcp_flags(0x04).build(), &r);
        EXPECT_EQ(r.retval, TC_ACT_REDIRECT) << describe(d);

        // LISTEN and a SYN: a new flow belongs to the new owner.
        d = pub_in(seg(v6, other, kListened).syn().build(), &r);
        EXPECT_EQ(r.retval, TC_ACT_UNSPEC);
        EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_SECOND_CHANCE_HELD}, 1}})) << describe(d);

        // No socket at all (nobody listens on the port): not ours, SYN or not.
        const uint16_t closed = port_where(v6, kClosed, true);
        for (bool syn : {false, true}) {
            Packet p = seg(v6, closed, kClosed);
            d = pub_in((syn ? p.syn() : p.ack()).build(), &r);
            EXPECT_EQ(r.retval, TC_ACT_REDIRECT) << (syn ? "SYN" : "ACK");
            expect_marked_for_prev(r, v6, closed, kClosed);
        }
    }
}

TEST_F(SecondChance, UdpStaysOnlyWithASocketConnectedToThePeer)
{
    const uint16_t a = port_where(false, kListened, true, 20000, IPPROTO_UDP);
    const uint16_t b = port_where(false, kListened, true, a + 1, IPPROTO_UDP);
    auto dgram = [&](uint16_t sport) {
        return Packet()
            .eth()
            .ipv4(client(false), vip(false))
            .udp(sport, kListened)
            .payload(32)
            .build();
    };
    RunResult r;
    // No socket at all: the previous owner's.
    auto d = pub_in(dgram(a), &r);
    EXPECT_EQ(r.retval, TC_ACT_REDIRECT) << describe(d);
    // A server bound to the VIP, unconnected: it would serve any flow, so it proves nothing.
    Fd srv(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(kListened);
    inet_pton(AF_INET, vip(false), &sa.sin_addr);
    int one = 1; // both sockets on VIP:port, as a server and its per-client sockets do
    setsockopt(srv.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ASSERT_EQ(bind(srv.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)), 0) << strerror(errno);
    d = pub_in(dgram(a), &r);
    EXPECT_EQ(r.retval, TC_ACT_REDIRECT) << describe(d);
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_SECOND_CHANCE_OUT}, 1}, {{kPubIn, XI_R_REDIRECT}, 1}}))
        << describe(d);
    // A socket connected to this very peer (a UDP service that connects per client): here.
    Fd conn(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    setsockopt(conn.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ASSERT_EQ(bind(conn.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)), 0)
        << strerror(errno);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(a);
    inet_pton(AF_INET, client(false), &peer.sin_addr);
    ASSERT_EQ(connect(conn.get(), reinterpret_cast<sockaddr *>(&peer), sizeof(peer)), 0);
    d = pub_in(dgram(a), &r);
    EXPECT_EQ(r.retval, TC_ACT_UNSPEC);
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_SECOND_CHANCE_HELD}, 1}})) << describe(d);
    // ... and only for that peer.
    d = pub_in(dgram(b), &r);
    EXPECT_EQ(r.retval, TC_ACT_REDIRECT) << describe(d);
}

TEST_F(SecondChance, XdpLeavesMovedSlotsToTc)
{
    bool runnable = false;
    for (const auto &m : handoff_modes())
        runnable = runnable || m.xdp_decides();
    if (!runnable)
        GTEST_SKIP() << "this kernel cannot run the xdp-mark hand-off (no bpf_xdp_adjust_meta)";
    in_ns_.reset(); // the fixture pins from the test's own namespace
    DatapathFixture marking(step_config(), "edge-a",
                            {.mesh = false, .handoff = XI_HANDOFF_XDP_MARK});
    in_ns_ = std::make_unique<ScopedNetns>(netns_);
    const uint16_t moved = port_where(false, kClosed, true);
    auto before = marking.counters();
    auto r = marking.run_xdp(seg(false, moved, kClosed).ack().build());
    auto d = marking.counters() - before;
    EXPECT_EQ(r.retval, XDP_PASS);
    EXPECT_TRUE(r.meta.empty()) << "no mark: TC asks the socket table";
    EXPECT_EQ(d, (Counters{{{XI_HOOK_XDP_PUBLIC, XI_R_TC_DECIDES}, 1}})) << describe(d);
}

// A handshake completed by syncookie leaves no socket behind: the third ACK finds only the
// listener, and the cookie in it is the proof that the flow's SYN came here. Made for real: the
// namespace sends cookies for every SYN (tcp_syncookies=2), a raw socket sends the SYN and reads
// the SYN-ACK that carries the cookie, and the ACK the client would send goes through test_run.
TEST_F(SecondChance, AckWithThisEdgesSyncookieStaysAForgedOneGoesOn)
{
    must_run({"sysctl", "-qw", "net.ipv4.tcp_syncookies=2"}, netns_);
    Sock lst(AF_INET);
    ASSERT_TRUE(lst.bind_to(vip(false), kListened));
    ASSERT_EQ(listen(lst.fd.get(), 8), 0);
    const uint16_t port = port_where(false, kListened, true, 30000);

    // Every TCP segment delivered in this namespace, our SYN-ACK among them.
    Fd rx(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP));
    Fd tx(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW)); // IP header ours
    ASSERT_GE(rx.get(), 0) << strerror(errno);
    ASSERT_GE(tx.get(), 0) << strerror(errno);
    timeval tv{.tv_sec = 1, .tv_usec = 0};
    setsockopt(rx.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    const uint32_t isn = 0x1000;
    Bytes syn = Packet()
                    .ipv4(client(false), vip(false))
                    .tcp(port, kListened)
                    .seq(isn)
                    .syn()
                    .mss(1460)
                    .build();
    sockaddr_in to{};
    to.sin_family = AF_INET;
    inet_pton(AF_INET, vip(false), &to.sin_addr);
    ASSERT_EQ(
        sendto(tx.get(), syn.data(), syn.size(), 0, reinterpret_cast<sockaddr *>(&to), sizeof(to)),
        static_cast<ssize_t>(syn.size()))
        << strerror(errno);

    uint32_t cookie = 0;
    bool found = false;
    uint8_t buf[2048];
    for (int i = 0; i < 50 && !found; i++) { // bounded: 50 segments or 1 s without one
        ssize_t n = recv(rx.get(), buf, sizeof(buf), 0);
        if (n < 0)
            break;
        const size_t ihl = (buf[0] & 0x0f) * 4u;
        if (static_cast<size_t>(n) < ihl + 20)
            continue;
        const uint8_t *th = buf + ihl;
        const uint16_t sp = static_cast<uint16_t>(th[0] << 8 | th[1]);
        const uint16_t dp = static_cast<uint16_t>(th[2] << 8 | th[3]);
        if (sp == kListened && dp == port && (th[13] & 0x12) == 0x12) {
            cookie = static_cast<uint32_t>(th[4]) << 24 | th[5] << 16 | th[6] << 8 | th[7];
            found = true;
        }
    }
    ASSERT_TRUE(found) << "no SYN-ACK from the listener";

    RunResult r;
    // The ACK that completes the handshake: the cookie checks out, the flow is this edge's.
    auto d = pub_in(seg(false, port, kListened).seq(isn + 1).ack(cookie + 1).build(), &r);
    EXPECT_EQ(r.retval, TC_ACT_UNSPEC) << describe(d);
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_SECOND_CHANCE_HELD}, 1}})) << describe(d);
    // One off: not a cookie of this edge (another edge's, or forged): the previous owner's.
    d = pub_in(seg(false, port, kListened).seq(isn + 1).ack(cookie + 2).build(), &r);
    EXPECT_EQ(r.retval, TC_ACT_REDIRECT) << describe(d);
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_SECOND_CHANCE_OUT}, 1}, {{kPubIn, XI_R_REDIRECT}, 1}}))
        << describe(d);
    // Syncookies off: no cookie can check out (the helper says EINVAL), so even the right one
    // goes on.
    must_run({"sysctl", "-qw", "net.ipv4.tcp_syncookies=0"}, netns_);
    d = pub_in(seg(false, port, kListened).seq(isn + 1).ack(cookie + 1).build(), &r);
    must_run({"sysctl", "-qw", "net.ipv4.tcp_syncookies=1"}, netns_);
    EXPECT_EQ(r.retval, TC_ACT_REDIRECT) << describe(d);
}

TEST_F(SecondChance, TimeWaitOnTheServerSideIsStillTheFlows)
{
    Sock lst(AF_INET);
    ASSERT_TRUE(lst.bind_to(vip(false), kListened));
    ASSERT_EQ(listen(lst.fd.get(), 8), 0);
    const uint16_t port = port_where(false, kListened, true);
    {
        Sock cl(AF_INET);
        ASSERT_TRUE(cl.bind_to(client(false), port));
        ASSERT_TRUE(cl.connect_to(vip(false), kListened));
        Fd srv(accept4(lst.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
        ASSERT_GE(srv.get(), 0);
        shutdown(srv.get(), SHUT_WR); // the server closes first: its side ends in TIME_WAIT
        char b;
        ASSERT_EQ(read(cl.fd.get(), &b, 1), 0); // the client saw the FIN
        shutdown(cl.fd.get(), SHUT_WR);
        ASSERT_EQ(read(srv.get(), &b, 1), 0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    RunResult r;
    auto d = pub_in(seg(false, port, kListened).ack().build(), &r);
    EXPECT_EQ(r.retval, TC_ACT_UNSPEC) << describe(d);
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_SECOND_CHANCE_HELD}, 1}})) << describe(d);
}

TEST_F(SecondChance, AfterTheDeadlineTheNewOwnerKeepsEverything)
{
    const uint16_t closed = port_where(false, kClosed, true);
    // A step published here gets drain_timeout from now (600 s by default).
    xi_gen_config cfg{};
    Fd gc(bpf_obj_get((fx_->pin_dir() + "/" XI_MAP_GEN_CONFIG).c_str()));
    uint32_t key = 0, slot = 0;
    Fd act(bpf_obj_get((fx_->pin_dir() + "/" XI_MAP_ACTIVE).c_str()));
    xi_active a{};
    ASSERT_EQ(bpf_map_lookup_elem(act.get(), &key, &a), 0);
    slot = a.slot;
    ASSERT_EQ(bpf_map_lookup_elem(gc.get(), &slot, &cfg), 0);
    EXPECT_GT(cfg.second_chance_until, 0u);
    cfg.second_chance_until = 1; // long past
    ASSERT_EQ(bpf_map_update_elem(gc.get(), &slot, &cfg, BPF_ANY), 0);
    RunResult r;
    auto d = pub_in(seg(false, closed, kClosed).ack().build(), &r);
    EXPECT_EQ(r.retval, TC_ACT_UNSPEC);
    EXPECT_EQ(d, (Counters{{{kPubIn, XI_R_LOCAL}, 1}})) << describe(d);
}

TEST_F(SecondChance, SteeredPacketsAreCheckedAfterDecapAndMarkedOnesNeverGoOn)
{
    const uint16_t closed = port_where(false, kClosed, true);
    auto steered = [&](uint16_t id) {
        return Packet()
            .eth()
            .ipv4("10.200.0.2", "10.200.0.1")
            .ip_id(id)
            .df()
            .ipv4(client(false), vip(false))
            .tcp(closed, kClosed)
            .ack()
            .build();
    };
    // From edge-b, which owns nothing of it now: edge-a holds no socket, so the previous owner
    // gets it, marked.
    auto before = fx_->counters();
    auto r = fx_->run_tc(Prog::MeshIngress, steered(0));
    auto d = fx_->counters() - before;
    EXPECT_EQ(r.retval, TC_ACT_REDIRECT);
    EXPECT_EQ(d, (Counters{{{kMeshIn, XI_R_SECOND_CHANCE_OUT}, 1}})) << describe(d);
    expect_marked_for_prev(r, false, closed, kClosed);
    // Marked: a second chance already. Delivered here whatever edge-a holds.
    before = fx_->counters();
    r = fx_->run_tc(Prog::MeshIngress, steered(XI_ENCAP_ID_SECOND_CHANCE));
    d = fx_->counters() - before;
    EXPECT_EQ(r.retval, TC_ACT_UNSPEC);
    EXPECT_EQ(d, (Counters{{{kMeshIn, XI_R_SECOND_CHANCE_IN}, 1}})) << describe(d);
}

} // namespace
} // namespace xi::test
