#include "netaddr.h"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>

namespace xi
{

std::optional<IpAddr> IpAddr::parse(std::string_view text)
{
    std::string s(text);
    IpAddr a;
    in_addr v4;
    if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
        a.v4 = true;
        a.bytes[10] = 0xff;
        a.bytes[11] = 0xff;
        std::memcpy(&a.bytes[12], &v4, 4);
        return a;
    }
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1)
        return a;
    return std::nullopt;
}

IpAddr IpAddr::from_xi(const xi_addr &x)
{
    IpAddr a;
    std::memcpy(a.bytes.data(), &x, 16);
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    a.v4 = std::memcmp(a.bytes.data(), mapped, 12) == 0;
    return a;
}

std::string IpAddr::str() const
{
    char buf[INET6_ADDRSTRLEN];
    if (v4)
        inet_ntop(AF_INET, &bytes[12], buf, sizeof(buf));
    else
        inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
    return buf;
}

xi_addr IpAddr::to_xi() const
{
    xi_addr x;
    std::memcpy(&x, bytes.data(), 16);
    return x;
}

uint32_t IpAddr::v4_be() const
{
    uint32_t v;
    std::memcpy(&v, &bytes[12], 4);
    return v;
}

static bool bit(const std::array<uint8_t, 16> &b, int i)
{
    return (b[i / 8] >> (7 - i % 8)) & 1;
}

std::optional<Prefix> Prefix::parse(std::string_view text, std::string *err)
{
    Prefix p;
    auto slash = text.find('/');
    auto addr = IpAddr::parse(text.substr(0, slash));
    if (!addr) {
        *err = "'" + std::string(text.substr(0, slash)) + "' is not an IPv4 or IPv6 address";
        return std::nullopt;
    }
    p.addr = *addr;
    int max = addr->v4 ? 32 : 128;
    if (slash == std::string_view::npos) {
        p.len = max;
        return p;
    }
    auto lenstr = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(lenstr.data(), lenstr.data() + lenstr.size(), p.len);
    if (ec != std::errc() || ptr != lenstr.data() + lenstr.size() || p.len < 0 || p.len > max) {
        *err = "prefix length '" + std::string(lenstr) + "' is not in 0.." + std::to_string(max);
        return std::nullopt;
    }
    for (int i = p.mapped_len(); i < 128; i++) {
        if (bit(p.addr.bytes, i)) {
            Prefix net = p;
            for (int j = p.mapped_len(); j < 128; j++)
                net.addr.bytes[j / 8] &= ~(1 << (7 - j % 8));
            *err =
                "'" + std::string(text) + "' has host bits set (did you mean " + net.str() + "?)";
            return std::nullopt;
        }
    }
    return p;
}

bool Prefix::contains(const IpAddr &a) const
{
    if (a.v4 != addr.v4)
        return false;
    const int bits = mapped_len(), whole = bits / 8, rest = bits % 8;
    if (std::memcmp(a.bytes.data(), addr.bytes.data(), whole) != 0)
        return false;
    if (!rest)
        return true;
    const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a.bytes[whole] & mask) == (addr.bytes[whole] & mask);
}

bool Prefix::contains(const Prefix &p) const
{
    return p.addr.v4 == addr.v4 && p.len >= len && contains(p.addr);
}

std::string Prefix::str() const
{
    return addr.str() + "/" + std::to_string(len);
}

namespace
{

bool first_96_bits_are(const std::array<uint8_t, 16> &b, uint8_t b10_11)
{
    for (int i = 0; i < 10; i++)
        if (b[i])
            return false;
    return b[10] == b10_11 && b[11] == b10_11;
}

std::string as_v4(const std::array<uint8_t, 16> &b)
{
    return std::to_string(b[12]) + "." + std::to_string(b[13]) + "." + std::to_string(b[14]) + "." +
           std::to_string(b[15]);
}

} // namespace

std::string noncanonical_form(const Prefix &p, std::string_view text)
{
    if (p.addr.v4 || p.len < 96)
        return "";
    const std::string t(text);
    const std::string v4 =
        as_v4(p.addr.bytes) + (p.len == 128 ? "" : "/" + std::to_string(p.len - 96));
    if (first_96_bits_are(p.addr.bytes, 0xff))
        return "'" + t +
               "' is an IPv4-mapped IPv6 form, which the datapath cannot tell from IPv4 " + v4 +
               ": write " + v4;
    if (first_96_bits_are(p.addr.bytes, 0) &&
        (p.len < 128 || p.addr.bytes[12] || p.addr.bytes[13] || p.addr.bytes[14] ||
         p.addr.bytes[15] > 1))
        return "'" + t + "' is a deprecated IPv4-compatible IPv6 form: write " + v4 +
               " for IPv4, or a real IPv6 address";
    return "";
}

std::string noncanonical_form(const IpAddr &a, std::string_view text)
{
    return noncanonical_form(Prefix{a, a.v4 ? 32 : 128}, text);
}

std::optional<std::pair<IpAddr, uint16_t>> parse_endpoint(std::string_view text)
{
    std::string_view host, port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return std::nullopt;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return std::nullopt;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return std::nullopt; // bare IPv6 needs brackets
    }
    auto addr = IpAddr::parse(host);
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (!addr || ec != std::errc() || ptr != port.data() + port.size() || p > 65535 ||
        (!text.empty() && text.front() != '[' && !addr->v4))
        return std::nullopt;
    return std::make_pair(*addr, static_cast<uint16_t>(p));
}

} // namespace xi
