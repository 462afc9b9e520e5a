#include "metadata.h"

#include <algorithm>

namespace xi
{

const std::vector<MetadataEndpoint> &metadata_endpoints()
{
    static const std::vector<MetadataEndpoint> list = {
        {"169.254.169.254", "instance metadata: AWS, GCP, Azure, Oracle Cloud, OpenStack"},
        {"fd00:ec2::254", "AWS instance metadata over IPv6 (Nitro)"},
        {"169.254.170.2", "AWS ECS task metadata and credentials"},
        {"169.254.170.23", "AWS EKS Pod Identity agent"},
        {"fd00:ec2::23", "AWS EKS Pod Identity agent over IPv6"},
        {"fd20:ce::254", "GCP metadata server over IPv6"},
        {"168.63.129.16", "Azure WireServer (also the VM's DNS resolver and health probes)"},
        {"100.100.100.200", "Alibaba Cloud instance metadata"},
        {"fd00:c1::a9fe:a9fe", "Oracle Cloud instance metadata over IPv6"},
        {"fe80::a9fe:a9fe", "OpenStack metadata over IPv6 (link-local)"},
    };
    return list;
}

const std::vector<std::string> &metadata_addresses()
{
    static const std::vector<std::string> addrs = [] {
        std::vector<std::string> v;
        for (const auto &e : metadata_endpoints())
            v.emplace_back(e.address);
        return v;
    }();
    return addrs;
}

std::string nat64_prefix_problem(const Prefix &p)
{
    if (p.addr.v4)
        return "a NAT64 prefix is IPv6";
    static const int lengths[] = {32, 40, 48, 56, 64, 96};
    if (std::find(std::begin(lengths), std::end(lengths), p.len) == std::end(lengths))
        return "a NAT64 prefix is /32, /40, /48, /56, /64 or /96 (RFC 6052)";
    return "";
}

const std::vector<Prefix> &builtin_metadata_prefixes()
{
    static const std::vector<Prefix> prefixes = [] {
        std::vector<Prefix> v;
        std::string err;
        for (const auto &a : metadata_addresses())
            v.push_back(*Prefix::parse(a, &err));
        return v;
    }();
    return prefixes;
}

bool metadata_excluded(const Config &c, const Prefix &builtin)
{
    return std::any_of(c.metadata_exclude.begin(), c.metadata_exclude.end(),
                       [&](const PrefixCfg &x) { return x.prefix == builtin; });
}

std::vector<Prefix> metadata_prefixes(const Config &c)
{
    std::vector<Prefix> out;
    for (const auto &p : builtin_metadata_prefixes())
        if (!metadata_excluded(c, p))
            out.push_back(p);
    for (const auto &p : c.metadata_extra)
        out.push_back(p.prefix);
    return out;
}

namespace
{

// Bit i (0 = most significant) of the 128-bit address, and setting it.
bool bit(const std::array<uint8_t, 16> &b, int i)
{
    return b[i / 8] >> (7 - i % 8) & 1;
}
void set_bit(std::array<uint8_t, 16> &b, int i)
{
    b[i / 8] |= uint8_t(1u << (7 - i % 8));
}

// RFC 6052 2.2: the IPv4 bits follow the prefix, skipping bits 64-71 (octet u).
Prefix embed(const Prefix &v4, const Prefix &prefix)
{
    Prefix out{prefix.addr, prefix.len};
    int last = prefix.len - 1;
    for (int i = 0; i < v4.len; i++) {
        int at = prefix.len + i;
        if (prefix.len <= 64 && at >= 64)
            at += 8;
        if (bit(v4.addr.bytes, 96 + i))
            set_bit(out.addr.bytes, at);
        last = at;
    }
    out.len = last + 1;
    return out;
}

} // namespace

std::vector<Prefix> ipv6_forms_of(const Prefix &v4, const std::vector<Prefix> &nat64)
{
    std::vector<Prefix> out;
    if (!v4.addr.v4)
        return out;
    out.push_back(embed(v4, Prefix{IpAddr{}, 96})); // ::a.b.c.d
    for (const auto &p : nat64)
        out.push_back(embed(v4, p));
    return out;
}

std::vector<Prefix> metadata_prefixes_all_forms(const Config &c)
{
    std::string err;
    std::vector<Prefix> nat64 = {*Prefix::parse(kNat64WellKnown, &err)};
    for (const auto &p : c.nat64_prefixes)
        if (std::find(nat64.begin(), nat64.end(), p.prefix) == nat64.end())
            nat64.push_back(p.prefix);
    std::vector<Prefix> out = metadata_prefixes(c);
    const size_t configured = out.size();
    for (size_t i = 0; i < configured; i++)
        for (const auto &f : ipv6_forms_of(out[i], nat64))
            out.push_back(f);
    return out;
}

} // namespace xi
