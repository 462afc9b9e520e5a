// The encapsulation path end to end, through the attached datapath on real devices, in every
// hand-off mode this kernel can run (tests/lib/handoff_modes.h):
//
//   crafted frame -> xi_xdp_public (xdp_mark: decides and marks the packet in the XDP metadata;
//     tc: early drops only; xdp_mark_fails: decides, the mark fails)
//     -> pub0's stack -> xi_tc_pub_in on pub0 (acts on the mark or decides itself; strip tags,
//        encapsulate, bpf_redirect)
//     -> mesh0 (a veth standing in for wg0: it has an Ethernet header, so the L2 mesh entries
//        are attached) -> mesh0p, where an AF_PACKET socket captures what the mesh carries.
//
// Plain skb BPF_PROG_TEST_RUN cannot hand XDP metadata to a TC program. XDP test_run in
// live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES) can: frames the program passes become skbs with
// the metadata and go to netif_receive_skb on the device named by ingress_ifindex, i.e. through
// pub0's real TC ingress. XDP, TC ingress and mesh0's TC egress all run inside the test_run
// call, so the counters are final when it returns; only mesh0p's receive goes through a backlog.
// The GRO cases send from the veth peer pub0p instead, so the frames cross pub0's NAPI (native
// XDP, then GRO) like frames from a NIC.
//
// Everything lives in a throwaway network namespace that the test thread joins (setns applies to
// the calling thread only) and leaves again; the thread is pinned to one CPU meanwhile, so every
// frame and the end-of-capture sentinel share one backlog queue and arrive in order.
#include <net/if.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <ostream>
#include <pthread.h>
#include <sched.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

#include "bpffs.h"
#include "compile.h"
#include "config.h"
#include "counters.h"
#include "datapath_fixture.h"
#include "handoff_params.h"
#include "instance.h"
#include "netns.h"
#include "owner.h"
#include "packet.h"
#include "packet_check.h"
#include "privileges.h"
#include "steer_config.h"
#include "sysctl.h"
#include "xi_reasons.h"

namespace xi::test
{
namespace
{

constexpr uint32_t kXdp = XI_HOOK_XDP_PUBLIC;
constexpr uint32_t kPubIn = XI_HOOK_TC_PUBLIC_INGRESS;
constexpr uint32_t kMeshOut = XI_HOOK_TC_MESH_EGRESS;

constexpr const char *kNode = "edge-a";
constexpr const char *kClient4 = "203.0.113.7";
constexpr const char *kVip4 = "198.51.100.10";
constexpr const char *kClient6 = "2001:db8:ffff::7";
constexpr const char *kVip6 = "2001:db8:100::10";
constexpr uint32_t kMeshMtu = 1420; // steer_config.h: fleet.mesh_mtu

// The veth ends get fixed addresses: the client's frames come from pub0p to pub0.
const Mac kClientMac = mac("02:00:00:00:00:01"); // pub0p
const Mac kPubMac = mac("02:00:00:00:00:02");    // pub0
const Mac kMeshMac = mac("02:00:00:00:01:01");   // mesh0
const Mac kMeshPeerMac = mac("02:00:00:00:01:02");

// kSteerConfig with this node's mesh on mesh0 instead of wg0.
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

// Runs a command; throws with its output when it fails.
std::string sh(const std::string &cmd)
{
    FILE *p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p)
        throw std::runtime_error("popen failed: " + cmd);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof(buf), p))
        out += buf;
    int st = pclose(p);
    if (st != 0)
        throw std::runtime_error(cmd + " failed (" + std::to_string(st) + "): " + out);
    return out;
}

class Fd
{
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd()
    {
        if (fd_ >= 0)
            close(fd_);
    }
    Fd(Fd &&o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd &operator=(Fd &&o) noexcept
    {
        std::swap(fd_, o.fd_);
        return *this;
    }
    int get() const { return fd_; }

private:
    int fd_;
};

[[noreturn]] void fail_errno(const std::string &what)
{
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

// A named network namespace (`ip netns add`), deleted with everything in it on destruction.
class ScratchNetns
{
public:
    explicit ScratchNetns(std::string name) : name_(std::move(name))
    {
        sh("ip netns add " + name_);
    }
    ~ScratchNetns()
    {
        try {
            sh("ip netns del " + name_);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "cleanup: %s\n", e.what());
        }
    }
    ScratchNetns(const ScratchNetns &) = delete;
    ScratchNetns &operator=(const ScratchNetns &) = delete;
    const std::string &name() const { return name_; }

private:
    std::string name_;
};

// The calling thread joins a network namespace and returns to its previous one on destruction.
class JoinNetns
{
public:
    explicit JoinNetns(const std::string &name)
        : prev_(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC))
    {
        if (prev_.get() < 0)
            fail_errno("open /proc/thread-self/ns/net");
        join_netns(name);
    }
    ~JoinNetns()
    {
        // Staying in a deleted namespace would silently break every later test in this process.
        if (setns(prev_.get(), CLONE_NEWNET) != 0) {
            std::perror("cannot return to the previous network namespace");
            std::abort();
        }
    }
    JoinNetns(const JoinNetns &) = delete;
    JoinNetns &operator=(const JoinNetns &) = delete;

private:
    Fd prev_;
};

