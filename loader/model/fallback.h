// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The fallback column of the Maglev table (issue #14): for every slot, the edge that would own
// it if its owner were gone from the fleet file, i.e. the owner of that slot in the table built
// without the owner. Computed from the file alone, like the table itself, so every edge agrees
// where a dead sibling's flows go without talking to the others; and it is exactly where they
// stay once an operator removes the dead edge from the file.
#ifndef XI_FALLBACK_H
#define XI_FALLBACK_H

#include <cstdint>
#include <span>
#include <vector>

#include "maglev.h"

namespace xi
{

// fallback[slot] for table (build_maglev(edges, table.size())): XI_NODE_NONE where the slot has
// no owner or its owner is the only edge with weight. Cost: one Maglev build per edge with
// weight (about 3 ms each for 65537 slots and 64 edges), spread over the host's cores.
std::vector<uint16_t> build_fallback(std::span<const MaglevBackend> edges,
                                     std::span<const uint16_t> table);

// The table built without node `gone` (one column's worth of build_fallback, for a caller that
// needs only some owners' fallbacks); all XI_NODE_NONE when no other edge has weight.
std::vector<uint16_t> build_maglev_without(std::span<const MaglevBackend> edges, uint16_t gone,
                                           uint32_t table_size);

} // namespace xi

#endif // XI_FALLBACK_H
