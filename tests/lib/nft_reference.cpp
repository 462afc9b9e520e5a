#include "nft_reference.h"

#include <algorithm>
#include <arpa/inet.h>
#include <bitset>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <linux/if_packet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <map>
#include <net/if.h>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <tuple>
#include <unistd.h>

namespace xi::test
{

namespace
{

// ---- translation ------------------------------------------------------------------------------

// The documented metadata services (ARCHITECTURE.md, issue #4), written here again on purpose:
// the reference must not inherit a mistake in our list.
const char *const kMetadataServices[] = {"169.254.169.254", "169.254.170.2", "168.63.129.16",
                                         "100.100.100.200", "fd00:ec2::254"};

constexpr int kAnyRole = -1;

std::string hex32(uint32_t v)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "0x%08x", v);
    return buf;
}

// "a.b.c.d/len" or "x::y/len"; IPv4 also as its IPv4-mapped IPv6 form when mapped is set.
std::string prefix_text(const Prefix &p, bool mapped)
{
    char buf[INET6_ADDRSTRLEN];
    if (p.addr.v4 && !mapped) {
        inet_ntop(AF_INET, &p.addr.bytes[12], buf, sizeof(buf));
        return std::string(buf) + "/" + std::to_string(p.len);
    }
    inet_ntop(AF_INET6, p.addr.bytes.data(), buf, sizeof(buf));
    return std::string(buf) + "/" + std::to_string(p.mapped_len());
}

// Drop prefixes contained in another one (interval sets refuse overlapping elements).
std::vector<Prefix> outermost(std::vector<Prefix> v)
{
    std::sort(v.begin(), v.end(), [](const Prefix &a, const Prefix &b) {
        return a.mapped_len() != b.mapped_len() ? a.mapped_len() < b.mapped_len() : a < b;
    });
    std::vector<Prefix> out;
    for (const auto &p : v)
        if (std::none_of(out.begin(), out.end(), [&](const Prefix &o) { return o.contains(p); }))
            out.push_back(p);
    return out;
}

std::string role_key(int role)
{
    return role == kAnyRole ? "any" : std::to_string(role);
}

int role_number(const Config &c, const std::string &name)
{
    if (name == "any")
        return kAnyRole;
    if (name == "world")
        return 0;
    for (size_t i = 0; i < c.identities.size(); i++)
        if (c.identities[i].name == name)
            return static_cast<int>(i + 1);
    throw std::runtime_error("nft reference: unknown role '" + name + "'");
}

// Ports of a rule as a sorted list of disjoint, non-adjacent ranges.
std::vector<PortRange> merged_ports(const RuleCfg &r)
{
    std::vector<PortRange> v = r.ports, out;
    std::sort(v.begin(), v.end());
    for (const auto &p : v) {
        if (!out.empty() && uint32_t(p.lo) <= uint32_t(out.back().hi) + 1)
            out.back().hi = std::max(out.back().hi, p.hi);
        else
            out.push_back(p);
    }
    return out;
}

uint32_t ports_covered(const RuleCfg &r)
{
    if (r.ports.empty())
        return 65536;
    std::bitset<65536> bits;
    for (const auto &p : r.ports)
        for (uint32_t x = p.lo; x <= p.hi; x++)
            bits.set(x);
    return static_cast<uint32_t>(bits.count());
}

std::string rule_match(const RuleCfg &r)
{
    std::string m;
    switch (r.proto) {
    case -1:
        return "";
    case IPPROTO_ICMP:
        // "icmp" is ICMP of the packet's family: ICMPv4 in IPv4, ICMPv6 in IPv6.
        return "meta l4proto { icmp, ipv6-icmp } ";
    case IPPROTO_TCP:
        m = "meta l4proto tcp ";
        break;
    case IPPROTO_UDP:
        m = "meta l4proto udp ";
        break;
    default:
        throw std::runtime_error("nft reference: protocol " + std::to_string(r.proto));
    }
    if (r.ports.empty())
        return m;
    m += "th dport { ";
    bool first = true;
    for (const auto &p : merged_ports(r)) {
        m += (first ? "" : ", ") + std::to_string(p.lo);
        if (p.hi != p.lo)
            m += "-" + std::to_string(p.hi);
        first = false;
    }
    return m + " } ";
}

