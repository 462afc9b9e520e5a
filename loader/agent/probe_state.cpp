// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "probe_state.h"

#include <algorithm>

namespace xi
{

const char *peer_state_name(PeerState s)
{
    switch (s) {
    case PeerState::Up:
        return "up";
    case PeerState::Down:
        return "down";
    default:
        return "unknown";
    }
}

PeerProbe::PeerProbe(const ProbePolicy &p, uint64_t seed, PeerState initial)
    : p_(p), rng_(seed | 1), state_(initial)
{
    p_.down_after = std::max<uint32_t>(1, p_.down_after);
    p_.up_after = std::max<uint32_t>(1, p_.up_after);
    p_.jitter_percent = std::min<uint32_t>(90, p_.jitter_percent);
}

std::optional<PeerState> PeerProbe::record(bool answered)
{
    sent_++;
    PeerState next = state_;
    if (answered) {
        answered_++;
        fail_streak_ = 0;
        if (++ok_streak_ >= p_.up_after)
            next = PeerState::Up;
    } else {
        ok_streak_ = 0;
        if (++fail_streak_ >= p_.down_after)
            next = PeerState::Down;
    }
    if (next == state_)
        return std::nullopt;
    state_ = next;
    transitions_++;
    return next;
}

std::chrono::milliseconds PeerProbe::next_wait()
{
    // xorshift64*: small, fast, and the same sequence on every host for the same seed.
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    const uint64_t r = rng_ * 0x2545F4914F6CDD1Dull;
    const int64_t base = p_.interval.count(), span = base * p_.jitter_percent / 100;
    if (span <= 0)
        return p_.interval;
    const int64_t off = static_cast<int64_t>(r % static_cast<uint64_t>(2 * span + 1)) - span;
    return std::chrono::milliseconds(std::max<int64_t>(1, base + off));
}

uint64_t probe_seed(const std::string &self, const std::string &sibling)
{
    uint64_t h = 0xcbf29ce484222325ull; // FNV-1a over "self>sibling"
    for (char c : self + ">" + sibling) {
        h ^= static_cast<uint8_t>(c);
        h *= 0x100000001b3ull;
    }
    return h;
}

} // namespace xi
