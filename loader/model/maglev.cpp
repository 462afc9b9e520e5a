// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "maglev.h"

#include <algorithm>
#include <array>
#include <numeric>
#include <stdexcept>
#include <string_view>

#include "xi_hash.h"

namespace xi
{
namespace
{

// Two fixed seeds make two independent hashes of a name: one picks where a backend's
// permutation starts, the other its stride. Changing either reshuffles every fleet's table.
constexpr uint64_t kOffsetSeed = 0x6d676c762d6f6666ULL; // "mglv-off"
constexpr uint64_t kSkipSeed = 0x6d676c762d736b70ULL;   // "mglv-skp"

// 64-bit hash of a name with the flow hash's round and avalanche functions. Bytes are packed
// into lanes little-endian one by one, so the result is the same on every host byte order and
// alignment; the length goes into the initial state so "a" and "a\0" differ.
uint64_t name_hash(std::string_view name, uint64_t seed)
{
    uint64_t acc = seed + XI_HASH_P3 + name.size();
    uint64_t lane = 0;
    unsigned bytes = 0;
    for (unsigned char c : name) {
        lane |= uint64_t{c} << (8 * bytes);
        if (++bytes == 8) {
            acc = xi_hash_round(acc, lane);
            lane = 0;
            bytes = 0;
        }
    }
    if (bytes != 0)
        acc = xi_hash_round(acc, lane);
    return xi_hash_avalanche(acc);
}

[[noreturn]] void invalid(const std::string &what)
{
    throw std::invalid_argument("maglev: " + what);
}

void check_size(size_t backends, uint32_t table_size)
{
    const std::string size = "table size " + std::to_string(table_size);
    if (table_size > XI_MAGLEV_MAX_SIZE)
        invalid(size + " exceeds the maximum " + std::to_string(XI_MAGLEV_MAX_SIZE));
    // Prime, so that every skip in [1, M-1] is coprime with M and each permutation visits
    // every slot exactly once.
    if (!is_prime(table_size))
        invalid(size + " is not prime");
    if (table_size < backends)
        invalid(size + " is smaller than the number of backends (" + std::to_string(backends) +
                ")");
}

// Indices of the backends sorted by name (std::string compares bytes as unsigned char, so the
// order is the same everywhere); rejects input two edges could read two ways.
std::vector<uint32_t> sorted_checked(std::span<const MaglevBackend> backends)
{
    if (backends.empty())
        invalid("no backends");
    std::vector<uint32_t> order(backends.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return backends[a].name < backends[b].name; });

    std::array<const MaglevBackend *, XI_MAX_NODES> by_node{};
    bool any_weight = false;
    for (size_t i = 0; i < order.size(); ++i) {
        const MaglevBackend &b = backends[order[i]];
        if (b.name.empty())
            invalid("backend with node slot " + std::to_string(b.node) + " has an empty name");
        if (i > 0 && backends[order[i - 1]].name == b.name)
            invalid("duplicate backend name '" + b.name + "'");
        if (b.node >= XI_MAX_NODES)
            invalid("backend '" + b.name + "' has node slot " + std::to_string(b.node) +
                    ", the limit is " + std::to_string(XI_MAX_NODES - 1));
        if (by_node[b.node] != nullptr)
            invalid("backends '" + by_node[b.node]->name + "' and '" + b.name +
                    "' share node slot " + std::to_string(b.node));
        by_node[b.node] = &b;
        any_weight |= b.weight > 0;
    }
    if (!any_weight)
        invalid("every backend has weight 0 (drained); at least one needs weight > 0");
    return order;
}

// One backend's walk through its permutation: slot(j) = (offset + j * skip) mod M.
struct Cursor {
    uint32_t pos;  // next slot this backend would like
    uint32_t skip; // in [1, M-1]
    uint32_t weight;
    uint32_t turns; // slots taken so far
    uint16_t node;

