// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The encapsulation chain's environment (encap_chain_env.h).
#include "encap_chain_env.h"

#include <bpf/bpf.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

#include "bpffs.h"
#include "config.h"
#include "counters.h"
#include "packet_check.h"
#include "privileges.h"
#include "steer_config.h"
#include "sysctl.h"

namespace xi::test::chain
{

namespace
{

// ARP and IPv6 neighbour discovery / MLD: what a link says on its own, not our traffic.
bool is_noise(const Bytes &f)
{
    if (f.size() < 14)
        return false;
    uint16_t type = static_cast<uint16_t>(f[12] << 8 | f[13]);
    if (type == ETH_P_ARP)
        return true;
    if (type == ETH_P_IPV6 && f.size() >= 14 + 40) {
        bool multicast_dst = f[14 + 24] == 0xff;
        bool icmp6 = f[14 + 6] == IPPROTO_ICMPV6 || f[14 + 6] == 0 /* MLD: hop-by-hop */;
        return multicast_dst && icmp6;
    }
    return false;
}

} // namespace

std::string chain_config()
{
    std::string c = kSteerConfig;
    const std::string at = "  - name: edge-a\n";
    auto pos = c.find(at);
    if (pos == std::string::npos)
        throw std::logic_error("steer_config.h changed: no edge-a");
    c.insert(pos + at.size(), "    mesh_interface: mesh0\n");
    return c;
}

Devices::Devices(const std::string &ns)
{
    // No IPv6 on any device: no router solicitations, DAD or MLD reports to filter out of
    // the capture or the counters. TC still sees IPv6 frames; only the stack ignores them.
    write_sysctl("net.ipv6.conf.all.disable_ipv6", "1");
    write_sysctl("net.ipv6.conf.default.disable_ipv6", "1");
    const std::string ip = "ip -n " + ns + " ";
    sh(ip + "link set lo up");
    sh(ip + "link add pub0 address 02:00:00:00:00:02 type veth peer name pub0p address " +
       "02:00:00:00:00:01");
    sh(ip + "link add mesh0 address 02:00:00:00:01:01 mtu " + std::to_string(kMeshMtu) +
       " type veth peer name mesh0p address 02:00:00:00:01:02 mtu " + std::to_string(kMeshMtu));
    const std::string ethtool = "ip netns exec " + ns + " ethtool -K ";
    // pub0: GRO, so frames from pub0p can merge after XDP (the GSO case). pub0p: no checksum
    // offload, so the segments it makes of a GSO frame carry real checksums.
    sh(ethtool + "pub0 gro on");
    sh(ethtool + "pub0p tx off");
    // mesh0 (the "wg0"): segment IPIP GSO packets in software, with checksums, the way a
    // device without tunnel offloads does, so mesh0p sees every wire packet.
    sh(ethtool + "mesh0 tx off tx-ipxip4-segmentation off tx-ipxip6-segmentation off");
    for (const char *d : {"pub0", "pub0p", "mesh0", "mesh0p"})
        sh(ip + "link set " + d + " up");
}

Instance::Instance(const std::string &config_path, const std::string &netns,
                   const HandoffMode &mode)
    : name_(scratch_instance("chain"))
{
    AttachOptions o;
    o.config_path = config_path;
    o.node = kNode;
    o.instance = name_;
    o.netns = netns;
    o.handoff = mode.handoff == XI_HANDOFF_XDP_MARK ? HandoffRequest::XdpMark : HandoffRequest::Tc;
    o.test_mark_fails = mode.mark_fails;
    report_ = attach_instance(o); // rolls itself back if it throws
}

Instance::~Instance()
{
    try {
        detach_instance(Paths{}, name_);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cleanup: detach %s: %s\n", name_.c_str(), e.what());
    }
}

MeshCapture::MeshCapture() : rx_(packet_socket("mesh0p", ETH_P_ALL)), tx_(packet_socket("mesh0", 0))
{
    timeval tv{0, 200 * 1000};
    if (setsockopt(rx_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
        fail_errno("SO_RCVTIMEO");
}

std::vector<Bytes> MeshCapture::until_sentinel()
{
    Bytes sentinel = Packet().eth(kMeshMac, kMeshPeerMac).ethertype(0x88b5).payload(50).build();
    sentinel[14] = static_cast<uint8_t>(++seq_);
    sentinel[15] = static_cast<uint8_t>(seq_ >> 8);
    send_frame(tx_.get(), sentinel);

    std::vector<Bytes> got;
    Bytes buf(70000);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
        sockaddr_ll from{};
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(rx_.get(), buf.data(), buf.size(), MSG_TRUNC,
                             reinterpret_cast<sockaddr *>(&from), &flen);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            fail_errno("recvfrom mesh0p");
        }
        if (from.sll_pkttype == PACKET_OUTGOING)
            continue;
        if (static_cast<size_t>(n) > buf.size())
            throw std::runtime_error("frame of " + std::to_string(n) + " bytes on mesh0p");
        Bytes f(buf.begin(), buf.begin() + n);
        if (f == sentinel)
            return got;
        if (!is_noise(f))
            got.push_back(std::move(f));
    }
    throw std::runtime_error("the capture sentinel never arrived on mesh0p");
}

std::ostream &operator<<(std::ostream &os, const NodeFwd &f)
{
    return os << "{" << f.packets << " packets, " << f.bytes << " bytes}";
}

std::string describe(const std::vector<Bytes> &frames)
{
    std::string s = std::to_string(frames.size()) + " frame(s) on the mesh";
    for (const auto &f : frames)
        s += "\n  " + summary(parse(f));
    return s;
}

void sweep_leftovers()
{
    auto of_dead_process = [](const std::string &name, const std::string &prefix) {
        if (name.rfind(prefix, 0) != 0)
            return false;
        long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
        return pid > 0 && pid != getpid() && kill(static_cast<pid_t>(pid), 0) != 0 &&
               errno == ESRCH;
    };
    // The namespace first: its devices go, and with them every attachment to them.
    for (const auto &n : list_dir("/var/run/netns"))
        if (of_dead_process(n, "xichain-")) {
            try {
                sh("ip netns del " + n);
            } catch (const std::exception &e) {
                std::fprintf(stderr, "sweep: %s\n", e.what());
            }
        }
    // Then the pins (not detach_instance: a recorded ifindex means nothing in this namespace).
    Paths paths;
    for (const auto &n : list_dir(paths.root()))
        if (of_dead_process(n, "xitest-chain-")) {
            std::string dir = paths.instance(n);
            for (const auto &f : list_dir(dir))
                unlink((dir + "/" + f).c_str());
            rmdir(dir.c_str());
        }
    for (const auto &n : list_dir("/tmp"))
        if (of_dead_process(n, "xichain-"))
            unlink(("/tmp/" + n).c_str());
}

ChainEnv::ChainEnv(const HandoffMode &mode)
    : ns_("xichain-" + std::to_string(getpid()) + "-" + std::to_string(counter_++)),
      join_(std::in_place, ns_.name()), devices_(ns_.name()), config_(chain_config()),
      inst_(config_.path(), ns_.name(), mode)
{
    for (const auto &a : inst_.report().state.attachments)
        if (a.hook == XI_HOOK_XDP_PUBLIC) {
            xdp_ = Fd(bpf_prog_get_fd_by_id(a.prog_id));
            xdp_native_ = a.xdp_mode == XdpMode::Native;
        }
    if (xdp_.get() < 0)
        throw std::runtime_error("no XDP program attached to pub0");
    stats_ = Fd(bpf_obj_get(inst_.pin("xi_stats").c_str()));
    node_stats_ = Fd(bpf_obj_get(inst_.pin("xi_node_stats").c_str()));
    if (stats_.get() < 0 || node_stats_.get() < 0)
        fail_errno("bpf_obj_get counters");
    pub0_ = if_nametoindex("pub0");

    // The generation attach published, compiled again here: flow_owner needs its table.
    auto res = parse_config(chain_config(), "chain.yaml");
    if (!res.errors.empty())
        throw std::runtime_error(res.errors[0].str());
    CompileInput in;
    in.config = &*res.config;
    in.node = kNode;
    in.mesh_ifindex = if_nametoindex("mesh0");
    gen_ = compile_generation(in);
    capture_ = std::make_unique<MeshCapture>();
    join_.reset(); // each test enters for itself (Use)
}

ChainEnv::~ChainEnv()
{
    // The members go after this body, the instance and the devices in the namespace they were
    // made in, then join_ returns, then ns_ deletes the namespace.
    try {
        join_.emplace(ns_.name());
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cleanup: %s\n", e.what());
    }
}

Outcome ChainEnv::inject(const Bytes &frame)
{
    auto before = snapshot();
    xdp_md ctx{};
    ctx.data_end = static_cast<__u32>(frame.size());
    ctx.ingress_ifindex = pub0_;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<__u32>(frame.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx), .repeat = 1, .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
                .batch_size = 1);
    if (bpf_prog_test_run_opts(xdp_.get(), &opts) != 0)
        fail_errno("XDP live-frames test_run");
    return finish(before);
}