struct Emitter {
    const NftRefOptions &o;
    std::ostringstream s;

    std::string log(bool accept, const std::string &label)
    {
        return "log prefix \"" + std::string(accept ? "A " : "D ") + label + "\" group " +
               std::to_string(o.log_group) + (accept ? " accept" : " drop");
    }
    void set(const std::string &name, bool v6, const std::vector<std::string> &elems)
    {
        s << "  set " << name << " {\n    type " << (v6 ? "ipv6_addr" : "ipv4_addr")
          << "; flags interval\n    elements = { ";
        for (size_t i = 0; i < elems.size(); i++)
            s << (i ? ", " : "") << elems[i];
        s << " }\n  }\n";
    }
};

} // namespace

std::string nft_rule_label(size_t index)
{
    return "r" + std::to_string(index);
}

std::string nft_ruleset(const Config &c, const NftRefOptions &o)
{
    Emitter e{o, {}};
    auto &s = e.s;
    const std::string ifs = "{ \"" + o.mesh_if + "\", \"" + o.host_if + "\" }";
    s << "table inet " << o.table << " {\n";

    // Metadata services: the documented list plus metadata_extra; IPv4 ones also in their
    // IPv4-mapped IPv6 form.
    std::vector<Prefix> meta4, meta6;
    if (c.metadata_block) {
        std::vector<Prefix> all;
        std::string err;
        for (const char *a : kMetadataServices)
            all.push_back(*Prefix::parse(a, &err));
        for (const auto &p : c.metadata_extra)
            all.push_back(p.prefix);
        for (const auto &p : outermost(all))
            (p.addr.v4 ? meta4 : meta6).push_back(p);
    }
    std::vector<std::string> m4, m6;
    for (const auto &p : meta4) {
        m4.push_back(prefix_text(p, false));
        m6.push_back(prefix_text(p, true));
    }
    for (const auto &p : meta6)
        m6.push_back(prefix_text(p, false));
    if (!m4.empty())
        e.set("metadata4", false, m4);
    if (!m6.empty())
        e.set("metadata6", true, m6);

    // Identities: one set per (identity, family, prefix length); IPv4 prefixes are also put in
    // the IPv6 sets in their IPv4-mapped form (our address model: IPv4 is ::ffff:a.b.c.d).
    struct Group {
        int len; // in the family's bits (IPv6 sets: 128-bit length)
        int role;
        bool v6;
        std::vector<std::string> elems;
        std::string name() const
        {
            return "id" + std::to_string(role) + (v6 ? "_v6_" : "_v4_") + std::to_string(len);
        }
    };
    std::map<std::tuple<bool, int, int>, Group> groups; // (v6, -len, role)
    auto add = [&](bool v6, int len, int role, const std::string &elem) {
        auto [it, fresh] = groups.try_emplace({v6, -len, role}, Group{len, role, v6, {}});
        it->second.elems.push_back(elem);
    };
    for (size_t i = 0; i < c.identities.size(); i++) {
        int role = static_cast<int>(i + 1);
        for (const auto &pc : c.identities[i].prefixes) {
            const Prefix &p = pc.prefix;
            if (p.addr.v4)
                add(false, p.len, role, prefix_text(p, false));
            add(true, p.mapped_len(), role, prefix_text(p, p.addr.v4));
        }
    }
    for (const auto &[k, g] : groups)
        e.set(g.name(), g.v6, g.elems);

    // Role classification, longest prefix first (the map iterates by descending length).
    for (int dst = 0; dst < 2; dst++) {
        s << "  chain " << (dst ? "dst_role" : "src_role") << " {\n";
        for (const auto &[k, g] : groups) {
            uint32_t bits = dst ? uint32_t(g.role) : uint32_t(g.role) << 16;
            s << "    " << (g.v6 ? "ip6 " : "ip ") << (dst ? "daddr" : "saddr") << " @" << g.name()
              << " meta mark set meta mark | " << hex32(bits) << " return\n";
        }
        s << "  }\n";
    }

    // Rules: one chain per role pair, in precedence order.
    std::map<std::pair<int, int>, std::vector<size_t>> pairs;
    for (size_t i = 0; i < c.rules.size(); i++)
        pairs[{role_number(c, c.rules[i].from), role_number(c, c.rules[i].to)}].push_back(i);
    for (auto &[pair, idx] : pairs) {
        std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
            const auto &ra = c.rules[a], &rb = c.rules[b];
            if ((ra.proto >= 0) != (rb.proto >= 0))
                return ra.proto >= 0; // a specific protocol first
            if (ports_covered(ra) != ports_covered(rb))
                return ports_covered(ra) < ports_covered(rb); // then fewer ports
            if (ra.action != rb.action)
                return ra.action == Action::Deny; // then deny over allow
            return a < b;                         // then file order
        });
        s << "  chain p_" << role_key(pair.first) << "_" << role_key(pair.second) << " {\n";
        for (auto i : idx)
            s << "    " << rule_match(c.rules[i])
              << e.log(c.rules[i].action == Action::Allow, nft_rule_label(i)) << "\n";
        s << "  }\n";
    }

    // Before defragmentation and conntrack: the harness's sentinel.
    s << "  chain sentinel {\n    type filter hook prerouting priority -450; policy accept;\n"
      << "    iifname " << ifs << " ip saddr 100.64.254.1 ip daddr 100.64.254.2 udp dport 9 "
      << "log prefix \"SENTINEL\" group " << o.log_group << " drop\n  }\n";

    s << "  chain mesh_policy {\n    type filter hook prerouting priority mangle; policy accept;\n";
    s << "    iifname != " << ifs << " accept\n";
    if (!m4.empty())
        for (const char *dir : {"saddr", "daddr"})
            s << "    ip " << dir << " @metadata4 " << e.log(false, "meta") << "\n";
    if (!m6.empty())
        for (const char *dir : {"saddr", "daddr"})
            s << "    ip6 " << dir << " @metadata6 " << e.log(false, "meta") << "\n";
    // Neighbour discovery proves it is on the link by hop limit 255; MLD by a link-local source.
    s << "    meta nfproto ipv6 icmpv6 type { 133-137 } ip6 hoplimit 255 " << e.log(true, "ndp")
      << "\n";
    s << "    meta nfproto ipv6 icmpv6 type { 130-132, 143 } ip6 saddr fe80::/10 "
      << e.log(true, "mld") << "\n";
    s << "    ct state established " << e.log(true, "est") << "\n";
    s << "    ct state related " << e.log(true, "rel") << "\n";
    s << "    meta mark set 0\n    jump src_role\n    jump dst_role\n";
    std::vector<std::string> ro;
    for (const auto &r : c.reply_only)
        ro.push_back(hex32(uint32_t(role_number(c, r)) << 16));
    if (!ro.empty()) {
        s << "    meta mark & 0xffff0000 { ";
        for (size_t i = 0; i < ro.size(); i++)
            s << (i ? ", " : "") << ro[i];
        s << " } " << e.log(false, "reply-only") << "\n";
    }
    auto vmap = [&](const std::string &key, auto select) {
        std::vector<std::string> el;
        for (const auto &[pair, idx] : pairs)
            if (auto v = select(pair))
                el.push_back(hex32(*v) + " : jump p_" + role_key(pair.first) + "_" +
                             role_key(pair.second));
        if (el.empty())
            return;
        s << "    " << key << " vmap { ";
        for (size_t i = 0; i < el.size(); i++)
            s << (i ? ", " : "") << el[i];
        s << " }\n";
    };
    using Opt = std::optional<uint32_t>;
    vmap("meta mark", [](std::pair<int, int> p) -> Opt {
        if (p.first == kAnyRole || p.second == kAnyRole)
            return std::nullopt;
        return uint32_t(p.first) << 16 | uint32_t(p.second);
    });
    vmap("meta mark & 0xffff0000", [](std::pair<int, int> p) -> Opt {
        if (p.first == kAnyRole || p.second != kAnyRole)
            return std::nullopt;
        return uint32_t(p.first) << 16;
    });
    vmap("meta mark & 0x0000ffff", [](std::pair<int, int> p) -> Opt {
        if (p.first != kAnyRole || p.second == kAnyRole)
            return std::nullopt;
        return uint32_t(p.second);
    });
    if (pairs.count({kAnyRole, kAnyRole}))
        s << "    jump p_any_any\n";
    s << "    iifname \"" << o.mesh_if << "\" " << e.log(c.default_ingress_allow, "default-ingress")
      << "\n";
    s << "    iifname \"" << o.host_if << "\" " << e.log(c.default_egress_allow, "default-egress")
      << "\n";
    s << "  }\n}\n";
    return s.str();
}

