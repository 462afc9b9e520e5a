// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "probe_engine.h"

#include <algorithm>
#include <random>

namespace xi
{

// The first sequence number is random: a datagram that was not answering one of our probes
// cannot guess which one is in flight.
ProbeEngine::ProbeEngine(ProbeIo io) : io_(std::move(io)), seq_(std::random_device{}()) {}

void ProbeEngine::configure(const ProbeSetup &s, const std::vector<xi_peer_state> &initial,
                            ProbeClock::time_point now)
{
    const bool policy_same = setup_.policy.interval == s.policy.interval &&
                             setup_.policy.down_after == s.policy.down_after &&
                             setup_.policy.up_after == s.policy.up_after &&
                             setup_.policy.jitter_percent == s.policy.jitter_percent &&
                             setup_.self_name == s.self_name;
    setup_ = s;
    if (entries_.empty())
        for (size_t i = 0; i < initial.size() && i < XI_MAX_NODES; i++)
            entries_[uint16_t(i)] = initial[i];
    if (!s.enabled || s.self >= XI_MAX_NODES) {
        peers_.clear();
        reported_by_.reset();
        for (auto &[node, e] : entries_) {
            if (e.flags || e.recover_until || e.state || e.reported_down) {
                e = xi_peer_state{};
                write_entry(node);
            }
        }
        return;
    }
    std::map<uint16_t, Peer> next;
    for (const auto &sib : s.siblings) {
        auto it = peers_.find(sib.slot);
        if (it != peers_.end() && it->second.sib == sib && policy_same) {
            next.emplace(sib.slot, std::move(it->second));
            continue;
        }
        if (it != peers_.end() && it->second.sib == sib) {
            // New probe settings for a sibling already probed: keep its verdict and counts.
            Peer p{sib,
                   PeerProbe(s.policy, probe_seed(s.self_name, sib.name), it->second.probe.state()),
                   now,
                   {},
                   {},
                   {},
                   entries_[sib.slot].probes_sent,
                   entries_[sib.slot].probes_answered};
            p.next_send = now + p.probe.next_wait() / 4;
            next.emplace(sib.slot, std::move(p));
            continue;
        }
        Peer p{sib, PeerProbe(s.policy, probe_seed(s.self_name, sib.name)), now, {}, {}, {}, 0, 0};
        // The first probe within a quarter interval, spread so that edges do not start in step.
        p.next_send = now + p.probe.next_wait() / 4;
        xi_peer_state &e = entries_[sib.slot];
        // Counters start again; a down flag a previous agent left stays until the probes decide.
        uint32_t flags = e.flags;
        e = xi_peer_state{};
        e.flags = flags;
        write_entry(sib.slot);
        next.emplace(sib.slot, std::move(p));
    }
    peers_ = std::move(next);
    for (auto &[node, e] : entries_) {
        if (node == s.self || peers_.count(node))
            continue;
        // No longer a sibling (removed, inactive, a backend): nothing of it may stay.
        reported_by_.reset(node);
        if (e.flags || e.recover_until || e.state || e.probes_sent || e.reported_down) {
            e = xi_peer_state{};
            write_entry(node);
        }
    }
    sync_reported();
}

void ProbeEngine::tick(ProbeClock::time_point now)
{
    bool any_down = false;
    for (auto &[slot, p] : peers_) {
        if (p.outstanding && now >= p.deadline) {
            p.outstanding.reset();
            record(p, false, now);
        }
        if (now >= p.next_send) {
            if (p.outstanding) { // never answered within the interval: a loss
                p.outstanding.reset();
                record(p, false, now);
            }
            ProbeMessage m;
            m.type = ProbeMessage::Type::Probe;
            m.from = setup_.self;
            m.to = slot;
            m.seq = seq_++;
            m.down = down_view();
            p.outstanding = m.seq;
            p.sent_at = now;
            p.deadline = now + setup_.timeout;
            p.next_send = now + p.probe.next_wait();
            io_.send(p.sib.addr, m);
        }
        any_down |= p.probe.state() == PeerState::Down;
    }
    // What this edge cannot reach can most likely not reach it either (a broken tunnel breaks
    // both ways): the sibling may be sending this edge's flows to their fallback. Keep the
    // recovery window open while any sibling is down.
    if (any_down)
        extend_window();
}

bool ProbeEngine::receive(const ProbeMessage &m, const IpAddr &src, ProbeClock::time_point now)
{
    if (!setup_.enabled || m.to != setup_.self)
        return false;
    auto it = peers_.find(m.from);
    // Only a sibling, from its own mesh address: the mesh policy lets probes through whatever
    // the rules say, so nothing else may speak for a sibling here.
    if (it == peers_.end() || !(it->second.sib.addr == src))
        return false;
    Peer &p = it->second;
    learn_view(p, m);
    if (m.type == ProbeMessage::Type::Probe) {
        ProbeMessage a;
        a.type = ProbeMessage::Type::Answer;
        a.from = setup_.self;
        a.to = m.from;
        a.seq = m.seq;
        a.down = down_view();
        io_.send(src, a);
        return true;
    }
    if (p.outstanding && *p.outstanding == m.seq) {
        auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(now - p.sent_at);
        entries_[p.sib.slot].rtt_us = static_cast<uint32_t>(std::max<int64_t>(0, rtt.count()));
        p.outstanding.reset();
        record(p, true, now);
    }
    return true; // a late answer (its probe already counted as lost) changes nothing
}

ProbeClock::time_point ProbeEngine::next_deadline() const
{
    auto t = ProbeClock::time_point::max();
    for (const auto &[slot, p] : peers_) {
        t = std::min(t, p.next_send);
        if (p.outstanding)
            t = std::min(t, p.deadline);
    }
    return t;
}

void ProbeEngine::clear_all()
{
    for (auto &[node, e] : entries_) {
        if (e.flags & XI_PEER_F_DOWN) {
            e.flags &= ~uint32_t(XI_PEER_F_DOWN);
            write_entry(node);
        }
    }
}

std::optional<PeerState> ProbeEngine::state_of(uint16_t slot) const
{
    auto it = peers_.find(slot);
    if (it == peers_.end())
        return std::nullopt;
    return it->second.probe.state();
}

std::bitset<XI_MAX_NODES> ProbeEngine::down_view() const
{
    std::bitset<XI_MAX_NODES> b;
    for (const auto &[slot, p] : peers_)
        if (p.probe.state() == PeerState::Down)
            b.set(slot);
    return b;
}

void ProbeEngine::record(Peer &p, bool answered, ProbeClock::time_point)
{
    const PeerState before = p.probe.state();
    auto changed = p.probe.record(answered);
    xi_peer_state &e = entries_[p.sib.slot];
    e.probes_sent = p.sent_base + p.probe.sent();
    e.probes_answered = p.answered_base + p.probe.answered();
    if (changed) {
        e.transitions++;
        e.changed_at = io_.wall_now ? io_.wall_now() : 0;
        e.state = *changed == PeerState::Down ? XI_PEER_DOWN : XI_PEER_UP;
        if (*changed == PeerState::Down)
            e.flags |= XI_PEER_F_DOWN;
        else
            e.flags &= ~uint32_t(XI_PEER_F_DOWN);
    } else if (!e.state && p.probe.state() != PeerState::Unknown) {
        e.state = p.probe.state() == PeerState::Down ? XI_PEER_DOWN : XI_PEER_UP;
    }
    write_entry(p.sib.slot);
    if (!changed)
        return;
    const uint32_t n =
        *changed == PeerState::Down ? setup_.policy.down_after : setup_.policy.up_after;
    if (*changed == PeerState::Down) {
        // What it said about us is no longer news: it cannot be heard.
        reported_by_.reset(p.sib.slot);
        sync_reported();
        extend_window();
        io_.event(XI_AGENT_PEER_DOWN, p.sib,
                  "sibling " + p.sib.name + " (" + p.sib.addr.str() +
                      ") is down: " + std::to_string(n) +
                      " probes in a row unanswered; its slots go to their fallback owners");
    } else if (before == PeerState::Unknown) {
        // The first verdict: nothing moves back, no event (io_.event with kind 0 only logs).
        io_.event(0, p.sib,
                  "sibling " + p.sib.name + " (" + p.sib.addr.str() + ") answers probes: up");
    } else {
        io_.event(XI_AGENT_PEER_UP, p.sib,
                  "sibling " + p.sib.name + " (" + p.sib.addr.str() + ") is up: " +
                      std::to_string(n) + " probes in a row answered; its slots go back to it");
    }
}

void ProbeEngine::learn_view(const Peer &p, const ProbeMessage &m)
{
    const bool sees_us_down = m.down.test(setup_.self);
    const bool before = reported_by_.test(p.sib.slot);
    reported_by_.set(p.sib.slot, sees_us_down);
    if (sees_us_down)
        extend_window();
    sync_reported();
    if (sees_us_down && !before)
        io_.event(XI_AGENT_SEEN_DOWN, p.sib,
                  "sibling " + p.sib.name +
                      " sees this edge down: it sends this edge's flows to "
                      "their fallback owners; the ones held there keep going there for " +
                      std::to_string(setup_.recover_s) + " s after it sees this edge again");
}

void ProbeEngine::extend_window()
{
    if (!io_.boot_after)
        return;
    uint32_t until = io_.boot_after(setup_.recover_s);
    xi_peer_state &self = entries_[setup_.self];
    if (until <= self.recover_until)
        return;
    self.recover_until = until;
    write_entry(setup_.self);
}

void ProbeEngine::sync_reported()
{
    if (setup_.self >= XI_MAX_NODES)
        return;
    xi_peer_state &self = entries_[setup_.self];
    if (self.reported_down != reported_by_.count()) {
        self.reported_down = static_cast<uint32_t>(reported_by_.count());
        write_entry(setup_.self);
    }
}

void ProbeEngine::write_entry(uint16_t node)
{
    if (io_.write)
        io_.write(node, entries_[node]);
}

} // namespace xi
