// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Internal to the packet builder (packet.cpp, packet_l3.cpp, packet_l4.cpp,
// packet_assemble.cpp): writing values in network order, and the TCP option kinds that both
// the option setters and the assembly (EOL padding) use. Not for the checker: packet_check*.cpp
// must stay independent of the builder so that the two check each other (packet_check.h).
#ifndef XI_TEST_PACKET_WIRE_H
#define XI_TEST_PACKET_WIRE_H

#include <cstddef>
#include <cstdint>
#include <span>

#include "packet.h"

namespace xi::test::wire
{

inline constexpr uint8_t kTcpOptEol = 0, kTcpOptNop = 1, kTcpOptMss = 2, kTcpOptWscale = 3;
inline constexpr uint8_t kTcpOptSackPerm = 4, kTcpOptSack = 5, kTcpOptTs = 8;

inline void put16(Bytes &b, size_t off, uint16_t v)
{
    b[off] = static_cast<uint8_t>(v >> 8);
    b[off + 1] = static_cast<uint8_t>(v);
}

inline void put32(Bytes &b, size_t off, uint32_t v)
{
    put16(b, off, static_cast<uint16_t>(v >> 16));
    put16(b, off + 2, static_cast<uint16_t>(v));
}

inline void append(Bytes &to, std::span<const uint8_t> from)
{
    to.insert(to.end(), from.begin(), from.end());
}

} // namespace xi::test::wire

#endif // XI_TEST_PACKET_WIRE_H
