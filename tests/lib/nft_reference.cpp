// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The nftables reference's harness (nft_reference.h): the router and injector namespaces, the
// NFLOG socket that reports each decision, and sending a frame with its sentinel. The ruleset
// text comes from nft_ruleset.cpp; commands and sysctls in a namespace from netns_command.h.
#include "nft_reference.h"
#include "netns_command.h"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <linux/if_packet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace xi::test
{

std::string NftVerdict::label() const
{
    if (logs.empty())
        return "-";
    std::string out;
    for (const auto &l : logs)
        out += (out.empty() ? "" : " + ") + l.prefix;
    return out;
}

namespace
{

// The veths' addresses: R's ends, I's ends, and R's next hop.
const uint8_t kMacRouter[6] = {0x02, 0x58, 0x49, 0x00, 0x00, 0x01};
const char *const kMacRouterText = "02:58:49:00:00:01";
const char *const kMacInjectorText = "02:58:49:00:00:02";
const char *const kMacNextHopText = "02:58:49:00:00:ee"; // nobody: forwarded frames are dropped

// ---- NFLOG ------------------------------------------------------------------------------------

// nlattr helpers for the NFLOG configuration messages.
void put_attr(std::vector<uint8_t> &msg, uint16_t type, const void *data, size_t len)
{
    nlattr a{};
    a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
    a.nla_type = type;
    size_t off = msg.size();
    msg.resize(off + NLA_ALIGN(a.nla_len), 0);
    std::memcpy(&msg[off], &a, sizeof(a));
    std::memcpy(&msg[off + NLA_HDRLEN], data, len);
}

void nflog_config(int fd, uint16_t group, const std::vector<uint8_t> &attrs)
{
    std::vector<uint8_t> msg(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)), 0);
    msg.insert(msg.end(), attrs.begin(), attrs.end());
    auto *nh = reinterpret_cast<nlmsghdr *>(msg.data());
    nh->nlmsg_len = static_cast<uint32_t>(msg.size());
    nh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
    nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nh->nlmsg_seq = 1;
    auto *g = reinterpret_cast<nfgenmsg *>(msg.data() + NLMSG_HDRLEN);
    g->nfgen_family = AF_UNSPEC;
    g->version = NFNETLINK_V0;
    g->res_id = htons(group);
    if (send(fd, msg.data(), msg.size(), 0) != static_cast<ssize_t>(msg.size()))
        throw std::runtime_error(std::string("NFLOG config send: ") + strerror(errno));
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1)
        throw std::runtime_error("NFLOG config: no answer");
    uint8_t buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    auto *ack = reinterpret_cast<nlmsghdr *>(buf);
    if (n < static_cast<ssize_t>(NLMSG_HDRLEN + sizeof(nlmsgerr)) || ack->nlmsg_type != NLMSG_ERROR)
        throw std::runtime_error("NFLOG config: unexpected answer");
    auto *err = static_cast<nlmsgerr *>(NLMSG_DATA(ack));
    if (err->error != 0)
        throw std::runtime_error(std::string("NFLOG config: ") + strerror(-err->error));
}

} // namespace

// ---- the harness ------------------------------------------------------------------------------

NftReference::NftReference(const Config &c, const NftRefOptions &o) : opt_(o)
{
    try {
        setup(c);
    } catch (...) {
        teardown();
        throw;
    }
}

NftReference::~NftReference()
{
    teardown();
}

