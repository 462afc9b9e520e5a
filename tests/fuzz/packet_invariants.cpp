// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "packet_invariants.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <optional>

#include "config.h"
#include "datapath_fixture.h"
#include "fleet_yaml.h"
#include "metadata.h"
#include "netaddr.h"
#include "xi_reasons.h"

namespace xi::fuzz
{
namespace
{

using test::Bytes;

// edge-a of three edges with VIPs of both families, roles with rules, a reply-only role (dbs),
// an overlay rule that lets apps' tunnels through, metadata blocking and tunnel inspection on.
const std::string &fuzz_config()
{
    // edge-d joins (a fleet change, issue #13): a few of edge-a's slots have a previous owner,
    // so second chance runs on both public and mesh ingress.
    static const std::string c = test::fleet_yaml_head("0x5eed") + test::kEdgeANode +
                                 test::kEdgeBCNodes + R"(  - name: edge-d
    public_interface: pub0
    mesh_ipv4: 10.200.0.4
    mesh_ipv6: fd00:200::4
    state: joining
)" + test::kApp1DualStackNode + R"(  - name: db-1
    mesh_ipv4: 10.202.0.1
    mesh_ipv6: fd00:202::1
vips:
  - name: web
    address: 198.51.100.10
    protocol: tcp
    ports: [80, 443]
  - name: web6
    address: 2001:db8:100::10
    protocol: tcp
  - name: dns
    address: 198.51.100.53
    protocol: udp
    ports: [53]
identities:
  edges: [10.200.0.0/24, fd00:200::/64]
  apps: [10.201.0.0/24, fd00:201::/64]
  dbs: [10.202.0.0/24, fd00:202::/64]
rules:
  - name: overlay
    from: apps
    to: any
    protocol: any
    action: allow
  - name: http
    from: edges
    to: apps
    protocol: tcp
    ports: [80, 8080]
    action: allow
  - name: sql
    from: apps
    to: dbs
    protocol: tcp
    ports: [5432]
    action: allow
default:
  ingress: deny
  egress: allow
reply_only: [dbs]
nat64_prefixes: [2001:db8:64::/96]
)";
    return c;
}

constexpr uint32_t kFuzzMark = kGuardDefaultMark; // the fuzz config names no other

struct World {
    test::DatapathFixture fx{fuzz_config(), "edge-a"};
    std::vector<Prefix> metadata;
    World()
    {
        auto r = parse_config(fuzz_config(), "fuzz.yaml");
        if (!r.config)
            throw std::runtime_error("fuzz config: " + r.errors.at(0).str());
        metadata = metadata_prefixes_all_forms(*r.config);
    }
    bool is_metadata(const IpAddr &a) const
    {
        return std::any_of(metadata.begin(), metadata.end(),
                           [&](const Prefix &p) { return p.contains(a); });
    }
};

World &world()
{
    static World w;
    return w;
}

uint16_t be16(const Bytes &b, size_t off)
{
    return off + 2 <= b.size() ? uint16_t(b[off] << 8 | b[off + 1]) : 0;
}

// An address as the datapath keys it: IPv4 and IPv4-mapped IPv6 are the same thing.
IpAddr addr_at(const Bytes &b, size_t off, bool v4)
{
    IpAddr a;
    if (v4) {
        a.v4 = true;
        a.bytes[10] = a.bytes[11] = 0xff;
        std::memcpy(&a.bytes[12], &b[off], 4);
        return a;
    }
    std::memcpy(a.bytes.data(), &b[off], 16);
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    a.v4 = std::memcmp(a.bytes.data(), mapped, 12) == 0;
    return a;
}

bool is_vlan(uint16_t type)
{
    return type == 0x8100 || type == 0x88a8;
}

// Ethernet, up to two tags: where the payload starts and its EtherType (0: cut short).
std::pair<size_t, uint16_t> skip_l2(const Bytes &b, size_t off)
{
    uint16_t type = be16(b, off + 12);
    off += 14;
    for (int i = 0; i < 2 && is_vlan(type); i++, off += 4)
        type = be16(b, off + 2);
    return {off, off <= b.size() ? type : 0};
}

// The IP header of a frame as the invariants need it; nullopt when it is not one.
struct Ip {
    size_t l3 = 0, len = 0; // header start, datagram length
    bool v4 = false;
    IpAddr src, dst;
    uint8_t proto = 0;
    size_t l4 = 0; // 0: not known (a later fragment, an IPv6 extension header)
};

std::optional<Ip> ip_at(const Bytes &b, size_t off, uint16_t type)
{
    Ip ip;
    ip.l3 = off;
    if (type == 0x0800 && off + 20 <= b.size() && b[off] >> 4 == 4 && (b[off] & 15) >= 5) {
        ip.v4 = true;
        ip.len = be16(b, off + 2);
        ip.src = addr_at(b, off + 12, true);
        ip.dst = addr_at(b, off + 16, true);
        ip.proto = b[off + 9];
        if ((be16(b, off + 6) & 0x1fff) == 0)
            ip.l4 = off + (b[off] & 15) * 4;
        return ip;
    }
    if (type == 0x86dd && off + 40 <= b.size() && b[off] >> 4 == 6) {
        ip.len = 40 + be16(b, off + 4);
        ip.src = addr_at(b, off + 8, false);
        ip.dst = addr_at(b, off + 24, false);
        ip.proto = b[off + 6];
        static const uint8_t ext[] = {0, 43, 44, 51, 60, 135, 139, 140, 253, 254};
        if (std::find(std::begin(ext), std::end(ext), ip.proto) == std::end(ext))
            ip.l4 = off + 40;
        return ip;
    }
    return std::nullopt;
}

// The destination inside a tunnel the mesh hooks look into, if p is one and it is all there.
std::optional<IpAddr> tunnel_inner_dst(const Bytes &b, const Ip &ip, bool egress)
{
    if (!ip.l4)
        return std::nullopt;
    size_t off = 0;
    uint16_t type = 0;
    if (ip.proto == 47 && ip.l4 + 4 <= b.size()) {
        uint16_t flags = be16(b, ip.l4);
        if (flags & 7)
            return std::nullopt;
        off = ip.l4 + 4 + 4 * (!!(flags & 0x8000) + !!(flags & 0x2000) + !!(flags & 0x1000));
        type = be16(b, ip.l4 + 2);
    } else if (ip.proto == 17 && ip.l4 + 8 <= b.size()) {
        uint16_t port = be16(b, ip.l4 + 2);
        if (port == 4789 || port == 8472) {
            off = ip.l4 + 16;
            type = 0x6558;
        } else if (port == 6081 && ip.l4 + 12 <= b.size() && b[ip.l4 + 8] >> 6 == 0) {
            off = ip.l4 + 16 + (b[ip.l4 + 8] & 0x3f) * 4;
            type = be16(b, ip.l4 + 10);
        }
    } else if (egress && (ip.proto == 4 || ip.proto == 41)) {
        off = ip.l4;
        type = ip.proto == 4 ? 0x0800 : 0x86dd;
    }
    if (!type)
        return std::nullopt;
    if (type == 0x6558)
        std::tie(off, type) = skip_l2(b, off);
    if (type == 0x0800 && off + 20 <= b.size())
        return addr_at(b, off + 16, true);
    if (type == 0x86dd && off + 40 <= b.size())
        return addr_at(b, off + 24, false);
    return std::nullopt;
}

struct Run {
    Prog prog;
    uint32_t hook;
    const Bytes &in;
    test::RunResult r;
    test::Counters moved; // at this hook
    bool counted(uint32_t reason) const { return moved.count({hook, reason}) > 0; }
    bool any_drop() const
    {
        return std::any_of(moved.begin(), moved.end(),
                           [](const auto &m) { return m.first.second >= XI_DROP_BASE; });
    }
};

std::string check_unchanged_but_mss(const Run &x)
{
    if (x.r.out == x.in)
        return "";
    if (x.counted(XI_R_MSS_CLAMPED) && x.r.out.size() == x.in.size())
        return "";
    return "the frame changed without a rewrite counted";
}

// A redirect is steering: outer header + the input's IP datagram, L2 extras gone.
std::string check_encapsulated(const Run &x)
{
    auto [l3, type] = skip_l2(x.in, 0);
    auto in = ip_at(x.in, l3, type);
    if (!in)
        return "redirected a frame that is not IP";
    const Bytes &o = x.r.out;
    if (o.size() < 14 + 20)
        return "redirected frame too short";
    size_t outer = (o[14] >> 4) == 4 ? 20 : (o[14] >> 4) == 6 ? 40 : 0;
    uint8_t proto = outer == 20 ? o[14 + 9] : outer == 40 ? o[14 + 6] : 0;
    if (!outer || proto != (in->v4 ? 4 : 41))
        return "redirected frame has no IPIP/IP6IP6 outer header";
    if (o.size() != 14 + outer + in->len)
        return "encapsulated length " + std::to_string(o.size()) + " != 14 + " +
               std::to_string(outer) + " + datagram " + std::to_string(in->len);
    Bytes want(x.in.begin() + l3, x.in.begin() + l3 + in->len),
        got(o.begin() + 14 + outer, o.end());
    bool syn = in->proto == 6 && in->l4 && in->l4 + 14 <= x.in.size() && (x.in[in->l4 + 13] & 2);
    size_t cmp = syn ? in->l4 - l3 + 4 : want.size(); // a SYN's MSS may be clamped
    if (!std::equal(want.begin(), want.begin() + cmp, got.begin()))
        return "the encapsulated datagram differs from the input's";
    return "";
}

std::string check_mesh_metadata(const Run &x)
{
    static const uint32_t unchecked[] = {XI_R_PASS_NOT_IP,        XI_R_PASS_VLAN_DEPTH,
                                         XI_R_PASS_EXTHDR,        XI_R_DECAP,
                                         XI_R_SECOND_CHANCE_HELD, XI_R_SECOND_CHANCE_IN};
    for (uint32_t u : unchecked)
        if (x.counted(u))
            return "";
    auto [l3, type] = skip_l2(x.in, 0);
    auto ip = ip_at(x.in, l3, type);
    if (!ip)
        return "";
    const World &w = world();
    if (w.is_metadata(ip->src) || w.is_metadata(ip->dst))
        return "passed a packet from or to a metadata address: " + ip->src.str() + " -> " +
               ip->dst.str();
    auto inner = tunnel_inner_dst(x.in, *ip, x.hook == XI_HOOK_TC_MESH_EGRESS);
    if (inner && w.is_metadata(*inner))
        return "passed a tunnel to the metadata address " + inner->str();
    return "";
}

// Mesh ingress redirects only a second chance: steering traffic it decapsulated, wrapped again
// for another edge (same family, same size), marked, the inner datagram and what follows it
// unchanged.
std::string check_second_chance(const Run &x)
{
    if (!x.counted(XI_R_SECOND_CHANCE_OUT))
        return "mesh ingress redirected without second_chance_out";
    const Bytes &in = x.in, &o = x.r.out;
    if (in.size() < 14 + 20 || o.size() != in.size() || (o[14] >> 4) != (in[14] >> 4))
        return "second chance: not the input's size and family";
    const bool v4 = (o[14] >> 4) == 4;
    const size_t in_outer = v4 ? (in[14] & 0x0f) * 4u : 40, outer = v4 ? 20 : 40;
    if (in_outer != outer)
        return ""; // outer IPv4 options: sizes differ legitimately, checked above only
    if (v4 ? !(o[14 + 4] & 0x80) : !(o[14 + 1] & XI_ENCAP_FLOW_SECOND_CHANCE))
        return "second chance without the marker";
    if (!std::equal(in.begin() + 14 + outer, in.end(), o.begin() + 14 + outer))
        return "second chance changed the inner datagram";
    return "";
}

bool is_guard(Prog p)
{
    return p == Prog::GuardIngressL2 || p == Prog::GuardEgressL2;
}

// The guard, fed every frame marked: a pass changes nothing and is not bound for a metadata
// address (when IP the hook could parse); the mark is left as it was.
std::string check_guard(const Run &x, bool drop)
{
    if (x.r.mark != kFuzzMark)
        return "the guard changed the mark";
    if (drop)
        return "";
    for (const auto &[key, n] : x.moved)
        if (key.second != XI_R_PASS_VLAN_DEPTH && key.second != XI_R_PASS_EXTHDR)
            return "a guard pass counted " + describe(x.moved);
    if (x.moved.empty()) {
        auto [l3, type] = skip_l2(x.in, 0);
        auto ip = ip_at(x.in, l3, type);
        if (ip && world().is_metadata(ip->dst))
            return "passed a marked packet to the metadata address " + ip->dst.str();
    }
    return x.r.out == x.in ? "" : "the guard changed the frame";
}

std::string check_run(const Run &x)
{
    const int rv = x.r.retval;
    const bool drop = x.prog == Prog::XdpPublic ? rv == XDP_DROP : rv == TC_ACT_SHOT;
    if (x.prog == Prog::XdpPublic ? (rv != XDP_PASS && rv != XDP_DROP)
        : x.prog == Prog::TcPublicIngress
            ? (rv != TC_ACT_UNSPEC && rv != TC_ACT_SHOT && rv != TC_ACT_REDIRECT)
        : x.prog == Prog::TcPublicEgress ? rv != TC_ACT_UNSPEC
        : x.prog == Prog::MeshIngress
            ? (rv != TC_ACT_UNSPEC && rv != TC_ACT_SHOT && rv != TC_ACT_REDIRECT)
            : (rv != TC_ACT_UNSPEC && rv != TC_ACT_SHOT))
        return "verdict " + std::to_string(rv) + " is not one this hook gives";
    if (drop != x.any_drop())
        return drop ? "dropped without a drop reason" : "a drop reason counted on a pass";
    if (is_guard(x.prog))
        return check_guard(x, drop);
    if (x.prog == Prog::MeshIngress && !drop && !(x.r.mark & kFuzzMark))
        return "mesh ingress passed a frame without the guard's mark";
    if (x.prog == Prog::TcPublicEgress) {
        if (!x.moved.empty() && (x.moved.size() != 1 || !x.counted(XI_R_MSS_CLAMPED)))
            return "public egress counted " + describe(x.moved);
        return check_unchanged_but_mss(x);
    }
    if (x.moved.empty())
        return "nothing counted";
    if (drop)
        return "";
    if (rv == TC_ACT_REDIRECT && x.prog == Prog::MeshIngress)
        return check_second_chance(x);
    if (rv == TC_ACT_REDIRECT)
        return check_encapsulated(x);
    if (x.prog == Prog::MeshIngress || x.prog == Prog::MeshEgress) {
        if (auto why = check_mesh_metadata(x); !why.empty())
            return why;
        // Decapsulated steering traffic (delivered here, second chance or not).
        if (x.counted(XI_R_DECAP) || x.counted(XI_R_SECOND_CHANCE_HELD) ||
            x.counted(XI_R_SECOND_CHANCE_IN))
            return "";
    }
    return check_unchanged_but_mss(x);
}

} // namespace

