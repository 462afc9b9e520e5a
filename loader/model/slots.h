// Stable slot numbers for names (nodes, rules): counters are indexed by slot, so a name keeps
// its slot across reloads; new names take free slots, removed names free theirs. Used by the
// compiler (nodes) and the policy compiler (rules).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace xi
{

std::vector<std::string> assign_slots(const std::vector<std::string> &names,
                                      const std::vector<std::string> &previous, size_t capacity);

} // namespace xi