// Pins the calling thread to the CPU it runs on; restores the affinity on destruction.
class PinCpu
{
public:
    PinCpu()
    {
        if (pthread_getaffinity_np(pthread_self(), sizeof(prev_), &prev_) != 0)
            throw std::runtime_error("pthread_getaffinity_np");
        int cpu = sched_getcpu();
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu < 0 ? 0 : cpu, &one);
        if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one) != 0)
            throw std::runtime_error("pthread_setaffinity_np");
    }
    ~PinCpu() { pthread_setaffinity_np(pthread_self(), sizeof(prev_), &prev_); }
    PinCpu(const PinCpu &) = delete;
    PinCpu &operator=(const PinCpu &) = delete;

private:
    cpu_set_t prev_;
};

class TempFile
{
public:
    explicit TempFile(const std::string &content)
    {
        std::string tmpl = "/tmp/xichain-" + std::to_string(getpid()) + "-XXXXXX.yaml";
        Fd fd(mkstemps(tmpl.data(), 5));
        if (fd.get() < 0)
            fail_errno("mkstemps");
        path_ = tmpl;
        if (write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
            fail_errno("write " + path_);
    }
    ~TempFile() { unlink(path_.c_str()); }
    TempFile(const TempFile &) = delete;
    TempFile &operator=(const TempFile &) = delete;
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

// The devices, created inside the namespace the thread has joined (they die with it).
struct Devices {
    explicit Devices(const std::string &ns)
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
};

// attach_instance / detach_instance (in the namespace the thread has joined).
class Instance
{
public:
    Instance(const std::string &config_path, const std::string &netns, const HandoffMode &mode)
        : name_(scratch_instance("chain"))
    {
        AttachOptions o;
        o.config_path = config_path;
        o.node = kNode;
        o.instance = name_;
        o.netns = netns;
        o.handoff =
            mode.handoff == XI_HANDOFF_XDP_MARK ? HandoffRequest::XdpMark : HandoffRequest::Tc;
        o.test_mark_fails = mode.mark_fails;
        report_ = attach_instance(o); // rolls itself back if it throws
    }
    ~Instance()
    {
        try {
            detach_instance(Paths{}, name_);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "cleanup: detach %s: %s\n", name_.c_str(), e.what());
        }
    }
    Instance(const Instance &) = delete;
    Instance &operator=(const Instance &) = delete;
    const AttachReport &report() const { return report_; }
    std::string pin(const std::string &name) const { return Paths{}.instance(name_) + "/" + name; }

private:
    std::string name_;
    AttachReport report_;
};

Fd packet_socket(const std::string &ifname, uint16_t proto)
{
    // Protocol 0 until bound: an ETH_P_ALL socket would queue every device's frames meanwhile.
    Fd fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (fd.get() < 0)
        fail_errno("socket(AF_PACKET)");
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(proto);
    sll.sll_ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    if (!sll.sll_ifindex)
        fail_errno("if_nametoindex " + ifname);
    if (bind(fd.get(), reinterpret_cast<sockaddr *>(&sll), sizeof(sll)) != 0)
        fail_errno("bind AF_PACKET to " + ifname);
    return fd;
}

void send_frame(int fd, const Bytes &frame)
{
    if (send(fd, frame.data(), frame.size(), 0) != static_cast<ssize_t>(frame.size()))
        fail_errno("send");
}

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

// What mesh0p receives. A sentinel frame sent into mesh0 marks the end of a capture: the test
// thread is pinned to one CPU, so it queues behind everything the datapath sent before it.
class MeshCapture
{
public:
    MeshCapture() : rx_(packet_socket("mesh0p", ETH_P_ALL)), tx_(packet_socket("mesh0", 0))
    {
        timeval tv{0, 200 * 1000};
        if (setsockopt(rx_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
            fail_errno("SO_RCVTIMEO");
    }

    std::vector<Bytes> until_sentinel()
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

private:
    Fd rx_, tx_;
    unsigned seq_ = 0;
};

// struct virtio_net_hdr (linux/virtio_net.h does not compile as C++: a field is named `class`).
// Packet sockets use it in little-endian, this host's order.
struct VnetHdr {
    uint8_t flags = 0;
    uint8_t gso_type = 0;
    uint16_t hdr_len = 0, gso_size = 0, csum_start = 0, csum_offset = 0;
};
static_assert(sizeof(VnetHdr) == 10);
constexpr uint8_t kVnetNeedsCsum = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr uint8_t kVnetGsoTcp4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4

struct NodeFwd {
    uint64_t packets = 0, bytes = 0;
    bool operator==(const NodeFwd &) const = default;
};
using NodeFwdMap = std::map<uint16_t, NodeFwd>; // node slot -> forwarded

std::ostream &operator<<(std::ostream &os, const NodeFwd &f)
{
    return os << "{" << f.packets << " packets, " << f.bytes << " bytes}";
}

// What one injected frame did: counters that moved, per-node forwarding, frames on the mesh.
struct Outcome {
    Counters delta;
    NodeFwdMap fwd;
    std::vector<Bytes> mesh;
};

std::string describe(const std::vector<Bytes> &frames)
{
    std::string s = std::to_string(frames.size()) + " frame(s) on the mesh";
    for (const auto &f : frames)
        s += "\n  " + summary(parse(f));
    return s;
}

// What a run of this test left behind when it died without running its destructors (killed,
// crashed): names carry the pid of the process that made them, so only dead processes' go.
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

class ChainEnv
{
public:
    explicit ChainEnv(const HandoffMode &mode)
        : ns_("xichain-" + std::to_string(getpid()) + "-" + std::to_string(counter_++)),
          join_(ns_.name()), devices_(ns_.name()), config_(chain_config()),
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
    }

    const GenContent &gen() const { return gen_; }
    const AttachReport &report() const { return inst_.report(); }
    bool xdp_native() const { return xdp_native_; }

    // XDP test_run, live frames, ingress pub0: the frame goes on through pub0's stack.
    Outcome inject(const Bytes &frame)
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

    // A frame sent by pub0p (with a virtio_net_hdr: may be a GSO frame) arrives on pub0 through
    // its NAPI: native XDP, GRO, TC. That runs in softirq context, so wait for the counters.
    Outcome send_from_peer(const VnetHdr &vh, const Bytes &frame,
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

private:
    using Snapshot = std::pair<Counters, NodeFwdMap>;

    Counters counters() const
    {
        Counters c;
        for (const auto &row : read_reason_counters(stats_.get()))
            c[{row.hook, row.reason}] = row.packets;
        return c;
    }
    NodeFwdMap node_fwd() const
    {
        NodeFwdMap m;
        for (const auto &n : read_node_counters(node_stats_.get()))
            if (n.fwd_packets)
                m[static_cast<uint16_t>(n.slot)] = {n.fwd_packets, n.fwd_bytes};
        return m;
    }
    Snapshot snapshot() const { return {counters(), node_fwd()}; }

    Outcome finish(const Snapshot &before)
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

    struct Sweep {
        Sweep() { sweep_leftovers(); }
    };
    static inline int counter_ = 0;
    Sweep sweep_; // before anything of ours exists
    ScratchNetns ns_;
    JoinNetns join_;
    PinCpu pin_;
    Devices devices_;
    TempFile config_;
    Instance inst_;
    Fd xdp_, stats_, node_stats_;
    bool xdp_native_ = false;
    uint32_t pub0_ = 0;
    GenContent gen_;
    std::unique_ptr<MeshCapture> capture_;
};

std::string problems(const ParsedPacket &p)
{
    std::string s;
    for (const auto &x : p.problems)
        s += x + "; ";
    return s;
}

class EncapChain : public ::testing::TestWithParam<HandoffMode>
{
protected:
    void SetUp() override
    {
        XI_REQUIRE_PRIVILEGES();
        mode_ = GetParam();
        env_ = std::make_unique<ChainEnv>(mode_);
        self_ = slot_of(kNode);
    }

    // The counters of a packet decided as `reason` in this mode, plus what followed.
    Counters decided(uint32_t reason, bool forwarded, Counters then = {}, uint64_t xdp_n = 1)
    {
        Counters c = steer_counters(mode_, reason, forwarded, xdp_n);
        for (const auto &[k, v] : then)
            c[k] += v;
        return c;
    }
    void TearDown() override { env_.reset(); }

    uint16_t slot_of(const std::string &name) const
    {
        const auto &names = env_->gen().node_names;
        for (size_t i = 0; i < names.size(); i++)
            if (names[i] == name)
                return static_cast<uint16_t>(i);
        throw std::runtime_error("no node " + name);
    }
    uint16_t owner_of(const std::string &c, const std::string &v, uint16_t sp, uint16_t dp,
                      uint8_t proto) const
    {
        return flow_owner(env_->gen(), {*IpAddr::parse(c), *IpAddr::parse(v), sp, dp, proto});
    }
    // A client port whose flow to vip:dport is owned by this edge (by_self) or by a sibling.
    uint16_t port_owned(const std::string &client, const std::string &vip, uint16_t dport,
                        uint8_t proto, bool by_self) const
    {
        for (uint16_t p = 1024; p < 65000; p++)
            if ((owner_of(client, vip, p, dport, proto) == self_) == by_self)
                return p;
        throw std::runtime_error("no such port");
    }
    std::string mesh4(uint16_t slot) const
    {
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &env_->gen().nodes.at(slot).mesh4, buf, sizeof(buf));
        return buf;
    }
    std::string mesh6(uint16_t slot) const
    {
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, env_->gen().nodes.at(slot).mesh6.w, buf, sizeof(buf));
        return buf;
    }