std::string check_packet_bytes(const uint8_t *data, size_t size)
{
    static const std::pair<Prog, uint32_t> progs[] = {
        {Prog::XdpPublic, XI_HOOK_XDP_PUBLIC},
        {Prog::TcPublicIngress, XI_HOOK_TC_PUBLIC_INGRESS},
        {Prog::TcPublicEgress, XI_HOOK_TC_PUBLIC_EGRESS},
        {Prog::MeshIngress, XI_HOOK_TC_MESH_INGRESS},
        {Prog::MeshEgress, XI_HOOK_TC_MESH_EGRESS},
        {Prog::GuardIngressL2, XI_HOOK_TC_GUARD_INGRESS},
        {Prog::GuardEgressL2, XI_HOOK_TC_GUARD_EGRESS}};
    // test_run wants a whole Ethernet header; frames stay below a jumbo MTU.
    if (size < 1 + 14 || size > 1 + 9000)
        return "";
    const size_t which = data[0] % std::size(progs);
    auto [prog, hook] = progs[which];
    // Executions per program, said at exit (the closing notes quote them).
    static uint64_t runs[std::size(progs)] = {};
    static const bool said = [] {
        return std::atexit([] {
                   std::fprintf(stderr,
                                "packet fuzz runs: xdp_public %lu, tc public ingress %lu, tc "
                                "public egress %lu, mesh ingress %lu, mesh egress %lu, guard "
                                "ingress %lu, guard egress %lu\n",
                                runs[0], runs[1], runs[2], runs[3], runs[4], runs[5], runs[6]);
               }) == 0;
    }();
    (void)said;
    runs[which]++;
    const Bytes in(data + 1, data + size);
    auto &fx = world().fx;
    auto before = fx.counters();
    Run x{prog, hook, in, {}, {}};
    try {
        // Every frame the guard sees is marked: unmarked ones it passes at the first load.
        x.r = prog == Prog::XdpPublic ? fx.run_xdp(in)
                                      : fx.run_tc(prog, in, 0, is_guard(prog) ? kFuzzMark : 0);
    } catch (const test::TestRunError &e) {
        // EINVAL is test_run refusing the input before any program runs (the kernel wants the
        // whole IP header of an IP frame in an skb); any other failure is the program's.
        return e.err == EINVAL ? "" : e.what();
    }
    for (const auto &[key, n] : fx.counters() - before)
        if (key.first == hook)
            x.moved[key] = n;
        else
            return "a counter of another hook moved: " + describe({{key, n}});
    auto why = check_run(x);
    return why.empty() ? "" : "hook " + std::to_string(hook) + ": " + why;
}

} // namespace xi::fuzz
