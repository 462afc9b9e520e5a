// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The encapsulation chain's environment (encap_chain_test.cpp says what the chain is): the
// fleet and addresses, the devices in the scratch namespace, the attached instance, the capture
// of what mesh0p receives, and ChainEnv, which puts them together and injects frames.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "compile.h"
#include "datapath_fixture.h"
#include "encap_chain_netns.h"
#include "handoff_modes.h"
#include "instance.h"
#include "packet.h"
#include "xi_reasons.h"

namespace xi::test::chain
{

inline constexpr uint32_t kXdp = XI_HOOK_XDP_PUBLIC;
inline constexpr uint32_t kPubIn = XI_HOOK_TC_PUBLIC_INGRESS;
inline constexpr uint32_t kMeshOut = XI_HOOK_TC_MESH_EGRESS;

inline constexpr const char *kNode = "edge-a";
inline constexpr const char *kClient4 = "203.0.113.7";
inline constexpr const char *kVip4 = "198.51.100.10";
inline constexpr const char *kClient6 = "2001:db8:ffff::7";
inline constexpr const char *kVip6 = "2001:db8:100::10";
inline constexpr uint32_t kMeshMtu = 1420; // steer_config.h: fleet.mesh_mtu

// The veth ends get fixed addresses: the client's frames come from pub0p to pub0.
inline const Mac kClientMac = mac("02:00:00:00:00:01"); // pub0p
inline const Mac kPubMac = mac("02:00:00:00:00:02");    // pub0
inline const Mac kMeshMac = mac("02:00:00:00:01:01");   // mesh0
inline const Mac kMeshPeerMac = mac("02:00:00:00:01:02");

// kSteerConfig with this node's mesh on mesh0 instead of wg0.
std::string chain_config();

// The devices, created inside the namespace the thread has joined (they die with it).
struct Devices {
    explicit Devices(const std::string &ns);
};

// attach_instance / detach_instance (in the namespace the thread has joined).
class Instance
{
public:
    Instance(const std::string &config_path, const std::string &netns, const HandoffMode &mode);
    ~Instance();
    Instance(const Instance &) = delete;
    Instance &operator=(const Instance &) = delete;
    const AttachReport &report() const { return report_; }
    std::string pin(const std::string &name) const { return Paths{}.instance(name_) + "/" + name; }

private:
    std::string name_;
    AttachReport report_;
};

// What mesh0p receives. A sentinel frame sent into mesh0 marks the end of a capture: the test
// thread is pinned to one CPU, so it queues behind everything the datapath sent before it.
class MeshCapture
{
public:
    MeshCapture();
    std::vector<Bytes> until_sentinel();

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
inline constexpr uint8_t kVnetNeedsCsum = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr uint8_t kVnetGsoTcp4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4

struct NodeFwd {
    uint64_t packets = 0, bytes = 0;
    bool operator==(const NodeFwd &) const = default;
};
using NodeFwdMap = std::map<uint16_t, NodeFwd>; // node slot -> forwarded

std::ostream &operator<<(std::ostream &os, const NodeFwd &f);

// What one injected frame did: counters that moved, per-node forwarding, frames on the mesh.
struct Outcome {
    Counters delta;
    NodeFwdMap fwd;
    std::vector<Bytes> mesh;
};

// "N frame(s) on the mesh" and a summary of each.
std::string describe(const std::vector<Bytes> &frames);

// What a run of this test left behind when it died without running its destructors (killed,
// crashed): names carry the pid of the process that made them, so only dead processes' go.
void sweep_leftovers();

// The scratch namespace with the devices and the instance attached. Built once per hand-off
// mode and shared by the tests of that mode (EncapChain::env_for): attaching runs the verifier
// over every object, which costs most of a case's time, ~10x more under TCG (make vmtest). A
// test enters the namespace and pins its CPU for its own duration (Use); every check reads
// counter deltas and the frames up to a sentinel, so what one test sent is not the next one's.
class ChainEnv
{
public:
    explicit ChainEnv(const HandoffMode &mode);
    ~ChainEnv();
    ChainEnv(const ChainEnv &) = delete;
    ChainEnv &operator=(const ChainEnv &) = delete;

    // A test's use of the environment: in its namespace, on one CPU.
    class Use
    {
    public:
        explicit Use(const ChainEnv &env) : join_(env.ns_.name()) {}

    private:
        JoinNetns join_;
        PinCpu pin_;
    };

    const GenContent &gen() const { return gen_; }
    const AttachReport &report() const { return inst_.report(); }
    bool xdp_native() const { return xdp_native_; }

    // XDP test_run, live frames, ingress pub0: the frame goes on through pub0's stack.
    Outcome inject(const Bytes &frame);

    // A frame sent by pub0p (with a virtio_net_hdr: may be a GSO frame) arrives on pub0 through
    // its NAPI: native XDP, GRO, TC. That runs in softirq context, so wait for the counters.
    Outcome send_from_peer(const VnetHdr &vh, const Bytes &frame,
                           const std::function<bool(const Counters &)> &done);

private:
    using Snapshot = std::pair<Counters, NodeFwdMap>;

    Counters counters() const;
    NodeFwdMap node_fwd() const;
    Snapshot snapshot() const { return {counters(), node_fwd()}; }
    Outcome finish(const Snapshot &before);

    struct Sweep {
        Sweep() { sweep_leftovers(); }
    };
    static inline int counter_ = 0;
    Sweep sweep_; // before anything of ours exists
    ScratchNetns ns_;
    // Joined while the devices and the instance are made and while they go (~ChainEnv).
    std::optional<JoinNetns> join_;
    Devices devices_;
    TempFile config_;
    Instance inst_;
    Fd xdp_, stats_, node_stats_;
    bool xdp_native_ = false;
    uint32_t pub0_ = 0;
    GenContent gen_;
    std::unique_ptr<MeshCapture> capture_;
};

} // namespace xi::test::chain