    // The frame as it must leave into the mesh: the public frame's Ethernet header unchanged
    // (bpf_redirect drops it on an L3 device like wg0; on this L2 stand-in it stays, still
    // addressed to pub0), the outer header from this edge to the owner, the client's packet.
    Packet outer4(uint16_t owner, uint8_t ttl, uint8_t tos) const
    {
        return Packet()
            .eth(kClientMac, kPubMac)
            .ipv4(mesh4(self_), mesh4(owner))
            .ttl(ttl)
            .tos(tos)
            .df();
    }
    Packet outer6(uint16_t owner, uint8_t hops, uint8_t tclass) const
    {
        return Packet()
            .eth(kClientMac, kPubMac)
            .ipv6(mesh6(self_), mesh6(owner))
            .hop_limit(hops)
            .traffic_class(tclass);
    }

    // Exactly one frame on the mesh, byte for byte `want`, valid by the independent checker;
    // counted as decided `reason` (where this mode decides), TC redirect, mesh egress steer_out,
    // and in the owner's per-node counters with the encapsulated IP packet's length.
    void expect_forwarded(const Outcome &o, const Bytes &want, uint16_t owner,
                          uint32_t reason = XI_R_FORWARD)
    {
        EXPECT_EQ(o.delta, decided(reason, true,
                                   {{{kPubIn, XI_R_REDIRECT}, 1}, {{kMeshOut, XI_R_STEER_OUT}, 1}}))
            << xi::describe(o.delta);
        EXPECT_EQ(o.fwd, (NodeFwdMap{{owner, {1, want.size() - ETH_HLEN}}}));
        ASSERT_EQ(o.mesh.size(), 1u) << describe(o.mesh);
        const Bytes &out = o.mesh[0];
        EXPECT_EQ(out, want) << hexdiff(want, out);
        auto p = parse(out);
        EXPECT_TRUE(p.ok()) << problems(p);
    }