void NftReference::setup(const Config &c)
{
    static int instance = 0;
    std::string base = "xinft-" + std::to_string(getpid()) + "-" + std::to_string(instance++);
    ns_r_ = base + "-r";
    ns_i_ = base + "-i";
    ruleset_ = nft_ruleset(c, opt_);

    must_run({"ip", "netns", "add", ns_r_});
    made_r_ = true;
    must_run({"ip", "netns", "add", ns_i_});
    made_i_ = true;

    // I only injects: no IPv6 (no DAD, RS or MLD of its own reaching R), no addresses.
    set_netns_sysctl(ns_i_, "net/ipv6/conf/all/disable_ipv6", "1");
    set_netns_sysctl(ns_i_, "net/ipv6/conf/default/disable_ipv6", "1");
    for (auto [inj, rtr] : {std::pair{"m1", opt_.mesh_if}, std::pair{"h1", opt_.host_if}})
        must_run({"ip", "-n", ns_i_, "link", "add", inj, "address", kMacInjectorText, "type",
                  "veth", "peer", "name", rtr, "address", kMacRouterText, "netns", ns_r_});

    // R forwards everything by input interface: what arrives on the mesh side leaves on the host
    // side and the other way round, whatever the address, so conntrack confirms what it accepts.
    set_netns_sysctl(ns_r_, "net/ipv4/ip_forward", "1");
    set_netns_sysctl(ns_r_, "net/ipv6/conf/all/forwarding", "1");
    for (const auto &dev : {std::string("all"), std::string("default"), opt_.mesh_if, opt_.host_if})
        set_netns_sysctl(ns_r_, "net/ipv4/conf/" + dev + "/rp_filter", "0");
    set_netns_sysctl(ns_r_, "net/ipv4/conf/all/send_redirects", "0");
    for (const auto &dev : {opt_.mesh_if, opt_.host_if}) {
        set_netns_sysctl(ns_r_, "net/ipv6/conf/" + dev + "/accept_dad", "0");
        set_netns_sysctl(ns_r_, "net/ipv6/conf/" + dev + "/router_solicitations", "0");
    }
    for (const auto &dev : {std::string("lo"), opt_.mesh_if, opt_.host_if})
        must_run({"ip", "-n", ns_r_, "link", "set", dev, "up"});
    for (const char *dev : {"m1", "h1"})
        must_run({"ip", "-n", ns_i_, "link", "set", dev, "up"});
    struct Route {
        std::string iif, oif, table, gw4;
    };
    for (const auto &r : {Route{opt_.mesh_if, opt_.host_if, "100", "100.64.255.2"},
                          Route{opt_.host_if, opt_.mesh_if, "200", "100.64.255.6"}}) {
        for (const char *fam : {"-4", "-6"})
            must_run({"ip", "-n", ns_r_, fam, "rule", "add", "iif", r.iif, "lookup", r.table,
                      "pref", r.table});
        must_run({"ip", "-n", ns_r_, "neigh", "add", r.gw4, "lladdr", kMacNextHopText, "dev", r.oif,
                  "nud", "permanent"});
        must_run({"ip", "-n", ns_r_, "route", "add", "default", "via", r.gw4, "dev", r.oif,
                  "onlink", "table", r.table});
        must_run({"ip", "-n", ns_r_, "-6", "neigh", "add", "fe80::2", "lladdr", kMacNextHopText,
                  "dev", r.oif, "nud", "permanent"});
        must_run({"ip", "-n", ns_r_, "-6", "route", "add", "default", "via", "fe80::2", "dev",
                  r.oif, "table", r.table});
    }

    // The ruleset, from a file (nft -f reports errors with line numbers).
    char path[] = "/tmp/xinft-ruleset-XXXXXX";
    int tfd = mkstemp(path);
    if (tfd < 0)
        throw std::runtime_error("mkstemp failed");
    close(tfd);
    {
        std::ofstream f(path);
        f << ruleset_;
    }
    std::string out;
    int rc = run_command({"nft", "-f", path}, &out, ns_r_);
    unlink(path);
    if (rc != 0)
        throw std::runtime_error("nft -f failed (" + std::to_string(rc) + "):\n" + out +
                                 "\nruleset:\n" + ruleset_);
    // Our datapath tracks no TCP windows: the reference does not judge sequence numbers either
    // (the corpus still uses consistent ones).
    set_netns_sysctl(ns_r_, "net/netfilter/nf_conntrack_tcp_be_liberal", "1");

    {
        ScopedNetns in(ns_r_);
        nflog_fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (nflog_fd_ < 0)
            throw std::runtime_error(std::string("NFLOG socket: ") + strerror(errno));
        int rcvbuf = 4 << 20;
        setsockopt(nflog_fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        sockaddr_nl sa{};
        sa.nl_family = AF_NETLINK;
        if (bind(nflog_fd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) != 0)
            throw std::runtime_error(std::string("NFLOG bind: ") + strerror(errno));
        std::vector<uint8_t> a;
        nfulnl_msg_config_cmd cmd{NFULNL_CFG_CMD_BIND};
        put_attr(a, NFULA_CFG_CMD, &cmd, sizeof(cmd));
        nflog_config(nflog_fd_, opt_.log_group, a);
        a.clear();
        nfulnl_msg_config_mode mode{};
        mode.copy_range = htonl(256);
        mode.copy_mode = NFULNL_COPY_PACKET;
        put_attr(a, NFULA_CFG_MODE, &mode, sizeof(mode));
        uint32_t one = htonl(1); // flush every message at once
        put_attr(a, NFULA_CFG_QTHRESH, &one, sizeof(one));
        nflog_config(nflog_fd_, opt_.log_group, a);
    }
    {
        ScopedNetns in(ns_i_);
        pkt_fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); // protocol 0: send only
        if (pkt_fd_ < 0)
            throw std::runtime_error(std::string("AF_PACKET socket: ") + strerror(errno));
        ifindex_m1_ = static_cast<int>(if_nametoindex("m1"));
        ifindex_h1_ = static_cast<int>(if_nametoindex("h1"));
        if (!ifindex_m1_ || !ifindex_h1_)
            throw std::runtime_error("injector interfaces missing");
    }

    // One CPU: the test frame and its sentinel take the same per-CPU backlog, in order.
    cpu_set_t old;
    CPU_ZERO(&old);
    if (sched_getaffinity(0, sizeof(old), &old) == 0) {
        saved_affinity_.assign(reinterpret_cast<uint8_t *>(&old),
                               reinterpret_cast<uint8_t *>(&old) + sizeof(old));
        cpu_set_t one;
        CPU_ZERO(&one);
        int cpu = sched_getcpu();
        CPU_SET(cpu < 0 ? 0 : cpu, &one);
        if (sched_setaffinity(0, sizeof(one), &one) != 0)
            throw std::runtime_error(std::string("sched_setaffinity: ") + strerror(errno));
        pinned_ = true;
    }
}

