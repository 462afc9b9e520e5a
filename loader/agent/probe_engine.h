// serve's sibling prober without its sockets (issue #14): when to probe whom, what an answer or
// a silence means, what to write into xi_peer_state, when to tell the log and `monitor`. Time
// and I/O come in through arguments and callbacks, so tests drive several engines against each
// other with a fake clock and a lossy "network" (tests/unit/probe_engine_test.cpp).
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "netaddr.h"
#include "probe_state.h"
#include "probe_wire.h"
#include "xi_structs.h"

namespace xi
{

using ProbeClock = std::chrono::steady_clock;

struct ProbeSibling {
    uint16_t slot = 0;
    std::string name;
    IpAddr addr; // its mesh address the probes go to (IPv4 where both ends have one)
    bool operator==(const ProbeSibling &) const = default;
};

struct ProbeSetup {
    bool enabled = false;
    uint16_t self = XI_NODE_NONE;
    std::string self_name;
    uint16_t port = 0;
    ProbePolicy policy;
    std::chrono::milliseconds timeout{500};
    uint32_t recover_s = 600; // the recovery window: fleet.drain_timeout
    std::vector<ProbeSibling> siblings;
};

struct ProbeIo {
    // Send m to a sibling's address (probe) or to where a probe came from (answer).
    std::function<void(const IpAddr &to, const ProbeMessage &m)> send;
    // Write one xi_peer_state entry (the datapath sees it at once).
    std::function<void(uint16_t node, const xi_peer_state &s)> write;
    // A transition: kind is XI_AGENT_* (0: a first verdict, for the log only); sib the sibling;
    // text one sentence for the log.
    std::function<void(uint8_t kind, const ProbeSibling &sib, const std::string &text)> event;
    // CLOCK_BOOTTIME units (ns >> 30) `s` seconds from now (xi_peer_state.recover_until).
    std::function<uint32_t(uint32_t s)> boot_after;
    std::function<uint64_t()> wall_now; // CLOCK_REALTIME seconds (changed_at)
};

class ProbeEngine
{
public:
    explicit ProbeEngine(ProbeIo io);

    // Take a (new) fleet: siblings that stay keep their state and counters; removed ones are
    // cleared in the map; `initial` gives the map's entries as a previous agent left them (their
    // down flags stay until the probes decide). Disabled: every flag and the window cleared.
    void configure(const ProbeSetup &s, const std::vector<xi_peer_state> &initial,
                   ProbeClock::time_point now);
    // Send the probes that are due and count the ones whose timeout passed.
    void tick(ProbeClock::time_point now);
    // A datagram from `src`: probes are answered, answers recorded. False: not ours (ignored).
    bool receive(const ProbeMessage &m, const IpAddr &src, ProbeClock::time_point now);
    // When tick has something to do next (far future when nothing is probed).
    ProbeClock::time_point next_deadline() const;
    // Clear every down flag (serve exiting: without an agent the table decides). The recovery
    // window stays: it ends by itself, and the flows it protects are still at their fallbacks.
    void clear_all();

    const ProbeSetup &setup() const { return setup_; }
    std::optional<PeerState> state_of(uint16_t slot) const;
    std::bitset<XI_MAX_NODES> down_view() const;
    std::bitset<XI_MAX_NODES> reported_down_by() const { return reported_by_; }
    const xi_peer_state &entry(uint16_t slot) const { return entries_.at(slot); }

private:
    struct Peer {
        ProbeSibling sib;
        PeerProbe probe;
        ProbeClock::time_point next_send;
        std::optional<uint32_t> outstanding; // seq of the probe in flight
        ProbeClock::time_point sent_at, deadline;
        uint64_t sent_base = 0, answered_base = 0; // counts before new settings restarted it
    };
    void record(Peer &p, bool answered, ProbeClock::time_point now);
    void write_entry(uint16_t node);
    void learn_view(const Peer &p, const ProbeMessage &m);
    void extend_window();
    void sync_reported();

    ProbeIo io_;
    ProbeSetup setup_;
    std::map<uint16_t, Peer> peers_;
    std::map<uint16_t, xi_peer_state> entries_; // what is in the map, by node slot
    std::bitset<XI_MAX_NODES> reported_by_;     // siblings whose last message saw us down
    uint32_t seq_ = 1;
};

} // namespace xi
