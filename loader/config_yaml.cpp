// YAML -> Config: structure, types and ranges. Semantic checks live in config_check.cpp.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <functional>
#include <map>
#include <netinet/in.h>
#include <set>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "config.h"
#include "config_check.h"
#include "config_text.h"
#include "digest.h"

namespace xi
{

std::string ConfigError::str() const
{
    std::string s = file;
    if (pos.line)
        s += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.col);
    return s + ": " + msg;
}

const NodeCfg *Config::find_node(const std::string &name) const
{
    for (const auto &n : nodes)
        if (n.name == name)
            return &n;
    return nullptr;
}

const IdentityCfg *Config::find_identity(const std::string &name) const
{
    for (const auto &i : identities)
        if (i.name == name)
            return &i;
    return nullptr;
}

namespace
{

Pos pos_of(const YAML::Node &n)
{
    auto m = n.Mark();
    if (m.is_null())
        return {};
    return {m.line + 1, m.column + 1};
}

// Reads one YAML document into a Config, collecting every error instead of stopping at the
// first, so a policy author sees all problems in one run.
class Reader
{
public:
    Reader(std::string file, std::vector<ConfigError> &errors)
        : file_(std::move(file)), errors_(errors)
    {
    }

    void error(const YAML::Node &n, const std::string &msg)
    {
        errors_.push_back({file_, pos_of(n), msg});
    }
    void error(Pos p, const std::string &msg) { errors_.push_back({file_, p, msg}); }

    // Every key of a mapping must be known; reports the unknown ones at their own position.
    bool mapping(const YAML::Node &n, const std::string &what, const std::set<std::string> &known)
    {
        if (!n.IsMap()) {
            error(n, what + " must be a mapping");
            return false;
        }
        for (const auto &kv : n) {
            auto key = kv.first.Scalar();
            if (!known.count(key)) {
                std::string list;
                for (const auto &k : known)
                    list += (list.empty() ? "" : ", ") + k;
                error(kv.first, "unknown key '" + key + "' in " + what + " (known: " + list + ")");
            }
        }
        return true;
    }

    // Control characters are refused in every string: a NUL would cut the value short where C
    // APIs read it ("lo\0evil" attaching to lo), escapes and newlines would forge log lines.
    std::optional<std::string> str(const YAML::Node &n, const std::string &what)
    {
        if (!n.IsScalar()) {
            error(n, what + " must be a string");
            return std::nullopt;
        }
        const std::string &s = n.Scalar();
        for (size_t i = 0; i < s.size(); i++) {
            auto ch = static_cast<unsigned char>(s[i]);
            if (ch < 0x20 || ch == 0x7f) {
                char hex[8];
                std::snprintf(hex, sizeof(hex), "0x%02x", ch);
                error(n, what + " holds a control character (" + hex + " at offset " +
                             std::to_string(i) + ")");
                return std::nullopt;
            }
        }
        return s;
    }

    // Unsigned integer in [lo, hi]; accepts decimal and 0x-prefixed hex.
    std::optional<uint64_t> uint(const YAML::Node &n, const std::string &what, uint64_t lo,
                                 uint64_t hi)
    {
        if (!n.IsScalar()) {
            error(n, what + " must be a number");
            return std::nullopt;
        }
        const std::string &s = n.Scalar();
        uint64_t v = 0;
        int base = 10;
        const char *b = s.data(), *e = s.data() + s.size();
        if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            base = 16;
            b += 2;
        } else if (s.size() > 1 && s[0] == '0') {
            // YAML 1.1 reads 0755 as octal, YAML 1.2 as decimal: either reading surprises someone.
            error(n, what + ": '" + s +
                         "' has a leading zero (octal or decimal?): write it without "
                         "the zero, or in hex with 0x");
            return std::nullopt;
        }
        auto [ptr, ec] = std::from_chars(b, e, v, base);
        if (ec != std::errc() || ptr != e || b == e) {
            error(n, what + ": '" + s + "' is not a number");
            return std::nullopt;
        }
        if (v < lo || v > hi) {
            error(n, what + " " + s + " is out of range " + std::to_string(lo) + ".." +
                         std::to_string(hi));
            return std::nullopt;
        }
        return v;
    }

