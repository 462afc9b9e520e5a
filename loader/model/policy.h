// The mesh policy compiler: identities (identities.cpp) and rules (policy.cpp) from the config
// -> LPM entries.
//
// Precedence (docs/policy.md): the datapath probes up to four role pairs, most specific first:
// (src, dst), (src, any), (any, dst), (any, any); the first pair with an entry covering the
// packet's protocol and port decides. Within one pair, for each protocol and port the winner is
// the rule with a specific protocol over `any`, then the fewest ports, then deny over allow,
// then the earlier rule in the file. The compiler resolves this into disjoint port ranges, so
// the trie's longest-prefix match returns exactly the winner. Protocol `icmp` is ICMP of the
// packet's family: ICMPv4, and ICMPv6 in IPv6 (entries for both protocol numbers).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config.h"
#include "xi_structs.h"

namespace xi
{

// Role ids: identities in file order from 1; 0 = world; 0xffff = any (rules only).
inline uint16_t role_of_identity(size_t index)
{
    return static_cast<uint16_t>(index + 1);
}
uint16_t role_id(const Config &c, const std::string &role);

// The identity LPM entries (xi_idents): every identity prefix with its role, the metadata
// prefixes in all their forms (metadata.h; flagged, in the role that holds them), the nodes' mesh
// addresses (flagged, with their slot in node_slots), IPv4 keyed IPv4-mapped; sorted by key.
std::vector<std::pair<xi_ident_key, xi_ident>>
compile_identities(const Config &c, const std::vector<std::string> &node_slots);

// Checks rules (references, names, conflicts, unreachable rules) and reports errors at the
// rule's line. Fills generated names of unnamed rules.
void check_policy(Config &c, std::vector<ConfigError> &errors);

// LPM entries for the rules; rule slots keep their number across reloads (counters).
void compile_rules(const Config &c, const std::vector<std::string> &prev_slots,
                   std::vector<std::pair<xi_rule_key, xi_rule>> &entries,
                   std::vector<std::string> &slot_names);

// Decompose [lo, hi] into aligned power-of-two blocks: (first port, number of fixed bits).
std::vector<std::pair<uint16_t, int>> port_range_prefixes(uint16_t lo, uint16_t hi);

} // namespace xi