void NftReference::teardown() noexcept
{
    if (pinned_) {
        cpu_set_t old;
        std::memcpy(&old, saved_affinity_.data(), sizeof(old));
        sched_setaffinity(0, sizeof(old), &old);
        pinned_ = false;
    }
    if (nflog_fd_ >= 0)
        close(nflog_fd_);
    if (pkt_fd_ >= 0)
        close(pkt_fd_);
    nflog_fd_ = pkt_fd_ = -1;
    // Deleting the namespaces removes the veth pairs, routes and the ruleset with them.
    std::string out;
    if (made_i_)
        run_command({"ip", "netns", "del", ns_i_}, &out);
    if (made_r_)
        run_command({"ip", "netns", "del", ns_r_}, &out);
    made_i_ = made_r_ = false;
}

std::string NftReference::dump() const
{
    std::string out;
    run_command({"nft", "list", "ruleset"}, &out, ns_r_);
    return out;
}

NftVerdict NftReference::send(bool ingress, const Bytes &frame)
{
    uint16_t seq = ++seq_;
    Bytes f = frame;
    if (f.size() < 14)
        throw std::invalid_argument("frame without Ethernet header");
    std::memcpy(f.data(), kMacRouter, 6);
    Bytes sentinel = Packet()
                         .eth(kMacInjectorText, kMacRouterText)
                         .ipv4("100.64.254.1", "100.64.254.2")
                         .ip_id(seq)
                         .udp(9, 9)
                         .build();
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ingress ? ifindex_m1_ : ifindex_h1_;
    to.sll_halen = 6;
    std::memcpy(to.sll_addr, kMacRouter, 6);
    for (const Bytes *b : {&f, &sentinel})
        if (sendto(pkt_fd_, b->data(), b->size(), 0, reinterpret_cast<sockaddr *>(&to),
                   sizeof(to)) != static_cast<ssize_t>(b->size()))
            throw std::runtime_error(std::string("AF_PACKET sendto: ") + strerror(errno));
    return NftVerdict{read_until_sentinel(seq)};
}

std::vector<NftLog> NftReference::read_until_sentinel(uint16_t seq)
{
    std::vector<NftLog> logs;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    std::vector<uint8_t> buf(1 << 16);
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        pollfd p{nflog_fd_, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0)
            throw std::runtime_error("no sentinel from the nft reference within 2 s (seq " +
                                     std::to_string(seq) + ")");
        ssize_t n = recv(nflog_fd_, buf.data(), buf.size(), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw std::runtime_error(std::string("NFLOG recv: ") + strerror(errno));
        }
        int len = static_cast<int>(n);
        // NLMSG_OK compares the unsigned nlmsg_len with the int length it counts down: its
        // first test (len >= header) keeps that comparison sound, which clang cannot see.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
        for (auto *nh = reinterpret_cast<nlmsghdr *>(buf.data()); NLMSG_OK(nh, len);
             nh = NLMSG_NEXT(nh, len)) {
#pragma GCC diagnostic pop
            if (nh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET))
                continue;
            NftLog log;
            auto *start = static_cast<uint8_t *>(NLMSG_DATA(nh)) + NLMSG_ALIGN(sizeof(nfgenmsg));
            auto *end = reinterpret_cast<uint8_t *>(nh) + nh->nlmsg_len;
            for (auto *a = start; a + NLA_HDRLEN <= end;) {
                nlattr at;
                std::memcpy(&at, a, sizeof(at));
                if (at.nla_len < NLA_HDRLEN || a + at.nla_len > end)
                    break;
                const uint8_t *data = a + NLA_HDRLEN;
                size_t dlen = at.nla_len - NLA_HDRLEN;
                switch (at.nla_type & NLA_TYPE_MASK) {
                case NFULA_PREFIX:
                    log.prefix.assign(reinterpret_cast<const char *>(data),
                                      strnlen(reinterpret_cast<const char *>(data), dlen));
                    break;
                case NFULA_PAYLOAD:
                    log.payload.assign(data, data + dlen);
                    break;
                default:
                    break;
                }
                a += NLA_ALIGN(at.nla_len);
            }
            if (log.prefix == "SENTINEL") {
                uint16_t id = log.payload.size() >= 6
                                  ? static_cast<uint16_t>(log.payload[4] << 8 | log.payload[5])
                                  : 0;
                if (id == seq)
                    return logs;
                continue; // a late sentinel of an earlier packet (cannot happen; be safe)
            }
            logs.push_back(std::move(log));
        }
    }
}

} // namespace xi::test