    // Nothing on the mesh, exactly these counters, no per-node forwarding.
    void expect_not_forwarded(const Outcome &o, const Counters &want)
    {
        EXPECT_EQ(o.delta, want) << xi::describe(o.delta);
        EXPECT_TRUE(o.fwd.empty());
        EXPECT_TRUE(o.mesh.empty()) << describe(o.mesh);
    }

    HandoffMode mode_{kModeTc};
    std::unique_ptr<ChainEnv> env_;
    uint16_t self_ = 0;
};

// Packets the XDP program has seen, whatever it counted them as.
uint64_t xdp_seen(const Counters &d)
{
    uint64_t n = 0;
    for (const auto &[k, v] : d)
        if (k.first == kXdp)
            n += v;
    return n;
}

TEST_P(EncapChain, AttachedLikeAnEdgeWithAnL2Mesh)
{
    // The setup itself: the generation this test computes owners from is the one attach
    // published, native XDP on the veth, the L2 mesh entries on mesh0.
    EXPECT_EQ(env_->gen().table_sha256, env_->report().state.table_sha256);
    EXPECT_TRUE(env_->xdp_native());
    for (const auto &a : env_->report().state.attachments) {
        if (a.ifname == "mesh0") {
            EXPECT_NE(a.prog_name.find("_l2"), std::string::npos) << a.prog_name;
        }
        bool handoff_hook = a.hook == XI_HOOK_XDP_PUBLIC || a.hook == XI_HOOK_TC_PUBLIC_INGRESS;
        EXPECT_EQ(a.handoff, handoff_hook ? mode_.handoff : XI_HANDOFF_NONE) << a.prog_name;
    }
}

TEST_P(EncapChain, Ipv4FlowOfASiblingLeavesAsIpipToItsOwner)
{
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient4, kVip4, sport, 443, IPPROTO_TCP);
    // Non-default TTL, DSCP (AF41 = 34) and ECN (ECT(1)) prove they are copied, not defaulted;
    // the inner packet has no DF, so the outer DF is the encapsulation's own.
    const uint8_t ttl = 37, tos = 34 << 2 | 1;
    auto flow = [&](Packet p) {
        return p.ipv4(kClient4, kVip4)
            .ttl(ttl)
            .tos(tos)
            .ip_id(0x4242)
            .tcp(sport, 443)
            .seq(1000)
            .ack(2000)
            .psh()
            .payload(100);
    };
    auto sent = flow(Packet().eth(kClientMac, kPubMac)).build();
    auto want = flow(outer4(owner, ttl, tos)).build();
    auto o = env_->inject(sent);
    expect_forwarded(o, want, owner);
    ASSERT_EQ(o.mesh.size(), 1u);