    // pos + skip < 2M < 2^32, so a compare replaces the division on this hot loop.
    void advance(uint32_t table_size)
    {
        pos += skip;
        if (pos >= table_size)
            pos -= table_size;
    }
};

Cursor make_cursor(const MaglevBackend &b, uint32_t table_size)
{
    return Cursor{
        .pos = static_cast<uint32_t>(name_hash(b.name, kOffsetSeed) % table_size),
        .skip = static_cast<uint32_t>(name_hash(b.name, kSkipSeed) % (table_size - 1) + 1),
        .weight = b.weight,
        .turns = 0,
        .node = b.node,
    };
}

// Turn order of the population loop. Backend i's k-th turn is due in round
// ceil(k * max_weight / weight_i): the heaviest backends take a turn every round, one with half
// the weight every other round, so turns (and slots) follow the weights, and equal weights are
// the paper's plain round robin. Within a round, first come first served (name order at the
// start). A bucket per round makes each turn O(1) however skewed the weights are; a priority
// queue costs log N per turn, and scanning every backend each round costs O(N) per turn when
// one weight dominates. A next turn is due 1..max_weight rounds ahead, so max_weight + 1
// buckets used as a ring never collide.
class TurnQueue
{
public:
    explicit TurnQueue(const std::vector<Cursor> &cursors) : cursors_(cursors)
    {
        for (const Cursor &c : cursors)
            max_weight_ = std::max<uint64_t>(max_weight_, c.weight);
        head_.assign(max_weight_ + 1, kEnd);
        tail_.assign(max_weight_ + 1, kEnd);
        next_.assign(cursors.size(), kEnd);
        for (uint32_t i = 0; i < cursors.size(); ++i)
            push(i);
    }

    // Schedules cursor i's next turn, from the turns it has taken so far.
    void push(uint32_t i)
    {
        const Cursor &c = cursors_[i];
        const uint64_t due = ((c.turns + 1) * max_weight_ + c.weight - 1) / c.weight;
        const size_t b = due % head_.size();
        next_[i] = kEnd;
        (head_[b] == kEnd ? head_[b] : next_[tail_[b]]) = i;
        tail_[b] = i;
    }

    // The backend whose turn is next. Never empty: every cursor is pushed back after its turn.
    uint32_t pop()
    {
        size_t b = round_ % head_.size();
        while (head_[b] == kEnd)
            b = ++round_ % head_.size();
        const uint32_t i = head_[b];
        head_[b] = next_[i];
        return i;
    }

private:
    static constexpr uint32_t kEnd = UINT32_MAX;
    const std::vector<Cursor> &cursors_;
    uint64_t max_weight_ = 0;
    uint64_t round_ = 1;
    std::vector<uint32_t> head_, tail_, next_; // FIFO per round bucket, linked through next_
};

} // namespace

bool is_prime(uint32_t n)
{
    if (n < 4)
        return n >= 2;
    if (n % 2 == 0 || n % 3 == 0)
        return false;
    for (uint32_t d = 5; uint64_t{d} * d <= n; d += 6) {
        if (n % d == 0 || n % (d + 2) == 0)
            return false;
    }
    return true;
}

std::vector<uint16_t> build_maglev(std::span<const MaglevBackend> backends, uint32_t table_size)
{
    check_size(backends.size(), table_size);
    std::vector<Cursor> cursors;
    for (uint32_t i : sorted_checked(backends)) {
        if (backends[i].weight > 0) // drained: not in the table at all, as if removed
            cursors.push_back(make_cursor(backends[i], table_size));
    }

    TurnQueue turns(cursors);
    std::vector<uint16_t> table(table_size, XI_NODE_NONE);
    for (uint32_t filled = 0; filled < table_size; ++filled) {
        const uint32_t i = turns.pop();
        Cursor &c = cursors[i];
        // Terminates: the permutation visits every slot and at least one is still free.
        while (table[c.pos] != XI_NODE_NONE)
            c.advance(table_size);
        table[c.pos] = c.node;
        c.advance(table_size);
        ++c.turns;
        turns.push(i);
    }
    return table;
}

} // namespace xi