std::string NftVerdict::label() const
{
    if (logs.empty())
        return "-";
    std::string out;
    for (const auto &l : logs)
        out += (out.empty() ? "" : " + ") + l.prefix;
    return out;
}

// ---- processes and namespaces -----------------------------------------------------------------

namespace
{

std::string find_binary(const std::string &name)
{
    if (name.find('/') != std::string::npos)
        return name;
    std::string path = getenv("PATH") ? getenv("PATH") : "";
    path += ":/usr/sbin:/sbin:/usr/bin:/bin";
    std::istringstream in(path);
    for (std::string dir; std::getline(in, dir, ':');) {
        std::string p = dir + "/" + name;
        if (!dir.empty() && access(p.c_str(), X_OK) == 0)
            return p;
    }
    return name;
}

std::string netns_path(const std::string &name)
{
    return "/run/netns/" + name;
}

// Join a named network namespace for the lifetime of the object (this thread only).
class ScopedNetns
{
public:
    explicit ScopedNetns(const std::string &name)
    {
        old_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        int fd = open(netns_path(name).c_str(), O_RDONLY | O_CLOEXEC);
        if (old_ < 0 || fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
            int err = errno;
            if (fd >= 0)
                close(fd);
            if (old_ >= 0)
                close(old_);
            throw std::runtime_error("cannot enter netns " + name + ": " + strerror(err));
        }
        close(fd);
    }
    ~ScopedNetns()
    {
        if (setns(old_, CLONE_NEWNET) != 0)
            abort(); // a test thread stranded in a throwaway namespace cannot continue
        close(old_);
    }
    ScopedNetns(const ScopedNetns &) = delete;
    ScopedNetns &operator=(const ScopedNetns &) = delete;

private:
    int old_ = -1;
};

void write_sysctl(const std::string &netns, const std::string &key, const std::string &value)
{
    ScopedNetns in(netns);
    std::string path = "/proc/sys/" + key;
    std::ofstream f(path);
    f << value << "\n";
    f.close();
    if (!f)
        throw std::runtime_error("cannot set " + path + " in netns " + netns);
}

void must(const std::vector<std::string> &argv, const std::string &netns = "")
{
    std::string out;
    int rc = run_command(argv, &out, netns);
    if (rc != 0) {
        std::string cmd;
        for (const auto &a : argv)
            cmd += a + " ";
        throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd +
                                 (netns.empty() ? "" : "[netns " + netns + "]") + "\n" + out);
    }
}

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

