// IP addresses and prefixes as the config writes them and as the maps store them (IPv4 as
// IPv4-mapped IPv6, see struct xi_addr).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <cstring>
#include <unordered_map>
#include <vector>

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

// A hash of 16 address bytes and a small integer (a length, a family bit): for the unordered
// containers that index 100,000 identity prefixes, where ordered maps cost a third of validate.
inline size_t hash_addr(const std::array<uint8_t, 16> &bytes, uint64_t extra)
{
    uint64_t a, b;
    std::memcpy(&a, bytes.data(), 8);
    std::memcpy(&b, bytes.data() + 8, 8);
    return std::hash<uint64_t>()(a * 0x9e3779b97f4a7c15ull ^ b ^ extra * 0xff51afd7ed558ccdull);
}

struct PrefixHash {
    size_t operator()(const Prefix &p) const
    {
        return hash_addr(p.addr.bytes, uint64_t(p.len) << 1 | p.addr.v4);
    }
};

// Why an IPv6 text spells an address the datapath cannot tell from another one, or "": the maps
// key IPv4 as ::ffff:a.b.c.d, so an IPv4-mapped IPv6 address (or a prefix of /96 and longer in
// ::ffff:0:0/96) IS that IPv4 address and would alias it; a deprecated IPv4-compatible ::a.b.c.d
// is refused alike, as almost always a typo for the IPv4 address. `text` is quoted in the
// sentence. Every address and prefix of a config goes through this (one canonical form).
std::string noncanonical_form(const Prefix &p, std::string_view text);
std::string noncanonical_form(const IpAddr &a, std::string_view text);

// Prefixes of one family mapped to values, for "which prefixes contain this one" in time linear
// in the number of distinct prefix lengths (a hash lookup per length) rather than in the number
// of prefixes: the compiler and the checks ask it for every node, VIP and metadata prefix
// against 100,000 identity prefixes. The first value inserted for a prefix stays.
template <typename V>
class PrefixMap
{
public:
    void reserve(size_t n) { map_.reserve(n); }
    void insert(const Prefix &p, V v)
    {
        if (map_.try_emplace(key(p.addr, p.len, p.addr.v4), std::move(v)).second) {
            auto &lens = p.addr.v4 ? lens4_ : lens6_;
            if (std::find(lens.begin(), lens.end(), p.len) == lens.end()) {
                lens.push_back(p.len);
                std::sort(lens.rbegin(), lens.rend()); // longest first
            }
        }
    }
    // f(prefix length, value) for every prefix of the same family containing p, longest first.
    template <typename F>
    void each_containing(const Prefix &p, F f) const
    {
        for (int len : p.addr.v4 ? lens4_ : lens6_) {
            if (len > p.len)
                continue;
            auto it = map_.find(key(p.addr, len, p.addr.v4));
            if (it != map_.end())
                f(len, it->second);
        }
    }
    // The value of the longest prefix containing p, or nullptr.
    const V *longest(const Prefix &p) const
    {
        const V *found = nullptr;
        each_containing(p, [&](int, const V &v) {
            if (!found)
                found = &v;
        });
        return found;
    }
    size_t size() const { return map_.size(); }

private:
    struct Key {
        std::array<uint8_t, 16> bytes;
        int len; // in the family's bits
        bool v4;
        bool operator==(const Key &) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key &k) const
        {
            return hash_addr(k.bytes, uint64_t(k.len) << 1 | k.v4);
        }
    };
    static Key key(const IpAddr &a, int len, bool v4)
    {
        Key k{a.bytes, len, v4};
        int bits = v4 ? len + 96 : len; // in the 128-bit form
        for (int i = bits; i < 128; i++)
            k.bytes[i / 8] &= static_cast<uint8_t>(~(0x80 >> (i % 8)));
        return k;
    }
    std::unordered_map<Key, V, KeyHash> map_;
    std::vector<int> lens4_, lens6_;
};

// "1.2.3.4:80" or "[2001:db8::1]:443".
std::optional<std::pair<IpAddr, uint16_t>> parse_endpoint(std::string_view text);

} // namespace xi
