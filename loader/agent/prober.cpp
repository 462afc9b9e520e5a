// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "prober.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <bpf/bpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "agent_event.h"
#include "error.h"
#include "peer_state.h"
#include "publish.h"

namespace xi
{

ProbeSetup probe_setup(const FleetView &f, const std::string &self,
                       const std::vector<std::string> &node_slots)
{
    ProbeSetup s;
    s.self_name = self;
    s.port = f.failover.probe_port;
    s.policy.interval = std::chrono::milliseconds(f.failover.probe_interval);
    s.policy.down_after = f.failover.down_after;
    s.policy.up_after = f.failover.up_after;
    s.policy.jitter_percent = f.failover.jitter_percent;
    s.timeout = std::chrono::milliseconds(f.failover.probe_timeout);
    s.recover_s = f.drain_timeout;
    auto slot_of = [&](const std::string &name) -> std::optional<uint16_t> {
        for (size_t i = 0; i < node_slots.size() && i < XI_MAX_NODES; i++)
            if (node_slots[i] == name)
                return uint16_t(i);
        return std::nullopt;
    };
    const NodeCfg *me = nullptr;
    for (const auto &n : f.nodes)
        if (n.name == self)
            me = &n;
    auto my_slot = slot_of(self);
    if (!f.failover.enabled || !me || !me->is_edge() || !my_slot)
        return s;
    s.enabled = true;
    s.self = *my_slot;
    for (const auto &n : f.nodes) {
        if (n.name == self || !n.is_edge() || n.state == NodeCfg::State::Inactive)
            continue;
        auto slot = slot_of(n.name);
        if (!slot)
            continue;
        std::optional<IpAddr> to = me->mesh4 && n.mesh4   ? n.mesh4
                                   : me->mesh6 && n.mesh6 ? n.mesh6
                                                          : std::nullopt;
        if (to)
            s.siblings.push_back({*slot, n.name, *to});
    }
    return s;
}

namespace
{

IpAddr from_sockaddr(const sockaddr_storage &ss)
{
    IpAddr a;
    if (ss.ss_family == AF_INET) {
        const auto *s4 = reinterpret_cast<const sockaddr_in *>(&ss);
        a.v4 = true;
        a.bytes[10] = a.bytes[11] = 0xff;
        std::memcpy(&a.bytes[12], &s4->sin_addr, 4);
    } else {
        const auto *s6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
        std::memcpy(a.bytes.data(), &s6->sin6_addr, 16);
    }
    return a;
}

socklen_t to_sockaddr(const IpAddr &a, uint16_t port, sockaddr_storage &ss)
{
    std::memset(&ss, 0, sizeof(ss));
    if (a.v4) {
        auto *s4 = reinterpret_cast<sockaddr_in *>(&ss);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        std::memcpy(&s4->sin_addr, &a.bytes[12], 4);
        return sizeof(*s4);
    }
    auto *s6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    std::memcpy(&s6->sin6_addr, a.bytes.data(), 16);
    return sizeof(*s6);
}

// A UDP socket on addr:port, bound to the mesh interface: probes leave only through the mesh,
// and only what came in through it is read (a datagram from the internet that claims a sibling's
// mesh address never reaches it). IP_FREEBIND: the address may not be on the interface yet.
int bind_probe_socket(const IpAddr &addr, uint16_t port, const std::string &ifname)
{
    int fd = socket(addr.v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw Error("cannot create the probe socket", errno);
    if (!ifname.empty() && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(),
                                      socklen_t(ifname.size())) != 0) {
        int e = errno;
        close(fd);
        throw Error("cannot bind the probe socket to " + ifname, e,
                    e == ENODEV ? "the mesh interface does not exist (yet)" : "");
    }
    int one = 1;
    setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
    if (!addr.v4)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(addr, port, ss);
    if (bind(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0) {
        int e = errno;
        close(fd);
        throw Error(
            "cannot bind the probe socket to " + (addr.v4 ? addr.str() : "[" + addr.str() + "]") +
                ":" + std::to_string(port),
            e, e == EADDRINUSE ? "is another serve running for this edge, or the port taken?" : "");
    }
    return fd;
}

} // namespace

Prober::Prober(const Paths &paths, const std::string &instance)
    : paths_(paths), inst_(instance), dir_(paths.instance(instance)),
      engine_(ProbeIo{
          [this](const IpAddr &to, const ProbeMessage &m) { send(to, m); },
          [this](uint16_t node, const xi_peer_state &s) {
              if (!map_)
                  return;
              try {
                  map_->put(node, s);
              } catch (const Error &e) {
                  spdlog::error("failover: {}", e.full());
              }
          },
          [this](uint8_t kind, const ProbeSibling &sib, const std::string &text) {
              if (kind == XI_AGENT_PEER_DOWN)
                  spdlog::warn("failover: {}", text);
              else
                  spdlog::info("failover: {}", text);
              if (!events_ || !kind)
                  return;
              xi_event e{};
              e.reason = kind;
              e.node = sib.slot;
              e.proto = IPPROTO_UDP;
              e.rule_slot = 0xffff;
              e.sport = e.dport = htons(engine_.setup().port);
              const auto &self = sib.addr.v4 ? self4_ : self6_;
              if (self)
                  e.src = self->to_xi();
              e.dst = sib.addr.to_xi();
              if (!sib.addr.v4)
                  e.flags |= XI_EV_F_IPV6;
              events_->emit(e);
          },
          [](uint32_t s) { return boot_units_after(s); },
          [] { return static_cast<uint64_t>(time(nullptr)); },
      })
{
    open_pins();
}

// Also at every refresh: `attach --replace` may have brought the map (programs from a release
// before failover had none).
void Prober::open_pins()
{
    if (!map_) {
        if (auto m = PeerStateMap::open(dir_))
            map_ = std::make_unique<PeerStateMap>(std::move(*m));
        else if (!configured_)
            spdlog::warn("failover: {}/xi_peer_state does not exist (programs from a release "
                         "before failover): siblings are probed, but no flow fails over until "
                         "`attach --replace` loads the current programs",
                         dir_);
    }
    if (!events_) {
        auto sink = std::make_unique<AgentEventSink>(dir_);
        if (sink->available())
            events_ = std::move(sink);
        else if (!configured_)
            spdlog::warn("failover: sibling transitions are logged and counted, but `monitor` "
                         "will not show them: {}",
                         sink->why());
    }
}

Prober::~Prober()
{
    engine_.clear_all();
    close_sockets();
}

void Prober::refresh(const FleetView &f, const std::string &self)
{
    std::vector<std::string> slots;
    try {
        slots = read_catalog(GenMaps::open_pinned(dir_), CatalogKind::Node);
    } catch (const Error &e) {
        spdlog::error("failover: cannot read the node slots, probing nothing: {}", e.full());
    }
    ProbeSetup s = probe_setup(f, self, slots);
    self4_ = self6_ = std::nullopt;
    mesh_if_.clear();
    for (const auto &n : f.nodes)
        if (n.name == self) {
            self4_ = n.mesh4;
            self6_ = n.mesh6;
            mesh_if_ = n.mesh_if;
        }
    open_pins();
    full_ = s;
    if (!s.enabled) {
        if (fd4_ >= 0 || fd6_ >= 0)
            spdlog::info("failover: off (fleet.failover.enabled is false or this node is no "
                         "edge): probes stopped, every sibling counts as up");
        close_sockets();
    } else {
        open_sockets();
    }
    configure_engine();
    if (!s.enabled)
        return;
    std::string names;
    for (const auto &sib : s.siblings)
        names += (names.empty() ? "" : ", ") + sib.name + " " + sib.addr.str();
    spdlog::info("failover: probing {} siblings every {} ms (+-{}%), timeout {} ms, down after "
                 "{}, up after {}, port {}: {}",
                 s.siblings.size(), s.policy.interval.count(), s.policy.jitter_percent,
                 s.timeout.count(), s.policy.down_after, s.policy.up_after, s.port, names);
}

void Prober::configure_engine()
{
    ProbeSetup s = full_;
    std::erase_if(s.siblings,
                  [&](const ProbeSibling &sib) { return (sib.addr.v4 ? fd4_ : fd6_) < 0; });
    std::vector<xi_peer_state> initial;
    if (!configured_ && map_)
        initial = map_->all();
    engine_.configure(s, initial, ProbeClock::now());
    configured_ = true;
}

void Prober::open_sockets()
{
    const ProbeSetup &s = full_;
    bool want4 = false, want6 = false;
    for (const auto &sib : s.siblings)
        (sib.addr.v4 ? want4 : want6) = true;
    std::optional<IpAddr> a4 = want4 ? self4_ : std::nullopt, a6 = want6 ? self6_ : std::nullopt;
    if (s.port == bound_port_ && a4 == bound4_ && a6 == bound6_)
        return;
    close_sockets();
    try {
        if (a4)
            fd4_ = bind_probe_socket(*a4, s.port, mesh_if_);
        if (a6)
            fd6_ = bind_probe_socket(*a6, s.port, mesh_if_);
        bound4_ = a4;
        bound6_ = a6;
        bound_port_ = s.port;
        rebind_at_ = ProbeClock::time_point::max();
        if (!bind_error_.empty())
            spdlog::info("failover: probe sockets bound, probing again");
        bind_error_.clear();
    } catch (const Error &e) {
        // Without a socket this edge cannot probe: its siblings stay as they are here (never
        // marked down for want of a socket), and they will see this edge down. Tried again
        // every 2 s; said once per distinct failure.
        close_sockets();
        rebind_at_ = ProbeClock::now() + std::chrono::seconds(2);
        if (e.full() != bind_error_)
            spdlog::error("failover: {}: not probing, trying again every 2 s; the siblings will "
                          "see this edge down meanwhile",
                          e.full());
        bind_error_ = e.full();
    }
}

void Prober::close_sockets()
{
    for (int *fd : {&fd4_, &fd6_})
        if (*fd >= 0) {
            close(*fd);
            *fd = -1;
        }
    bound4_ = bound6_ = std::nullopt;
    bound_port_ = 0;
}

std::vector<int> Prober::fds() const
{
    std::vector<int> v;
    for (int fd : {fd4_, fd6_})
        if (fd >= 0)
            v.push_back(fd);
    return v;
}

void Prober::on_readable(int fd)
{
    uint8_t buf[512];
    for (int i = 0; i < 256; i++) { // bounded: the rest waits for the next poll
        sockaddr_storage ss{};
        socklen_t len = sizeof(ss);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr *>(&ss), &len);
        if (n < 0)
            return;
        auto m = decode_probe(buf, static_cast<size_t>(n));
        if (m)
            engine_.receive(*m, from_sockaddr(ss), ProbeClock::now());
    }
}

void Prober::tick()
{
    if (ProbeClock::now() >= rebind_at_) {
        open_sockets();
        if (fd4_ >= 0 || fd6_ >= 0)
            configure_engine();
    }
    engine_.tick(ProbeClock::now());
}

int Prober::timeout_ms() const
{
    auto t = std::min(engine_.next_deadline(), rebind_at_);
    if (t == ProbeClock::time_point::max())
        return -1;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - ProbeClock::now()).count();
    return static_cast<int>(std::clamp<long long>(ms + 1, 0, 60000));
}

void Prober::send(const IpAddr &to, const ProbeMessage &m)
{
    int fd = to.v4 ? fd4_ : fd6_;
    if (fd < 0)
        return;
    auto b = encode_probe(m);
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(to, engine_.setup().port, ss);
    // A failed send (no route while wg0 is down, a full queue) is a lost probe, which the
    // timeout counts; said once in the log, not once a second.
    if (sendto(fd, b.data(), b.size(), 0, reinterpret_cast<sockaddr *>(&ss), len) < 0 &&
        send_errors_logged_++ == 0)
        spdlog::warn("failover: cannot send a probe to {} ({}): counted as unanswered", to.str(),
                     std::strerror(errno));
}

} // namespace xi