    std::optional<bool> boolean(const YAML::Node &n, const std::string &what)
    {
        if (n.IsScalar()) {
            const auto &s = n.Scalar();
            if (s == "true" || s == "yes" || s == "on")
                return true;
            if (s == "false" || s == "no" || s == "off")
                return false;
        }
        error(n, what + " must be true or false");
        return std::nullopt;
    }

    std::optional<IpAddr> address(const YAML::Node &n, const std::string &what)
    {
        auto s = str(n, what);
        if (!s)
            return std::nullopt;
        auto a = IpAddr::parse(*s);
        if (!a) {
            error(n, what + ": '" + *s + "' is not an IPv4 or IPv6 address");
            return std::nullopt;
        }
        if (auto why = noncanonical_form(*a, *s); !why.empty()) {
            error(n, what + ": " + why);
            return std::nullopt;
        }
        return a;
    }

    std::optional<PrefixCfg> prefix(const YAML::Node &n, const std::string &what)
    {
        auto s = str(n, what);
        if (!s)
            return std::nullopt;
        std::string err;
        auto p = Prefix::parse(*s, &err);
        if (!p) {
            error(n, what + ": " + err);
            return std::nullopt;
        }
        if (auto why = noncanonical_form(*p, *s); !why.empty()) {
            error(n, what + ": " + why);
            return std::nullopt;
        }
        return PrefixCfg{pos_of(n), *p};
    }

    // An empty list is an error everywhere: somewhere it would mean "everything" (ports: [] on
    // an allow rule), elsewhere nothing, and the file cannot say which was meant.
    template <typename F>
    void sequence(const YAML::Node &n, const std::string &what, F each,
                  const char *empty_hint = "remove the key or list something")
    {
        if (!n.IsSequence()) {
            error(n, what + " must be a list");
            return;
        }
        if (n.size() == 0) {
            error(n, what + " is an empty list: " + empty_hint);
            return;
        }
        for (const auto &item : n)
            each(item);
    }

    std::optional<bool> allow_deny(const YAML::Node &n, const std::string &what)
    {
        auto s = str(n, what);
        if (s && (*s == "allow" || *s == "deny"))
            return *s == "allow";
        if (s)
            error(n, what + " must be 'allow' or 'deny', not '" + *s + "'");
        return std::nullopt;
    }

    // "80", 80, "8000-8080" -> range; 1..65535.
    std::optional<PortRange> port_range(const YAML::Node &n, const std::string &what)
    {
        auto s = str(n, what);
        if (!s)
            return std::nullopt;
        auto dash = s->find('-');
        auto parse = [&](std::string_view t) -> std::optional<uint16_t> {
            unsigned v = 0;
            auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
            if (ec != std::errc() || ptr != t.data() + t.size() || t.empty() || v < 1 || v > 65535)
                return std::nullopt;
            return static_cast<uint16_t>(v);
        };
        std::string_view sv(*s);
        auto lo = parse(sv.substr(0, dash));
        auto hi = dash == std::string::npos ? lo : parse(sv.substr(dash + 1));
        if (!lo || !hi) {
            error(n, what + ": '" + *s + "' is not a port (1..65535) or a range LOW-HIGH");
            return std::nullopt;
        }
        if (*lo > *hi) {
            error(n, what + ": range '" + *s + "' has its low end above its high end");
            return std::nullopt;
        }
        return PortRange{*lo, *hi};
    }

private:
    std::string file_;
    std::vector<ConfigError> &errors_;
};

constexpr const char *kEmptyPorts = "write 'any' for every port, or list the ports";

bool is_any(const YAML::Node &n)
{
    return n.IsScalar() && n.Scalar() == "any";
}