Outcome ChainEnv::send_from_peer(const VnetHdr &vh, const Bytes &frame,
                                 const std::function<bool(const Counters &)> &done)
{
    auto before = snapshot();
    Fd tx = packet_socket("pub0p", 0);
    int on = 1;
    if (setsockopt(tx.get(), SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on)) != 0)
        fail_errno("PACKET_VNET_HDR");
    Bytes buf(sizeof(vh) + frame.size());
    std::memcpy(buf.data(), &vh, sizeof(vh));
    std::memcpy(buf.data() + sizeof(vh), frame.data(), frame.size());
    send_frame(tx.get(), buf);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done(counters() - before.first) && std::chrono::steady_clock::now() < deadline)
        usleep(10 * 1000);
    return finish(before);
}

Counters ChainEnv::counters() const
{
    Counters c;
    for (const auto &row : read_reason_counters(stats_.get()))
        c[{row.hook, row.reason}] = row.packets;
    return c;
}

NodeFwdMap ChainEnv::node_fwd() const
{
    NodeFwdMap m;
    for (const auto &n : read_node_counters(node_stats_.get()))
        if (n.fwd_packets)
            m[static_cast<uint16_t>(n.slot)] = {n.fwd_packets, n.fwd_bytes};
    return m;
}

Outcome ChainEnv::finish(const Snapshot &before)
{
    Outcome o;
    o.delta = counters() - before.first;
    for (const auto &[slot, f] : node_fwd()) {
        auto it = before.second.find(slot);
        NodeFwd b = it == before.second.end() ? NodeFwd{} : it->second;
        if (f != b)
            o.fwd[slot] = {f.packets - b.packets, f.bytes - b.bytes};
    }
    // Counters first: the sentinel crosses mesh0's egress program too.
    o.mesh = capture_->until_sentinel();
    return o;
}

} // namespace xi::test::chain
