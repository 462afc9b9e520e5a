// serve's own events (issue #14: a sibling seen down or up, this edge reported down) into the
// ring buffer `xdp-ingress monitor` reads, through a syscall program run with
// BPF_PROG_TEST_RUN (bpf/agent_event.bpf.c): the ring buffer has no userspace writer.
#pragma once

#include <memory>
#include <string>

#include "xi_structs.h"

namespace xi
{

class AgentEventSink
{
public:
    // Loads the program against the instance's pinned xi_events. A kernel without syscall
    // programs (or without the pin) leaves the sink unavailable: why() says so, emit() is a no-op.
    explicit AgentEventSink(const std::string &dir);
    ~AgentEventSink();
    AgentEventSink(const AgentEventSink &) = delete;
    AgentEventSink &operator=(const AgentEventSink &) = delete;

    bool available() const { return prog_fd_ >= 0; }
    const std::string &why() const { return why_; }
    // Fills ts_ns (CLOCK_MONOTONIC, as bpf_ktime_get_ns), the flags and hook. False when the
    // event could not be written (sink unavailable, ring buffer full).
    bool emit(xi_event e) const;

private:
    struct Skel;
    std::unique_ptr<Skel> skel_;
    int prog_fd_ = -1;
    std::string why_;
};

} // namespace xi