    // The same, field by field, read by the independent parser.
    auto p = parse(o.mesh[0]);
    ASSERT_EQ(p.ips.size(), 2u) << summary(p);
    const IpInfo &out = p.ips[0];
    EXPECT_EQ(out.src, mesh4(self_));
    EXPECT_EQ(out.dst, mesh4(owner));
    EXPECT_NE(owner, self_);
    EXPECT_EQ(out.proto, IPPROTO_IPIP);
    EXPECT_EQ(out.tot_len, sent.size() - ETH_HLEN + 20);
    EXPECT_TRUE(out.df);
    EXPECT_FALSE(out.mf);
    EXPECT_EQ(out.frag_offset, 0);
    EXPECT_EQ(out.ttl, ttl);
    EXPECT_EQ(out.tos, tos);
    EXPECT_EQ(out.ihl, 5);
    // Inner packet byte-identical to what the client sent.
    EXPECT_TRUE(std::equal(sent.begin() + ETH_HLEN, sent.end(), o.mesh[0].begin() + ETH_HLEN + 20,
                           o.mesh[0].end()));
}

TEST_P(EncapChain, Ipv6FlowOfASiblingLeavesAsIp6ip6ToItsOwner)
{
    uint16_t sport = port_owned(kClient6, kVip6, 443, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient6, kVip6, sport, 443, IPPROTO_TCP);
    const uint8_t hops = 9, tclass = 46 << 2 | 2; // EF, ECT(0)
    auto flow = [&](Packet p) {
        return p.ipv6(kClient6, kVip6)
            .hop_limit(hops)
            .traffic_class(tclass)
            .flow_label(0xbeef5)
            .tcp(sport, 443)
            .ack(1)
            .payload(200);
    };
    auto sent = flow(Packet().eth(kClientMac, kPubMac)).build();
    // The outer flow label is 0: ours to choose (RFC 2473), the inner one travels inside.
    auto want = flow(outer6(owner, hops, tclass)).build();
    auto o = env_->inject(sent);
    expect_forwarded(o, want, owner);
    ASSERT_EQ(o.mesh.size(), 1u);

    auto p = parse(o.mesh[0]);
    ASSERT_EQ(p.ips.size(), 2u) << summary(p);
    const IpInfo &out = p.ips[0];
    EXPECT_EQ(out.src, mesh6(self_));
    EXPECT_EQ(out.dst, mesh6(owner));
    EXPECT_EQ(out.proto, IPPROTO_IPV6);
    EXPECT_EQ(out.payload_len, sent.size() - ETH_HLEN);
    EXPECT_EQ(out.ttl, hops);
    EXPECT_EQ(out.tos, tclass);
    EXPECT_EQ(out.flow_label, 0u);
    EXPECT_TRUE(std::equal(sent.begin() + ETH_HLEN, sent.end(), o.mesh[0].begin() + ETH_HLEN + 40,
                           o.mesh[0].end()));
}

TEST_P(EncapChain, VlanAndQinqTagsStayOffTheMesh)
{
    // The stack moves the outer tag out of the frame before TC (skb vlan_present); a QinQ
    // frame keeps its inner tag in the data. Both must be gone: the mesh is L3.
    uint16_t sport = port_owned(kClient4, kVip4, 80, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient4, kVip4, sport, 80, IPPROTO_TCP);
    auto flow4 = [&](Packet p) {
        return p.ipv4(kClient4, kVip4).ttl(60).tos(8).tcp(sport, 80).syn().mss(1460);
    };
    auto want4 = flow4(outer4(owner, 60, 8)).build();
    struct Case {
        const char *what;
        Packet l2;
    };
    std::vector<Case> cases = {
        {"802.1Q", Packet().eth(kClientMac, kPubMac).vlan(100, 5)},
        {"QinQ 802.1ad + 802.1Q", Packet().eth(kClientMac, kPubMac).svlan(10).vlan(20)},
        {"QinQ 802.1Q + 802.1Q", Packet().eth(kClientMac, kPubMac).vlan(30).vlan(40)},
    };
    for (auto &c : cases) {
        SCOPED_TRACE(c.what);
        expect_forwarded(env_->inject(flow4(c.l2).build()), want4, owner);
    }

    uint16_t sport6 = port_owned(kClient6, kVip6, 443, IPPROTO_TCP, false);
    uint16_t owner6 = owner_of(kClient6, kVip6, sport6, 443, IPPROTO_TCP);
    auto flow6 = [&](Packet p) {
        return p.ipv6(kClient6, kVip6).hop_limit(50).tcp(sport6, 443).ack(9).payload(33);
    };
    SCOPED_TRACE("IPv6 in QinQ");
    expect_forwarded(
        env_->inject(flow6(Packet().eth(kClientMac, kPubMac).svlan(7).vlan(8)).build()),
        flow6(outer6(owner6, 50, 0)).build(), owner6);
}