void read_fleet(Reader &r, const YAML::Node &n, Config &c)
{
    if (!r.mapping(n, "fleet", {"hash_seed", "maglev_table_size", "mesh_mtu"}))
        return;
    if (n["hash_seed"]) {
        if (auto v = r.uint(n["hash_seed"], "fleet.hash_seed", 1, UINT64_MAX))
            c.seed = *v;
    } else {
        r.error(n, "fleet.hash_seed is required (a 64-bit number, the same on every edge)");
    }
    if (n["maglev_table_size"])
        if (auto v =
                r.uint(n["maglev_table_size"], "fleet.maglev_table_size", 7, XI_MAGLEV_MAX_SIZE))
            c.table_size = *v;
    if (n["mesh_mtu"])
        if (auto v = r.uint(n["mesh_mtu"], "fleet.mesh_mtu", 1280, 65535))
            c.mesh_mtu = *v;
}

void read_node(Reader &r, const YAML::Node &n, Config &c)
{
    if (!r.mapping(n, "node",
                   {"name", "mesh_ipv4", "mesh_ipv6", "mesh_interface", "public_interface",
                    "weight", "mesh_mtu"}))
        return;
    NodeCfg node;
    node.pos = pos_of(n);
    if (!n["name"])
        r.error(n, "node without a name");
    else if (auto s = r.str(n["name"], "node name"))
        node.name = *s;
    if (n["mesh_ipv4"])
        if (auto a = r.address(n["mesh_ipv4"], "mesh_ipv4")) {
            if (!a->v4)
                r.error(n["mesh_ipv4"], "mesh_ipv4 '" + a->str() + "' is not an IPv4 address");
            else
                node.mesh4 = a;
        }
    if (n["mesh_ipv6"])
        if (auto a = r.address(n["mesh_ipv6"], "mesh_ipv6")) {
            if (a->v4)
                r.error(n["mesh_ipv6"], "mesh_ipv6 '" + a->str() + "' is not an IPv6 address");
            else
                node.mesh6 = a;
        }
    if (n["mesh_interface"])
        if (auto s = r.str(n["mesh_interface"], "mesh_interface"))
            node.mesh_if = *s;
    if (n["public_interface"])
        if (auto s = r.str(n["public_interface"], "public_interface"))
            node.public_if = *s;
    if (n["weight"])
        if (auto v = r.uint(n["weight"], "weight", 0, 65535))
            node.weight = *v;
    if (n["mesh_mtu"])
        if (auto v = r.uint(n["mesh_mtu"], "mesh_mtu", 1280, 65535))
            node.mesh_mtu = *v;
    if (n["weight"] && node.public_if.empty())
        r.error(n["weight"], "weight applies only to edges (nodes with a public_interface)");
    c.nodes.push_back(std::move(node));
}

std::optional<int> protocol(Reader &r, const YAML::Node &n, bool allow_any_icmp)
{
    auto s = r.str(n, "protocol");
    if (!s)
        return std::nullopt;
    if (*s == "tcp")
        return IPPROTO_TCP;
    if (*s == "udp")
        return IPPROTO_UDP;
    if (allow_any_icmp && *s == "icmp")
        return IPPROTO_ICMP;
    if (allow_any_icmp && *s == "any")
        return -1;
    r.error(n, "protocol must be " +
                   std::string(allow_any_icmp ? "tcp, udp, icmp or any" : "tcp or udp") +
                   ", not '" + *s + "'");
    return std::nullopt;
}

void read_vip(Reader &r, const YAML::Node &n, Config &c)
{
    if (!r.mapping(n, "vip", {"name", "address", "protocol", "ports"}))
        return;
    VipCfg v;
    v.pos = pos_of(n);
    if (!n["name"])
        r.error(n, "vip without a name");
    else if (auto s = r.str(n["name"], "vip name"))
        v.name = *s;
    bool ok = true;
    if (!n["address"]) {
        r.error(n, "vip '" + v.name + "' has no address");
        ok = false;
    } else if (auto a = r.address(n["address"], "vip address")) {
        v.addr = *a;
    } else {
        ok = false;
    }
    if (!n["protocol"]) {
        r.error(n, "vip '" + v.name + "' has no protocol (tcp or udp)");
        ok = false;
    } else if (auto p = protocol(r, n["protocol"], false)) {
        v.proto = static_cast<uint8_t>(*p);
    } else {
        ok = false;
    }
    if (n["ports"] && !is_any(n["ports"])) {
        std::set<uint16_t> seen;
        r.sequence(
            n["ports"], "vip ports",
            [&](const YAML::Node &item) {
                auto pr = r.port_range(item, "vip port");
                if (!pr)
                    return;
                if (pr->lo != pr->hi) {
                    r.error(
                        item,
                        "vip ports are single ports (a range would need one table entry per port)");
                    return;
                }
                if (!seen.insert(pr->lo).second)
                    r.error(item, "port " + std::to_string(pr->lo) + " listed twice");
                v.ports.push_back(pr->lo);
            },
            kEmptyPorts);
    }
    if (ok)
        c.vips.push_back(std::move(v));
}

