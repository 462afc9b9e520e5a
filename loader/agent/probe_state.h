// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// What this edge believes about one sibling's data path (issue #14), from probes sent through the
// mesh: down after `down_after` unanswered probes in a row, up after `up_after` answered ones in a
// row. The hysteresis keeps a flapping path from flapping the failover: with both thresholds
// above 1, alternating answers never change the state. A sibling starts Unknown, which the
// datapath treats as up: no edge moves flows away before it has evidence.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace xi
{

struct ProbePolicy {
    std::chrono::milliseconds interval{1000};
    uint32_t down_after = 3;
    uint32_t up_after = 2;
    uint32_t jitter_percent = 20; // each wait is interval +- this share, drawn per probe
};

enum class PeerState { Unknown, Up, Down };
const char *peer_state_name(PeerState s);

class PeerProbe
{
public:
    // seed: anything that differs per (prober, sibling) pair, so that edges do not probe in
    // lockstep; the same seed gives the same waits (tests).
    // initial: the verdict to start from (new settings for a sibling already probed keep it).
    PeerProbe(const ProbePolicy &p, uint64_t seed, PeerState initial = PeerState::Unknown);

    // One probe's outcome. Returns the new state when this outcome changed it.
    std::optional<PeerState> record(bool answered);

    PeerState state() const { return state_; }
    uint64_t transitions() const { return transitions_; }
    uint64_t sent() const { return sent_; }
    uint64_t answered() const { return answered_; }
    // How long to wait before the next probe: interval * (1 +- jitter), uniformly drawn.
    std::chrono::milliseconds next_wait();

private:
    ProbePolicy p_;
    uint64_t rng_;
    PeerState state_ = PeerState::Unknown;
    uint32_t ok_streak_ = 0, fail_streak_ = 0;
    uint64_t transitions_ = 0, sent_ = 0, answered_ = 0;
};

// A stable seed for a (prober, sibling) pair.
uint64_t probe_seed(const std::string &self, const std::string &sibling);

} // namespace xi