TEST_P(EncapChain, MeshMtuIsTheLimitAfterEncapsulation)
{
    // Decided: a packet that would exceed the mesh MTU once encapsulated is dropped and counted
    // (mesh_mtu), never fragmented (outer DF) and not answered with ICMP: the owner clamps the
    // MSS of every VIP flow so that TCP never gets there.
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient4, kVip4, sport, 443, IPPROTO_TCP);
    auto flow4 = [&](Packet p, size_t ip_len) {
        return p.ipv4(kClient4, kVip4).df().tcp(sport, 443).ack(1).payload(ip_len - 40);
    };
    {
        SCOPED_TRACE("IPv4 1400 + 20 = 1420: fits");
        auto o = env_->inject(flow4(Packet().eth(kClientMac, kPubMac), 1400).build());
        expect_forwarded(o, flow4(outer4(owner, 64, 0), 1400).build(), owner);
        ASSERT_EQ(o.mesh.size(), 1u);
        EXPECT_EQ(o.mesh[0].size(), ETH_HLEN + kMeshMtu);
    }
    {
        SCOPED_TRACE("IPv4 1401 + 20: dropped");
        auto o = env_->inject(flow4(Packet().eth(kClientMac, kPubMac), 1401).build());
        expect_not_forwarded(o, decided(XI_R_FORWARD, true, {{{kPubIn, XI_R_DROP_MESH_MTU}, 1}}));
    }

    uint16_t sport6 = port_owned(kClient6, kVip6, 443, IPPROTO_TCP, false);
    uint16_t owner6 = owner_of(kClient6, kVip6, sport6, 443, IPPROTO_TCP);
    auto flow6 = [&](Packet p, size_t ip_len) {
        return p.ipv6(kClient6, kVip6).tcp(sport6, 443).ack(1).payload(ip_len - 60);
    };
    {
        SCOPED_TRACE("IPv6 1380 + 40 = 1420: fits");
        auto o = env_->inject(flow6(Packet().eth(kClientMac, kPubMac), 1380).build());
        expect_forwarded(o, flow6(outer6(owner6, 64, 0), 1380).build(), owner6);
        ASSERT_EQ(o.mesh.size(), 1u);
        EXPECT_EQ(o.mesh[0].size(), ETH_HLEN + kMeshMtu);
    }
    {
        SCOPED_TRACE("IPv6 1381 + 40: dropped");
        auto o = env_->inject(flow6(Packet().eth(kClientMac, kPubMac), 1381).build());
        expect_not_forwarded(o, decided(XI_R_FORWARD, true, {{{kPubIn, XI_R_DROP_MESH_MTU}, 1}}));
    }
}

TEST_P(EncapChain, LocallyOwnedFlowNeverReachesTheMesh)
{
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, true);
    auto pkt = Packet().eth(kClientMac, kPubMac).ipv4(kClient4, kVip4).tcp(sport, 443).syn();
    expect_not_forwarded(env_->inject(pkt.build()), decided(XI_R_LOCAL, false));

    uint16_t sport6 = port_owned(kClient6, kVip6, 443, IPPROTO_TCP, true);
    auto pkt6 = Packet().eth(kClientMac, kPubMac).ipv6(kClient6, kVip6).tcp(sport6, 443).syn();
    expect_not_forwarded(env_->inject(pkt6.build()), decided(XI_R_LOCAL, false));
}

TEST_P(EncapChain, TunnelledPacketsFromTheInternetNeverReachTheMesh)
{
    // What an attacker would send to get into the mesh: IPIP / IP6IP6 addressed to a sibling's
    // mesh address, carrying a VIP flow that sibling owns.
    uint16_t b = slot_of("edge-b");
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    auto ipip = Packet().eth(kClientMac, kPubMac).ipv4(kClient4, mesh4(b)).ipv4(kClient4, kVip4);
    expect_not_forwarded(env_->inject(ipip.tcp(sport, 443).syn().build()),
                         decided(XI_R_PUBLIC_ENCAP, false));

    auto ip6ip6 = Packet().eth(kClientMac, kPubMac).ipv6(kClient6, mesh6(b)).ipv6(kClient6, kVip6);
    expect_not_forwarded(env_->inject(ip6ip6.tcp(1234, 443).syn().build()),
                         decided(XI_R_PUBLIC_ENCAP, false));
}

