// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Maglev consistent-hash table (Eisenbud et al., NSDI 2016): which edge owns which flow.
//
// Every edge builds this table from the same fleet config and must get the same bytes, or two
// edges disagree about who owns a flow and steer it in a loop. So the build depends only on the
// backend names, weights and node slots: not on the order the config lists them, not on the
// host (no std::hash, no unordered containers, no floating point, fixed-width integer math).
#ifndef XI_MAGLEV_H
#define XI_MAGLEV_H

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "xi_common.h"

namespace xi
{

struct MaglevBackend {
    std::string name; // identity hashed into the permutation: renaming an edge moves its flows
    uint16_t weight;  // relative share of the slots; 0 = drained (no slots, same as absent)
    uint16_t node;    // node slot stored in the table, < XI_MAX_NODES, unique
};

// Builds the lookup table: table[slot] is the node slot of the owning backend. Every slot is
// filled. table_size must be a prime in [max(2, backends.size()), XI_MAGLEV_MAX_SIZE].
// Equal weights give every backend floor(M/N) or ceil(M/N) slots; unequal weights give shares
// proportional to the weights (within about one slot per backend).
// Throws std::invalid_argument naming the problem: bad size, no backend with weight > 0,
// empty or duplicate name, node slot out of range or shared by two backends.
// Cost: the paper's population loop, O(M log M) expected probes, with O(1) scheduling per slot
// however skewed the weights (about 3 ms for 65537 slots and 64 backends).
std::vector<uint16_t> build_maglev(std::span<const MaglevBackend> backends,
                                   uint32_t table_size = XI_MAGLEV_DEFAULT_SIZE);

// Deterministic primality test: trial division, at most ~22k steps for any 32-bit n.
bool is_prime(uint32_t n);

} // namespace xi

#endif // XI_MAGLEV_H
