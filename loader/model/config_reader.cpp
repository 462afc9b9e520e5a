#include "config_reader.h"

#include <charconv>
#include <cstdio>
#include <string_view>

namespace xi
{

void Reader::error(const yaml::Node &n, const std::string &msg)
{
    errors_.push_back({file_, n.pos(), msg});
}

bool Reader::mapping(const yaml::Node &n, const std::string &what,
                     const std::set<std::string> &known)
{
    if (!n.is_map()) {
        error(n, what + " must be a mapping");
        return false;
    }
    for (size_t i = 0; i < n.size(); i++) {
        const auto &key = n.key(i).scalar();
        if (!known.count(key)) {
            std::string list;
            for (const auto &k : known)
                list += (list.empty() ? "" : ", ") + k;
            error(n.key(i), "unknown key '" + key + "' in " + what + " (known: " + list + ")");
        }
    }
    return true;
}

std::optional<std::string> Reader::str(const yaml::Node &n, const std::string &what)
{
    if (!n.is_scalar()) {
        error(n, what + " must be a string");
        return std::nullopt;
    }
    const std::string &s = n.scalar();
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

std::optional<uint64_t> Reader::uint(const yaml::Node &n, const std::string &what, uint64_t lo,
                                     uint64_t hi)
{
    if (!n.is_scalar()) {
        error(n, what + " must be a number");
        return std::nullopt;
    }
    const std::string &s = n.scalar();
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

std::optional<bool> Reader::boolean(const yaml::Node &n, const std::string &what)
{
    if (n.is_scalar()) {
        const auto &s = n.scalar();
        if (s == "true" || s == "yes" || s == "on")
            return true;
        if (s == "false" || s == "no" || s == "off")
            return false;
    }
    error(n, what + " must be true or false");
    return std::nullopt;
}

std::optional<IpAddr> Reader::address(const yaml::Node &n, const std::string &what)
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

std::optional<PrefixCfg> Reader::prefix(const yaml::Node &n, const std::string &what)
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
    return PrefixCfg{n.pos(), *p};
}

std::optional<bool> Reader::allow_deny(const yaml::Node &n, const std::string &what)
{
    auto s = str(n, what);
    if (s && (*s == "allow" || *s == "deny"))
        return *s == "allow";
    if (s)
        error(n, what + " must be 'allow' or 'deny', not '" + *s + "'");
    return std::nullopt;
}

std::optional<PortRange> Reader::port_range(const yaml::Node &n, const std::string &what)
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

} // namespace xi