TEST_P(EncapChain, IcmpErrorsGoToTheOwnerOfTheirFlow)
{
    // A router on the client's path says our SYN-ACK (VIP -> client) was too big: the error
    // belongs to the owner of client -> VIP, which holds the socket.
    uint16_t cport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient4, kVip4, cport, 443, IPPROTO_TCP);
    auto quoted = Packet().ipv4(kVip4, kClient4).df().tcp(443, cport).syn().ack(1).mss(1360);
    auto err = [&](Packet p) {
        return p.ipv4("192.0.2.1", kVip4).ttl(250).tos(0xc0).icmp4_frag_needed(1280).inner(quoted);
    };
    expect_forwarded(env_->inject(err(Packet().eth(kClientMac, kPubMac)).build()),
                     err(outer4(owner, 250, 0xc0)).build(), owner, XI_R_ICMP_STEERED);

    uint16_t cport6 = port_owned(kClient6, kVip6, 443, IPPROTO_TCP, false);
    uint16_t owner6 = owner_of(kClient6, kVip6, cport6, 443, IPPROTO_TCP);
    auto quoted6 = Packet().ipv6(kVip6, kClient6).tcp(443, cport6).ack(1).payload(1200);
    auto ptb = [&](Packet p) {
        return p.ipv6("2001:db8:1::1", kVip6)
            .hop_limit(255)
            .icmp6_packet_too_big(1280)
            .inner(quoted6, 1280 - 48);
    };
    expect_forwarded(env_->inject(ptb(Packet().eth(kClientMac, kPubMac)).build()),
                     ptb(outer6(owner6, 255, 0)).build(), owner6, XI_R_ICMP_STEERED);
}

TEST_P(EncapChain, EthernetPaddingStaysOffTheMesh)
{
    // A bare ACK is 54 bytes: on the wire it is padded to 60. The padding is not part of the
    // datagram and must not travel through the mesh (nor be counted as forwarded bytes).
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient4, kVip4, sport, 443, IPPROTO_TCP);
    auto flow = [&](Packet p) { return p.ipv4(kClient4, kVip4).tcp(sport, 443).ack(77); };
    auto sent = flow(Packet().eth(kClientMac, kPubMac)).pad_to_min(0xee).build();
    ASSERT_EQ(sent.size(), kEthMinFrame);
    expect_forwarded(env_->inject(sent), flow(outer4(owner, 64, 0)).build(), owner);
}

TEST_P(EncapChain, DatagramShorterThanItsHeaderSaysIsNotForwarded)
{
    // tot_len claims 20 bytes more than the frame holds: the stack would drop it, and the outer
    // header would carry the wrong length. Dropped at the encapsulation, counted.
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    auto pkt = Packet().eth(kClientMac, kPubMac).ipv4(kClient4, kVip4).tcp(sport, 443).ack(1);
    auto bytes = pkt.payload(100).build();
    bytes.resize(bytes.size() - 20);
    expect_not_forwarded(env_->inject(bytes),
                         decided(XI_R_FORWARD, true, {{{kPubIn, XI_R_DROP_BAD_HEADER}, 1}}));
}

// ---- GRO / GSO: frames from the veth peer ----------------------------------------------------

// A TCP super-frame for pub0p to segment (virtio_net_hdr GSO, checksum offload as virtio hands
// it over: the TCP checksum field holds the pseudo-header sum).
struct GsoFrame {
    VnetHdr vh{};
    Bytes frame;
};

GsoFrame tcp4_gso(uint16_t sport, uint16_t mss, unsigned segs, uint32_t seq, uint16_t ip_id,
                  uint8_t ttl, uint8_t tos)
{
    GsoFrame g;
    g.frame = Packet()
                  .eth(kClientMac, kPubMac)
                  .ipv4(kClient4, kVip4)
                  .df()
                  .ip_id(ip_id)
                  .ttl(ttl)
                  .tos(tos)
                  .tcp(sport, 443)
                  .seq(seq)
                  .ack(1)
                  .psh()
                  .payload(static_cast<size_t>(mss) * segs)
                  .build();
    const size_t l3 = ETH_HLEN, l4 = l3 + 20;
    const size_t tcp_len = g.frame.size() - l4;
    Bytes pseudo(g.frame.begin() + l3 + 12, g.frame.begin() + l3 + 20); // saddr, daddr
    pseudo.insert(pseudo.end(), {0, IPPROTO_TCP, static_cast<uint8_t>(tcp_len >> 8),
                                 static_cast<uint8_t>(tcp_len)});
    uint16_t partial = static_cast<uint16_t>(~inet_checksum(pseudo));
    g.frame[l4 + 16] = static_cast<uint8_t>(partial >> 8);
    g.frame[l4 + 17] = static_cast<uint8_t>(partial);
    g.vh.flags = kVnetNeedsCsum;
    g.vh.gso_type = kVnetGsoTcp4;
    g.vh.hdr_len = static_cast<uint16_t>(l4 + 20);
    g.vh.gso_size = mss;
    g.vh.csum_start = static_cast<uint16_t>(l4);
    g.vh.csum_offset = 16;
    return g;
}