void read_identities(Reader &r, const YAML::Node &n, Config &c)
{
    if (!n.IsMap()) {
        r.error(n, "identities must be a mapping of role name -> list of prefixes");
        return;
    }
    for (const auto &kv : n) {
        IdentityCfg id;
        id.pos = pos_of(kv.first);
        id.name = kv.first.Scalar();
        r.sequence(kv.second, "identity '" + id.name + "'", [&](const YAML::Node &item) {
            if (auto p = r.prefix(item, "identity '" + id.name + "'"))
                id.prefixes.push_back(*p);
        });
        c.identities.push_back(std::move(id));
    }
}

void read_rule(Reader &r, const YAML::Node &n, Config &c)
{
    if (!r.mapping(n, "rule", {"name", "from", "to", "protocol", "ports", "action"}))
        return;
    RuleCfg rule;
    rule.pos = pos_of(n);
    bool ok = true;
    if (n["name"])
        if (auto s = r.str(n["name"], "rule name")) {
            rule.name = *s;
            rule.named = true;
        }
    for (const char *key : {"from", "to"}) {
        if (!n[key]) {
            r.error(n, std::string("rule has no '") + key + "' (an identity, world or any)");
            ok = false;
        } else if (auto s = r.str(n[key], std::string("rule ") + key)) {
            (std::string(key) == "from" ? rule.from : rule.to) = *s;
        } else {
            ok = false;
        }
    }
    if (n["protocol"]) {
        if (auto p = protocol(r, n["protocol"], true))
            rule.proto = *p;
        else
            ok = false;
    }
    if (n["ports"] && !is_any(n["ports"])) {
        if (rule.proto != IPPROTO_TCP && rule.proto != IPPROTO_UDP) {
            r.error(n["ports"], "ports need protocol tcp or udp");
            ok = false;
        }
        auto add = [&](const YAML::Node &item) {
            if (auto pr = r.port_range(item, "rule port"))
                rule.ports.push_back(*pr);
            else
                ok = false;
        };
        if (n["ports"].IsSequence())
            r.sequence(n["ports"], "rule ports", add, kEmptyPorts);
        else
            add(n["ports"]);
    }
    if (!n["action"]) {
        r.error(n, "rule has no action (allow or deny)");
        ok = false;
    } else if (auto a = r.allow_deny(n["action"], "rule action")) {
        rule.action = *a ? Action::Allow : Action::Deny;
    } else {
        ok = false;
    }
    if (ok)
        c.rules.push_back(std::move(rule));
}

