// A trusted reference for the mesh policy: the same Config expressed as an nftables ruleset,
// and a throwaway network namespace that judges packets with it (the differential test).
//
// The translation (nft_ruleset) is written from the documented policy model (loader/model/policy.h,
// ARCHITECTURE.md), never by calling our compiler:
//   - metadata services (and their IPv4-mapped forms) denied first, both ways;
//   - IPv6 neighbour discovery on the link (hop limit 255) and link-local MLD allowed;
//   - nf_conntrack: `ct state established` / `ct state related` accepted;
//   - identities -> named interval sets, one per (identity, family, prefix length); two chains
//     classify source and destination by trying the sets longest prefix first, the role ids
//     land in the packet mark (source << 16 | destination; world = 0);
//   - reply-only source roles dropped;
//   - rules: one chain per role pair, rules sorted by the documented precedence (specific
//     protocol over any, fewer ports, deny over allow, file order); four verdict-map probes,
//     (src,dst), (src,any), (any,dst), (any,any); a pair chain without a match returns, so the
//     next pair is tried, as in the datapath;
//   - the default of the direction.
// Every decision logs to an NFLOG group with a prefix "<A|D> <label>" (A = accept, D = drop),
// so the harness learns the verdict and which rule gave it.
//
// The harness (NftReference) builds, per instance:
//   netns R ("router"):  mesh <-veth-> m1 (netns I)     ingress: frames injected on m1
//                        host <-veth-> h1 (netns I)     egress:  frames injected on h1
// R forwards everything (policy routing by input interface to a dummy next hop with a
// permanent neighbour entry), so accepted connections reach POSTROUTING and nf_conntrack
// confirms them, exactly as for traffic crossing a router. The ruleset sits in an inet
// PREROUTING chain at priority mangle (-150): after defragmentation (-400) and conntrack (-200),
// before routing, so the verdict does not depend on routes. A test packet is injected with an
// AF_PACKET socket in I, followed by a sentinel frame on the same interface that a chain at
// priority -450 (before defragmentation and conntrack) logs and drops. With the thread pinned to
// one CPU, veth delivers both through the same per-CPU backlog in order, so every NFLOG message
// read before the sentinel's belongs to the test packet: no message = not judged by the
// ruleset (dropped by the IP stack, or held for reassembly). Every wait is bounded.
//
// The translation is in nft_ruleset.cpp, the harness in nft_reference.cpp; commands in the
// namespaces run through netns_command.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config.h"
#include "packet.h"

namespace xi::test
{

struct NftRefOptions {
    std::string table = "xi_ref";
    std::string mesh_if = "mesh"; // packets arriving here are the mesh hook's ingress
    std::string host_if = "host"; // packets arriving here are the node's own, leaving (egress)
    uint16_t log_group = 7;
};

// Log prefix of the decision about rule number `index` (config order) with its action.
std::string nft_rule_label(size_t index);

// The ruleset text for `nft -f`. Throws std::runtime_error on input it cannot express.
std::string nft_ruleset(const Config &c, const NftRefOptions &o = {});

struct NftLog {
    std::string prefix; // "A est", "D r3", ...
    Bytes payload;      // the packet from its network header
};

struct NftVerdict {
    std::vector<NftLog> logs; // decisions logged for this packet (0 or 1 expected)
    bool judged() const { return !logs.empty(); }
    bool accepted() const { return logs.size() == 1 && logs[0].prefix.starts_with("A "); }
    std::string label() const; // "-" when not judged
};

class NftReference
{
public:
    // Creates the namespaces and loads nft_ruleset(c). Throws std::runtime_error (with the
    // failing command's output) if anything cannot be set up; everything created so far is
    // removed again.
    explicit NftReference(const Config &c, const NftRefOptions &o = {});
    ~NftReference();
    NftReference(const NftReference &) = delete;
    NftReference &operator=(const NftReference &) = delete;

    // Inject an Ethernet frame (its destination MAC is replaced by R's) as arriving on the mesh
    // side (ingress = true) or from the host side (egress) and report what the ruleset did.
    NftVerdict send(bool ingress, const Bytes &frame);

    const std::string &ruleset() const { return ruleset_; }
    std::string router_netns() const { return ns_r_; }
    // `nft list ruleset` in R (with counters), for failure messages.
    std::string dump() const;

private:
    void setup(const Config &c);
    void teardown() noexcept;
    std::vector<NftLog> read_until_sentinel(uint16_t seq);

    NftRefOptions opt_;
    std::string ns_r_, ns_i_, ruleset_;
    bool made_r_ = false, made_i_ = false;
    int nflog_fd_ = -1, pkt_fd_ = -1;
    int ifindex_m1_ = 0, ifindex_h1_ = 0;
    uint16_t seq_ = 0;
    bool pinned_ = false;
    std::vector<uint8_t> saved_affinity_; // cpu_set_t bytes
};

} // namespace xi::test
