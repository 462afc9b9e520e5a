// serve's sibling prober (issue #14): the ProbeEngine with its sockets, the pinned
// xi_peer_state it writes, the log and the monitor events. UDP on fleet.failover.probe_port,
// bound to this edge's mesh addresses (IP_FREEBIND: wg0 may get its address after serve starts),
// so probes and answers travel the mesh like the steered traffic they vouch for.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpffs.h"
#include "instance.h"
#include "probe_engine.h"

namespace xi
{

// Who this edge probes, from the fleet file and the node slots the running generation uses:
// every other edge that holds or may hold slots (active, joining, draining), at its IPv4 mesh
// address where both ends have one, else IPv6. Not enabled when fleet.failover.enabled is
// false, this node is not an edge, or it has no slot.
ProbeSetup probe_setup(const FleetView &f, const std::string &self,
                       const std::vector<std::string> &node_slots);

// The fleet as the running generation has it (node names, mesh addresses, which are edges, the
// probe port), with the default probe settings: for an agent that takes over an instance whose
// file no longer parses. nullopt when the pins cannot be read.
std::optional<FleetView> fleet_from_pins(const std::string &dir);

class PeerStateMap;
class AgentEventSink;

class Prober
{
public:
    Prober(const Paths &paths, const std::string &instance);
    ~Prober(); // clears the down flags: without an agent the table alone decides
    Prober(const Prober &) = delete;
    Prober &operator=(const Prober &) = delete;

    // After every attach and reload: what the running generation and its file say.
    void refresh(const FleetView &f, const std::string &self);
    std::vector<int> fds() const;
    void on_readable(int fd);
    void tick();
    int timeout_ms() const; // until tick has something to do (-1: nothing)

private:
    void open_sockets();
    void close_sockets();
    void open_pins();
    void configure_engine(); // full_ minus the siblings of a family without a socket
    void send(const IpAddr &to, const ProbeMessage &m);

    Paths paths_;
    std::string inst_, dir_;
    std::unique_ptr<PeerStateMap> map_;
    std::unique_ptr<AgentEventSink> events_;
    ProbeEngine engine_;
    int fd4_ = -1, fd6_ = -1;
    std::optional<IpAddr> bound4_, bound6_;
    uint16_t bound_port_ = 0;
    std::optional<IpAddr> self4_, self6_;
    bool configured_ = false;
    ProbeSetup full_;     // what the fleet asks for
    std::string mesh_if_; // this edge's mesh interface: the probe sockets are bound to it
    ProbeClock::time_point rebind_at_ = ProbeClock::time_point::max();
    std::string bind_error_; // the last bind failure, said once
    uint64_t send_errors_logged_ = 0;
};

} // namespace xi
