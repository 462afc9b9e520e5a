#include "slots.h"

#include <algorithm>
#include <set>

#include "error.h"

namespace xi
{

std::vector<std::string> assign_slots(const std::vector<std::string> &names,
                                      const std::vector<std::string> &previous, size_t capacity)
{
    if (names.size() > capacity)
        throw Error("too many entries for " + std::to_string(capacity) + " slots");
    std::vector<std::string> slots(capacity);
    std::set<std::string> wanted(names.begin(), names.end()), placed;
    for (size_t i = 0; i < previous.size() && i < capacity; i++)
        if (!previous[i].empty() && wanted.count(previous[i])) {
            slots[i] = previous[i];
            placed.insert(previous[i]);
        }
    size_t next = 0;
    for (const auto &n : names) {
        if (placed.count(n))
            continue;
        // Prefer slots never used by the previous generation, so a freed slot's counters are
        // not inherited by a new name right away.
        auto is_free = [&](size_t i) {
            return slots[i].empty() && (i >= previous.size() || previous[i].empty());
        };
        while (next < capacity && !is_free(next))
            next++;
        size_t s = next;
        if (s == capacity)
            s = std::find(slots.begin(), slots.end(), std::string()) - slots.begin();
        slots[s] = n;
        placed.insert(n);
    }
    return slots;
}

} // namespace xi
