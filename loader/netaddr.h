// IP addresses and prefixes as the config writes them and as the maps store them (IPv4 as
// IPv4-mapped IPv6, see struct xi_addr).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "xi_structs.h"

namespace xi
{

struct IpAddr {
    std::array<uint8_t, 16> bytes{}; // IPv4: ::ffff:a.b.c.d
    bool v4 = false;

    static std::optional<IpAddr> parse(std::string_view text);
    static IpAddr from_xi(const xi_addr &a);
    std::string str() const;
    xi_addr to_xi() const;
    uint32_t v4_be() const; // network byte order; only for v4
    auto operator<=>(const IpAddr &) const = default;
};

struct Prefix {
    IpAddr addr;
    int len = 0; // in the address family's bits (0..32 or 0..128)

    // "10.0.0.0/8", "fd00::/64", or a bare address (host prefix). Sets *err on failure,
    // including host bits set beyond the prefix length.
    static std::optional<Prefix> parse(std::string_view text, std::string *err);
    int mapped_len() const { return addr.v4 ? len + 96 : len; } // length in the 128-bit form
    bool contains(const IpAddr &a) const;
    bool contains(const Prefix &p) const;
    std::string str() const;
    auto operator<=>(const Prefix &) const = default;
};

// "1.2.3.4:80" or "[2001:db8::1]:443".
std::optional<std::pair<IpAddr, uint16_t>> parse_endpoint(std::string_view text);

} // namespace xi