const uint8_t kMacRouter[6] = {0x02, 0x58, 0x49, 0x00, 0x00, 0x01};
const char *const kMacRouterText = "02:58:49:00:00:01";
const char *const kMacInjectorText = "02:58:49:00:00:02";
const char *const kMacNextHopText = "02:58:49:00:00:ee"; // nobody: forwarded frames are dropped

} // namespace

int run_command(const std::vector<std::string> &argv, std::string *output, const std::string &netns,
                int timeout_ms)
{
    if (argv.empty())
        return -1;
    std::string bin = find_binary(argv[0]);
    std::vector<std::string> args = argv;
    std::vector<char *> cargv;
    for (auto &a : args)
        cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::string nspath = netns.empty() ? "" : netns_path(netns);

    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec.
        if (!nspath.empty()) {
            int fd = open(nspath.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
                _exit(126);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        execv(bin.c_str(), cargv.data());
        _exit(127);
    }
    close(pfd[1]);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    bool killed = false;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            kill(pid, SIGKILL);
            killed = true;
            break;
        }
        pollfd p{pfd[0], POLLIN, 0};
        int r = poll(&p, 1, static_cast<int>(std::min<long long>(left, INT_MAX)));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        char buf[4096];
        ssize_t n = read(pfd[0], buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        out.append(buf, static_cast<size_t>(n));
    }
    close(pfd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (output)
        *output = out + (killed ? "\n(killed after " + std::to_string(timeout_ms) + " ms)" : "");
    if (killed || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

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

    must({"ip", "netns", "add", ns_r_});
    made_r_ = true;
    must({"ip", "netns", "add", ns_i_});
    made_i_ = true;

    // I only injects: no IPv6 (no DAD, RS or MLD of its own reaching R), no addresses.
    write_sysctl(ns_i_, "net/ipv6/conf/all/disable_ipv6", "1");
    write_sysctl(ns_i_, "net/ipv6/conf/default/disable_ipv6", "1");
    for (auto [inj, rtr] : {std::pair{"m1", opt_.mesh_if}, std::pair{"h1", opt_.host_if}})
        must({"ip", "-n", ns_i_, "link", "add", inj, "address", kMacInjectorText, "type", "veth",
              "peer", "name", rtr, "address", kMacRouterText, "netns", ns_r_});

    // R forwards everything by input interface: what arrives on the mesh side leaves on the host
    // side and the other way round, whatever the address, so conntrack confirms what it accepts.
    write_sysctl(ns_r_, "net/ipv4/ip_forward", "1");
    write_sysctl(ns_r_, "net/ipv6/conf/all/forwarding", "1");
    for (const auto &dev : {std::string("all"), std::string("default"), opt_.mesh_if, opt_.host_if})
        write_sysctl(ns_r_, "net/ipv4/conf/" + dev + "/rp_filter", "0");
    write_sysctl(ns_r_, "net/ipv4/conf/all/send_redirects", "0");
    for (const auto &dev : {opt_.mesh_if, opt_.host_if}) {
        write_sysctl(ns_r_, "net/ipv6/conf/" + dev + "/accept_dad", "0");
        write_sysctl(ns_r_, "net/ipv6/conf/" + dev + "/router_solicitations", "0");
    }
    for (const auto &dev : {std::string("lo"), opt_.mesh_if, opt_.host_if})
        must({"ip", "-n", ns_r_, "link", "set", dev, "up"});
    for (const char *dev : {"m1", "h1"})
        must({"ip", "-n", ns_i_, "link", "set", dev, "up"});
    struct Route {
        std::string iif, oif, table, gw4;
    };
    for (const auto &r : {Route{opt_.mesh_if, opt_.host_if, "100", "100.64.255.2"},
                          Route{opt_.host_if, opt_.mesh_if, "200", "100.64.255.6"}}) {
        for (const char *fam : {"-4", "-6"})
            must({"ip", "-n", ns_r_, fam, "rule", "add", "iif", r.iif, "lookup", r.table, "pref",
                  r.table});
        must({"ip", "-n", ns_r_, "neigh", "add", r.gw4, "lladdr", kMacNextHopText, "dev", r.oif,
              "nud", "permanent"});
        must({"ip", "-n", ns_r_, "route", "add", "default", "via", r.gw4, "dev", r.oif, "onlink",
              "table", r.table});
        must({"ip", "-n", ns_r_, "-6", "neigh", "add", "fe80::2", "lladdr", kMacNextHopText, "dev",
              r.oif, "nud", "permanent"});
        must({"ip", "-n", ns_r_, "-6", "route", "add", "default", "via", "fe80::2", "dev", r.oif,
              "table", r.table});
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
    write_sysctl(ns_r_, "net/netfilter/nf_conntrack_tcp_be_liberal", "1");

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