void read_top(Reader &r, const YAML::Node &root, Config &c)
{
    static const std::set<std::string> known = {
        "version",    "fleet",          "nodes",          "vips", "identities", "rules", "default",
        "reply_only", "metadata_block", "metadata_extra", "mss",  "conntrack",  "events"};
    if (!r.mapping(root, "the config", known))
        return;
    if (!root["version"])
        r.error(root, "missing 'version: 1'");
    else if (auto v = r.uint(root["version"], "version", 1, 1))
        c.version = *v;
    if (root["fleet"])
        read_fleet(r, root["fleet"], c);
    else
        r.error(root, "missing 'fleet:' (hash_seed, maglev_table_size, mesh_mtu)");
    if (root["nodes"]) {
        c.nodes_pos = pos_of(root["nodes"]);
        r.sequence(root["nodes"], "nodes", [&](const YAML::Node &n) { read_node(r, n, c); });
    } else {
        r.error(root, "missing 'nodes:' (every node of the fleet)");
    }
    if (root["vips"] && !root["vips"].IsNull())
        r.sequence(root["vips"], "vips", [&](const YAML::Node &n) { read_vip(r, n, c); });
    if (root["identities"] && !root["identities"].IsNull())
        read_identities(r, root["identities"], c);
    if (root["rules"] && !root["rules"].IsNull())
        r.sequence(root["rules"], "rules", [&](const YAML::Node &n) { read_rule(r, n, c); });
    if (auto d = root["default"]) {
        if (r.mapping(d, "default", {"ingress", "egress"})) {
            if (!d["ingress"] || !d["egress"])
                r.error(d, "default needs both 'ingress' and 'egress' (allow or deny)");
            if (d["ingress"])
                if (auto a = r.allow_deny(d["ingress"], "default.ingress"))
                    c.default_ingress_allow = *a;
            if (d["egress"])
                if (auto a = r.allow_deny(d["egress"], "default.egress"))
                    c.default_egress_allow = *a;
        }
    } else {
        r.error(root, "missing 'default:' (ingress: allow|deny, egress: allow|deny)");
    }
    if (root["reply_only"] && !root["reply_only"].IsNull())
        r.sequence(root["reply_only"], "reply_only", [&](const YAML::Node &n) {
            if (auto s = r.str(n, "reply_only role"))
                c.reply_only.push_back(*s);
        });
    if (root["metadata_block"])
        if (auto b = r.boolean(root["metadata_block"], "metadata_block"))
            c.metadata_block = *b;
    if (root["metadata_extra"] && !root["metadata_extra"].IsNull())
        r.sequence(root["metadata_extra"], "metadata_extra", [&](const YAML::Node &n) {
            if (auto p = r.prefix(n, "metadata_extra"))
                c.metadata_extra.push_back(*p);
        });
    if (auto m = root["mss"]) {
        if (r.mapping(m, "mss", {"clamp_mesh", "mesh_ipv4", "mesh_ipv6"})) {
            if (m["clamp_mesh"])
                if (auto b = r.boolean(m["clamp_mesh"], "mss.clamp_mesh"))
                    c.clamp_mesh = *b;
            if (m["mesh_ipv4"] && m["mesh_ipv4"].Scalar() != "auto")
                if (auto v = r.uint(m["mesh_ipv4"], "mss.mesh_ipv4", 536, 65495))
                    c.mesh_mss4 = *v;
            if (m["mesh_ipv6"] && m["mesh_ipv6"].Scalar() != "auto")
                if (auto v = r.uint(m["mesh_ipv6"], "mss.mesh_ipv6", 1220, 65475))
                    c.mesh_mss6 = *v;
        }
    }
    if (auto t = root["conntrack"]) {
        if (r.mapping(t, "conntrack", {"tcp_established", "tcp_transitory", "udp", "icmp"})) {
            auto get = [&](const char *k, uint32_t &dst) {
                if (t[k])
                    if (auto v = r.uint(t[k], std::string("conntrack.") + k, 1, 864000))
                        dst = *v;
            };
            get("tcp_established", c.ct_tcp_established);
            get("tcp_transitory", c.ct_tcp_transitory);
            get("udp", c.ct_udp);
            get("icmp", c.ct_icmp);
        }
    }
    if (auto e = root["events"]) {
        if (r.mapping(e, "events", {"rate", "burst"})) {
            if (e["rate"])
                if (auto v = r.uint(e["rate"], "events.rate", 0, 1000000))
                    c.events_rate = *v;
            if (e["burst"])
                if (auto v = r.uint(e["burst"], "events.burst", 1, 1000000))
                    c.events_burst = *v;
        }
    }
}

