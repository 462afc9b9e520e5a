// The sibling probe on the wire (issue #14): one UDP datagram each way between two edges' agents,
// through the mesh, on fleet.failover.probe_port. A probe and its answer both carry the sender's
// view of the fleet (which nodes it sees down), so an edge learns that a sibling sent its flows to
// their fallback and opens its recovery window. A wire contract between releases: new fields go at
// the end, behind a new version.
//
//   0  magic "XIPR"        8  from node slot (be16)   12 seq (be32)
//   4  version 1           10 to node slot (be16)     16 down: 256 bits, node slot i at
//   5  type 1 probe, 2 answer                             byte i/8, bit i%8
//   6  reserved (0)                                   48 end
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "xi_common.h"

namespace xi
{

struct ProbeMessage {
    enum class Type : uint8_t { Probe = 1, Answer = 2 };
    Type type = Type::Probe;
    uint16_t from = 0, to = 0; // node slots
    uint32_t seq = 0;
    std::bitset<XI_MAX_NODES> down; // the nodes the sender sees down now
};

constexpr size_t kProbeWireSize = 48;

std::vector<uint8_t> encode_probe(const ProbeMessage &m);
// nullopt for anything that is not a version-1 probe or answer: short, wrong magic, unknown
// type, a slot out of range. Longer datagrams (a later version's fields) are read as version 1.
std::optional<ProbeMessage> decode_probe(const uint8_t *data, size_t len);

} // namespace xi
