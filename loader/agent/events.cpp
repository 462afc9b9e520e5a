#include "events.h"

#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <chrono>
#include <cstring>
#include <ctime>

#include "counters.h"
#include "error.h"
#include "netaddr.h"

namespace xi
{

namespace
{

std::string name_at(const std::vector<std::string> &v, uint32_t i, const char *fallback)
{
    if (i < v.size() && !v[i].empty())
        return v[i];
    return fallback;
}

const char *proto_name(uint8_t p)
{
    switch (p) {
    case 6:
        return "tcp";
    case 17:
        return "udp";
    case 1:
        return "icmp";
    case 58:
        return "icmp6";
    default:
        return "ip";
    }
}

struct PollCtx {
    const std::function<bool(const xi_event &)> *fn;
    size_t seen = 0, count = 0;
    bool stop = false;
};

int on_sample(void *ctx, void *data, size_t size)
{
    auto *c = static_cast<PollCtx *>(ctx);
    if (size < sizeof(xi_event) || c->stop)
        return 0;
    xi_event e;
    std::memcpy(&e, data, sizeof(e));
    c->seen++;
    if (!(*c->fn)(e) || (c->count && c->seen >= c->count)) {
        c->stop = true;
        return 1; // stop consuming this batch
    }
    return 0;
}

} // namespace

namespace
{
const char *agent_event_name(uint8_t kind)
{
    switch (kind) {
    case XI_AGENT_PEER_DOWN:
        return "peer_down";
    case XI_AGENT_PEER_UP:
        return "peer_up";
    case XI_AGENT_SEEN_DOWN:
        return "seen_down";
    default:
        return "?";
    }
}
} // namespace

nlohmann::json event_json(const xi_event &e, const Catalogs &names)
{
    if (e.flags & XI_EV_F_AGENT) // serve's probes (issue #14), not a packet
        return {{"ts_ns", e.ts_ns},
                {"source", "agent"},
                {"event", agent_event_name(e.reason)},
                {"node", name_at(names.nodes, e.node, "?")},
                {"src", IpAddr::from_xi(e.src).str()},
                {"dst", IpAddr::from_xi(e.dst).str()},
                {"port", ntohs(e.dport)}};
    const ReasonInfo *r = reason_info(e.reason);
    std::string hook = "?";
    for (const auto &h : hooks())
        if (h.number == e.hook)
            hook = std::string(h.side) + "/" + h.kind + "/" + h.direction;
    nlohmann::json j = {
        {"ts_ns", e.ts_ns},
        {"hook", hook},
        {"reason", r ? r->label : "?"},
        {"verdict", r && r->drop ? "deny" : "pass"},
        {"proto", proto_name(e.proto)},
        {"src", IpAddr::from_xi(e.src).str()},
        {"dst", IpAddr::from_xi(e.dst).str()},
        {"sport", ntohs(e.sport)},
        {"dport", ntohs(e.dport)},
    };
    if (!(e.flags & XI_EV_F_STEERED)) {
        j["src_role"] = name_at(names.roles, e.src_role, "world");
        j["dst_role"] = name_at(names.roles, e.dst_role, "world");
    }
    if (e.rule_slot != 0xffff)
        j["rule"] = name_at(names.rules, e.rule_slot, "?");
    if (e.node != XI_NODE_NONE)
        j["node"] = name_at(names.nodes, e.node, "?");
    if (e.flags & XI_EV_F_STEERED)
        j["steered"] = true;
    return j;
}

std::string event_line(const nlohmann::json &e)
{
    if (e.value("source", "") == "agent") {
        const std::string ev = e["event"].get<std::string>(), node = e["node"].get<std::string>();
        std::string what = ev == "peer_down"   ? "sibling " + node + " is down: its slots fail over"
                           : ev == "peer_up"   ? "sibling " + node + " is up again"
                           : ev == "seen_down" ? "sibling " + node + " sees this edge down"
                                               : ev + " " + node;
        return "agent " + ev + " edge " + node + " (" + e["src"].get<std::string>() + " -> " +
               e["dst"].get<std::string>() + " port " + std::to_string(e["port"].get<int>()) +
               "): " + what;
    }
    auto ep = [&](const char *addr, const char *port) {
        std::string a = e[addr].get<std::string>();
        if (a.find(':') != std::string::npos)
            a = "[" + a + "]";
        return a + ":" + std::to_string(e[port].get<int>());
    };
    std::string s = e["verdict"].get<std::string>() + " " + e["hook"].get<std::string>() + " " +
                    e["proto"].get<std::string>() + " " + ep("src", "sport") + " -> " +
                    ep("dst", "dport");
    if (e.contains("src_role"))
        s += " (" + e["src_role"].get<std::string>() + " -> " + e["dst_role"].get<std::string>() +
             ")";
    s += " " + e["reason"].get<std::string>();
    if (e.contains("rule"))
        s += " rule " + e["rule"].get<std::string>();
    if (e.contains("node"))
        s += " edge " + e["node"].get<std::string>();
    return s;
}

size_t poll_events(int ringbuf_fd, const std::function<bool(const xi_event &)> &fn, size_t count,
                   int timeout_ms, const std::function<bool()> &stop)
{
    PollCtx ctx;
    ctx.fn = &fn;
    ctx.count = count;
    ring_buffer *rb = ring_buffer__new(ringbuf_fd, on_sample, &ctx, nullptr);
    if (!rb)
        throw Error("cannot open the event ring buffer", errno);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!ctx.stop && !(stop && stop())) {
        int wait = 200;
        if (timeout_ms >= 0) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
            if (left <= 0)
                break;
            wait = static_cast<int>(std::min<long>(left, 200));
        }
        int n = ring_buffer__poll(rb, wait);
        if (n < 0 && n != -EINTR) {
            ring_buffer__free(rb);
            throw Error("cannot read the event ring buffer", -n);
        }
    }
    ring_buffer__free(rb);
    return ctx.seen;
}

} // namespace xi