// What yaml-cpp accepts and the reader must not: a key given twice in one mapping (yaml-cpp
// keeps both and `node[key]` returns the first: `action: allow, action: deny` would allow),
// and aliases that expand the document past any real config (a "billion laughs" file).
class Prescan
{
public:
    Prescan(Reader &r) : r_(r) {}
    void walk(const YAML::Node &n, int depth)
    {
        if (stop_)
            return;
        if (++nodes_ > kMaxNodes) {
            r_.error(n, "the document expands (through aliases) to more than " +
                            std::to_string(kMaxNodes) + " nodes");
            stop_ = true;
            return;
        }
        if (depth > kMaxDepth) {
            r_.error(n, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
            stop_ = true;
            return;
        }
        if (n.IsSequence()) {
            for (const auto &item : n)
                walk(item, depth + 1);
        } else if (n.IsMap()) {
            std::map<std::string, Pos> seen;
            for (const auto &kv : n) {
                if (kv.first.IsScalar()) {
                    auto [it, fresh] = seen.emplace(kv.first.Scalar(), pos_of(kv.first));
                    if (!fresh)
                        r_.error(kv.first, "duplicate key '" + kv.first.Scalar() +
                                               "' (first at line " +
                                               std::to_string(it->second.line) +
                                               "): YAML would silently keep one of them");
                } else {
                    r_.error(kv.first, "a key must be a plain string");
                }
                walk(kv.second, depth + 1);
            }
        }
    }

private:
    // 20x the largest documented-valid config (10,000 rules, 100,000 prefixes, 64 edges).
    static constexpr size_t kMaxNodes = 20'000'000;
    static constexpr int kMaxDepth = 64; // a config nests 4 deep
    Reader &r_;
    size_t nodes_ = 0;
    bool stop_ = false;
};

} // namespace

ConfigResult parse_config(const std::string &text, const std::string &file)
{
    ConfigResult res;
    Config c;
    c.path = file;
    c.sha256 = sha256_hex(text);
    if (auto at = invalid_utf8_at(text); at != std::string::npos) {
        int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
        auto byte = static_cast<unsigned char>(text[at]);
        char hex[8];
        std::snprintf(hex, sizeof(hex), "0x%02x", byte);
        // A NUL is UTF-16 text or binary, any other control character an edit gone wrong.
        const bool control = byte != 0 && (byte < 0x20 || byte == 0x7f) && byte != '\r';
        res.errors.push_back(
            {file,
             {line, 0},
             control ? std::string("a control character (") + hex + ", byte " + std::to_string(at) +
                           "): YAML allows none, comments included"
             : byte == '\r'
                 ? "a carriage return without a line feed (byte " + std::to_string(at) +
                       "): end lines with LF or CR LF"
                 : "not UTF-8 text (byte " + std::to_string(at) + "): save the file as UTF-8"});
        return res;
    }
    if (int line = tab_indented_line(text)) {
        res.errors.push_back(
            {file, {line, 1}, "a tab in the indentation: YAML indents with spaces only"});
        return res;
    }
    // One document, by its markers (YAML::LoadAll never returns on some inputs: the fuzzer's
    // 908-byte timeout-b5f9f477 ran for minutes).
    if (int line = second_document_line(text)) {
        res.errors.push_back({file,
                              {line, 1},
                              "a second YAML document ('---'): a config is one document, and "
                              "nothing after the first would be read"});
        return res;
    }
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::ParserException &e) {
        res.errors.push_back({file, {e.mark.line + 1, e.mark.column + 1}, "YAML syntax: " + e.msg});
        return res;
    } catch (const YAML::Exception &e) {
        res.errors.push_back({file, {e.mark.line + 1, e.mark.column + 1}, "YAML: " + e.msg});
        return res;
    }
    if (!root.IsDefined() || root.IsNull()) {
        res.errors.push_back({file, {1, 1}, "the file is empty"});
        return res;
    }
    Reader r(file, res.errors);
    Prescan(r).walk(root, 0);
    if (!res.errors.empty())
        return res;
    try {
        read_top(r, root, c);
    } catch (const YAML::Exception &e) {
        res.errors.push_back({file, {e.mark.line + 1, e.mark.column + 1}, e.msg});
    }
    // Semantic checks only on a structurally sound file: a broken field would otherwise show up
    // again as a confusing follow-on error (a node "without" the address that failed to parse).
    if (res.errors.empty())
        check_config(c, res.errors);
    if (res.errors.empty())
        res.config = std::move(c);
    return res;
}

} // namespace xi
