// The fleet config: one YAML file, identical on every node (docs/config.md is the reference).
// Parsing keeps the position of everything, so every error reads file:line:col: reason.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netaddr.h"

namespace xi
{

// The metadata guard's defaults: the skb mark bit (outside kube-proxy's 0xc000, Cilium's 0x0f00
// and the low 16 bits marks like WireGuard's 0xca6c use), and how many interfaces it goes on
// (two attachments each, all recorded in the instance state).
constexpr uint32_t kGuardDefaultMark = 0x00100000;
constexpr size_t kGuardMaxInterfaces = 32;

struct Pos {
    int line = 0; // 1-based; 0 = unknown
    int col = 0;
};

struct ConfigError {
    std::string file;
    Pos pos;
    std::string msg;
    std::string str() const; // "file:line:col: msg"
};

struct NodeCfg {
    Pos pos;
    std::string name;
    std::optional<IpAddr> mesh4, mesh6;
    std::string mesh_if = "wg0";
    std::string public_if; // set => the node is an edge
    uint32_t weight = 100;
    uint32_t mesh_mtu = 0; // 0 = fleet default
    // An edge's part in a fleet change (issue #13): the Maglev table is built for the fleet
    // after the step (active + joining) and, for second chance, before it (active + draining).
    enum class State { Active, Joining, Draining, Inactive } state = State::Active;
    bool is_edge() const { return !public_if.empty(); }
    bool owns_after() const
    {
        return is_edge() && (state == State::Active || state == State::Joining);
    }
    bool owned_before() const
    {
        return is_edge() && (state == State::Active || state == State::Draining);
    }
};

struct VipCfg {
    Pos pos;
    std::string name;
    IpAddr addr;
    uint8_t proto = 0;           // IPPROTO_TCP / IPPROTO_UDP
    std::vector<uint16_t> ports; // empty = any port
};

struct PrefixCfg {
    Pos pos;
    Prefix prefix;
};

struct IdentityCfg {
    Pos pos;
    std::string name;
    std::vector<PrefixCfg> prefixes;
};

struct PortRange {
    uint16_t lo = 0, hi = 65535;
    auto operator<=>(const PortRange &) const = default;
};

enum class Action : uint8_t { Allow = 1, Deny = 2 };

struct RuleCfg {
    Pos pos;
    std::string name; // optional in the file; a generated one is filled in
    bool named = false;
    std::string from, to;         // identity, "world" or "any"
    int proto = -1;               // -1 = any, else IPPROTO_*
    std::vector<PortRange> ports; // empty = any port
    Action action = Action::Allow;
};

struct Config {
    std::string path;
    std::string sha256; // of the file's bytes: equal files => equal hash on every edge
    int version = 0;

    uint64_t seed = 0;
    uint32_t table_size = 65537;
    uint32_t drain_timeout = 600; // seconds a step's second chance lasts (fleet.drain_timeout)
    uint32_t mesh_mtu = 1420;
    // Health-driven failover (issue #14, fleet.failover): serve probes every sibling edge
    // through the mesh; down after down_after lost probes in a row, up after up_after answered.
    struct Failover {
        bool enabled = true;
        uint16_t probe_port = 9471;     // UDP, on every edge's mesh addresses
        uint32_t probe_interval = 1000; // ms between probes to one sibling (+- jitter)
        uint32_t probe_timeout = 500;   // ms a probe may take to be answered
        uint32_t jitter_percent = 20;
        uint32_t down_after = 3, up_after = 2;
    } failover;

    Pos nodes_pos; // the node list, where an unknown --node would have to be added
    std::vector<NodeCfg> nodes;
    std::vector<VipCfg> vips;
    std::vector<IdentityCfg> identities;
    std::vector<RuleCfg> rules;
    bool default_ingress_allow = false;
    bool default_egress_allow = true;
    std::vector<std::string> reply_only;
    bool metadata_block = true;
    std::vector<PrefixCfg> metadata_extra;
    std::vector<PrefixCfg> metadata_exclude; // built-in endpoints not to deny (metadata.h)
    std::vector<PrefixCfg> nat64_prefixes;   // besides 64:ff9b::/96
    // A check with a count-only rollout mode.
    enum class Rollout { Enforce, Count, Off };
    // Tunnels the mesh hooks look into for metadata destinations (bpf/lib/tunnel.h).
    Rollout tunnel_inspect = Rollout::Enforce;
    // The metadata guard (bpf/lib/guard.h): the skb mark bits mesh ingress sets, and the
    // interfaces the guard goes on (empty: every interface but lo and the mesh interface).
    Rollout guard_mode = Rollout::Enforce;
    uint32_t guard_mark = kGuardDefaultMark;
    std::optional<std::vector<std::string>> guard_interfaces;
    std::vector<uint16_t> vxlan_ports = {4789, 8472}; // IANA's, and Linux's (Flannel) default
    std::vector<uint16_t> geneve_ports = {6081};
    // IP a mesh hook cannot look into (VLAN stack, IPv6 extension chain deeper than it walks).
    bool unparsed_pass = false;

    bool clamp_mesh = true;
    uint32_t mesh_mss4 = 0; // 0 = derive from the mesh MTU
    uint32_t mesh_mss6 = 0;

    uint32_t ct_tcp_established = 7200;
    uint32_t ct_tcp_transitory = 60;
    uint32_t ct_udp = 60;
    uint32_t ct_icmp = 30;

    uint32_t events_rate = 100; // per CPU per second
    uint32_t events_burst = 200;

    const NodeCfg *find_node(const std::string &name) const;
    const IdentityCfg *find_identity(const std::string &name) const;
    uint32_t node_mtu(const NodeCfg &n) const { return n.mesh_mtu ? n.mesh_mtu : mesh_mtu; }
};

struct ConfigResult {
    std::optional<Config> config; // set only when errors is empty
    std::vector<ConfigError> errors;
};

// The largest config file read: 20x the largest documented-valid config (10,000 rules, 100,000
// prefixes, 64 edges: 3.2 MB).
constexpr uint64_t kMaxConfigBytes = 64ull << 20;

// Parse and check a config file: YAML syntax, schema (unknown keys, types, ranges) and
// semantics (references, duplicates, overlaps, address families, policy compilation). Only a
// regular file (or a symlink to one) of at most kMaxConfigBytes is read.
ConfigResult load_config(const std::string &path);
ConfigResult parse_config(const std::string &text, const std::string &file);

} // namespace xi
