// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "fallback.h"

#include <algorithm>
#include <atomic>
#include <thread>

namespace xi
{

std::vector<uint16_t> build_maglev_without(std::span<const MaglevBackend> edges, uint16_t gone,
                                           uint32_t table_size)
{
    std::vector<MaglevBackend> others;
    for (const auto &e : edges)
        if (e.node != gone)
            others.push_back(e);
    if (std::none_of(others.begin(), others.end(), [](const auto &e) { return e.weight > 0; }))
        return std::vector<uint16_t>(table_size, XI_NODE_NONE);
    return build_maglev(others, table_size);
}

std::vector<uint16_t> build_fallback(std::span<const MaglevBackend> edges,
                                     std::span<const uint16_t> table)
{
    std::vector<uint16_t> fallback(table.size(), XI_NODE_NONE);
    std::vector<size_t> weighted;
    for (size_t i = 0; i < edges.size(); i++)
        if (edges[i].weight > 0)
            weighted.push_back(i);
    if (weighted.size() < 2 || table.empty())
        return fallback;

    // Each worker takes the next edge, builds the table without it and fills that edge's
    // slots: the slot sets are disjoint, so the workers never write the same element.
    std::atomic<size_t> next{0};
    auto work = [&] {
        for (size_t k; (k = next.fetch_add(1)) < weighted.size();) {
            const MaglevBackend &gone = edges[weighted[k]];
            auto without =
                build_maglev_without(edges, gone.node, static_cast<uint32_t>(table.size()));
            for (size_t s = 0; s < table.size(); s++)
                if (table[s] == gone.node)
                    fallback[s] = without[s];
        }
    };
    size_t n = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), weighted.size());
    std::vector<std::thread> threads;
    for (size_t i = 1; i < n; i++)
        threads.emplace_back(work);
    work();
    for (auto &t : threads)
        t.join();
    return fallback;
}

} // namespace xi
