// Which edge owns a flow: the datapath's hash and Maglev lookup, in C++ (xdp-ingress owner,
// tests). Both sides compile the same maps/xi_hash.h, so they cannot drift apart.
#pragma once

#include <cstdint>

#include "compile.h"
#include "netaddr.h"

namespace xi
{

struct FlowTuple {
    IpAddr src, dst;
    uint16_t sport = 0, dport = 0; // host order
    uint8_t proto = 0;
};

uint64_t flow_hash(const FlowTuple &t, uint64_t seed);
// Node slot of the owning edge in generation g (XI_NODE_NONE when the table is empty).
uint16_t flow_owner(const GenContent &g, const FlowTuple &t);

} // namespace xi