TEST_P(EncapChain, GroMergedSegmentsLeaveAsSegmentsThatFitTheMesh)
{
    // pub0p segments one GSO frame into three MSS-1360 segments and hands them to pub0 in one
    // go; pub0's NAPI runs XDP on each (three marks), GRO merges them back into one skb
    // (gso_size 1360), TC encapsulates that skb once (the MTU check is per segment:
    // 20 + 20 + 20 + 1360 = 1420), and mesh0 segments the IPIP GSO packet: three packets of
    // exactly the mesh MTU, each a correct IPIP packet around the original segment.
    constexpr uint16_t mss = 1360;
    constexpr unsigned segs = 3;
    constexpr uint32_t seq = 7000;
    constexpr uint16_t id = 0x1000;
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    uint16_t owner = owner_of(kClient4, kVip4, sport, 443, IPPROTO_TCP);
    auto g = tcp4_gso(sport, mss, segs, seq, id, 50, 0x28);
    auto o = env_->send_from_peer(g.vh, g.frame, [](const Counters &d) {
        return xdp_seen(d) >= segs && d.count({kPubIn, XI_R_REDIRECT});
    });
    // One skb through TC: GRO merged the three segments (else redirect would be 3), and in the
    // modes where TC decides, it decided once for all three.
    EXPECT_EQ(o.delta,
              decided(XI_R_FORWARD, true,
                      {{{kPubIn, XI_R_REDIRECT}, 1}, {{kMeshOut, XI_R_STEER_OUT}, 1}}, segs))
        << xi::describe(o.delta);
    // Per-node counters count that skb: its encapsulated length (one set of headers).
    EXPECT_EQ(o.fwd, (NodeFwdMap{{owner, {1, 20 + 40 + segs * mss}}}));
    ASSERT_EQ(o.mesh.size(), segs) << describe(o.mesh);

    Bytes pattern(segs * mss); // Packet::payload(n): bytes 0x00, 0x01, ...
    for (size_t k = 0; k < pattern.size(); k++)
        pattern[k] = static_cast<uint8_t>(k);
    for (unsigned i = 0; i < segs; i++) {
        SCOPED_TRACE("segment " + std::to_string(i));
        const Bytes &out = o.mesh[i];
        auto p = parse(out);
        EXPECT_TRUE(p.ok()) << problems(p); // outer IP and inner IP + TCP checksums included
        ASSERT_EQ(out.size(), ETH_HLEN + kMeshMtu);
        ASSERT_EQ(p.ips.size(), 2u);
        // The outer IP ID of each segment is the kernel's GSO choice: take it from the packet.
        uint16_t outer_id = p.ips[0].id;
        Bytes chunk(pattern.begin() + i * mss, pattern.begin() + (i + 1) * mss);
        auto seg = outer4(owner, 50, 0x28)
                       .ip_id(outer_id)
                       .ipv4(kClient4, kVip4)
                       .df()
                       .ip_id(static_cast<uint16_t>(id + i))
                       .ttl(50)
                       .tos(0x28)
                       .tcp(sport, 443)
                       .seq(seq + i * mss)
                       .ack(1);
        if (i == segs - 1)
            seg.psh(); // GSO keeps PSH on the last segment only
        auto want = seg.payload(chunk).build();
        EXPECT_EQ(out, want) << hexdiff(want, out);
    }
}

TEST_P(EncapChain, GroMergedSegmentsTooBigForTheMeshAreDropped)
{
    // Same, with MSS 1361: the merged skb's segments would be 1421 bytes on the mesh.
    constexpr uint16_t mss = 1361;
    constexpr unsigned segs = 3;
    uint16_t sport = port_owned(kClient4, kVip4, 443, IPPROTO_TCP, false);
    auto g = tcp4_gso(sport, mss, segs, 1, 1, 64, 0);
    auto o = env_->send_from_peer(g.vh, g.frame, [](const Counters &d) {
        return xdp_seen(d) >= segs && d.count({kPubIn, XI_R_DROP_MESH_MTU});
    });
    expect_not_forwarded(o, decided(XI_R_FORWARD, true, {{{kPubIn, XI_R_DROP_MESH_MTU}, 1}}, segs));
}

INSTANTIATE_TEST_SUITE_P(Handoff, EncapChain, ::testing::ValuesIn(handoff_modes()),
                         handoff_mode_name);

} // namespace
} // namespace xi::test
