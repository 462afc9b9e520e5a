// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The packet builder's L3 setters (packet.h): IP headers and encapsulation, the fields of both
// families, IPv4 only, IPv6 only, and the IPv6 extension headers. They record what the header
// should be; packet_assemble.cpp writes it.
#include "packet.h"
#include "packet_wire.h"

#include <stdexcept>

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <netinet/in.h>

namespace xi::test
{

using wire::append;
using wire::put16;
using wire::put32;

namespace
{

// Pad IPv6 option TLVs to a multiple of 8 including the 2-byte ext header prefix: Pad1 for one
// byte, PadN otherwise (RFC 8200 4.2).
Bytes pad_tlvs(Bytes options)
{
    size_t pad = (8 - (options.size() + 2) % 8) % 8;
    if (pad == 1) {
        options.push_back(IPV6_TLV_PAD1);
    } else if (pad >= 2) {
        options.push_back(IPV6_TLV_PADN);
        options.push_back(static_cast<uint8_t>(pad - 2));
        options.insert(options.end(), pad - 2, 0);
    }
    return options;
}

} // namespace

// ---- L3 -------------------------------------------------------------------------------------

Packet &Packet::ipv4(std::string_view src, std::string_view dst)
{
    if (l4_ != L4::none || !payload_.empty())
        throw std::logic_error("ipv4() after L4 or payload");
    Ip4 h;
    h.src = ipv4_addr(src);
    h.dst = ipv4_addr(dst);
    ips_.emplace_back(h);
    return *this;
}

Packet &Packet::ipv6(std::string_view src, std::string_view dst)
{
    if (l4_ != L4::none || !payload_.empty())
        throw std::logic_error("ipv6() after L4 or payload");
    Ip6 h;
    h.src = ipv6_addr(src);
    h.dst = ipv6_addr(dst);
    ips_.emplace_back(h);
    return *this;
}

Packet::Ip4 &Packet::cur4(const char *what)
{
    if (ips_.empty() || !std::holds_alternative<Ip4>(ips_.back()))
        throw std::logic_error(std::string(what) + ": current IP header is not IPv4");
    return std::get<Ip4>(ips_.back());
}

Packet::Ip6 &Packet::cur6(const char *what)
{
    if (ips_.empty() || !std::holds_alternative<Ip6>(ips_.back()))
        throw std::logic_error(std::string(what) + ": current IP header is not IPv6");
    return std::get<Ip6>(ips_.back());
}

Packet &Packet::ttl(uint8_t ttl)
{
    if (ips_.empty())
        throw std::logic_error("ttl() without an IP header");
    if (auto *h = std::get_if<Ip4>(&ips_.back()))
        h->ttl = ttl;
    else
        std::get<Ip6>(ips_.back()).hops = ttl;
    return *this;
}

Packet &Packet::tos(uint8_t tos)
{
    if (ips_.empty())
        throw std::logic_error("tos() without an IP header");
    if (auto *h = std::get_if<Ip4>(&ips_.back()))
        h->tos = tos;
    else
        std::get<Ip6>(ips_.back()).tclass = tos;
    return *this;
}

Packet &Packet::dscp(uint8_t dscp)
{
    if (ips_.empty())
        throw std::logic_error("dscp() without an IP header");
    auto *h = std::get_if<Ip4>(&ips_.back());
    uint8_t old = h ? h->tos : std::get<Ip6>(ips_.back()).tclass;
    return tos(static_cast<uint8_t>((dscp & 0x3f) << 2 | (old & 0x03)));
}

Packet &Packet::ecn(uint8_t ecn)
{
    if (ips_.empty())
        throw std::logic_error("ecn() without an IP header");
    auto *h = std::get_if<Ip4>(&ips_.back());
    uint8_t old = h ? h->tos : std::get<Ip6>(ips_.back()).tclass;
    return tos(static_cast<uint8_t>((old & 0xfc) | (ecn & 0x03)));
}

Packet &Packet::ip_proto(uint8_t proto)
{
    if (ips_.empty())
        throw std::logic_error("ip_proto() without an IP header");
    if (auto *h = std::get_if<Ip4>(&ips_.back()))
        h->proto = proto;
    else
        std::get<Ip6>(ips_.back()).proto = proto;
    return *this;
}

Packet &Packet::ip_version(uint8_t version)
{
    if (ips_.empty())
        throw std::logic_error("ip_version() without an IP header");
    if (auto *h = std::get_if<Ip4>(&ips_.back()))
        h->version = version;
    else
        std::get<Ip6>(ips_.back()).version = version;
    return *this;
}

Packet &Packet::ip_id(uint16_t id)
{
    cur4("ip_id").id = id;
    return *this;
}

Packet &Packet::df(bool on)
{
    cur4("df").df = on;
    return *this;
}

Packet &Packet::mf(bool on)
{
    cur4("mf").mf = on;
    return *this;
}

Packet &Packet::evil(bool on)
{
    cur4("evil").evil = on;
    return *this;
}

Packet &Packet::frag_offset(uint16_t units8)
{
    if (units8 > 0x1fff)
        throw std::invalid_argument("frag_offset > 8191");
    cur4("frag_offset").frag_off = units8;
    return *this;
}

Packet &Packet::ip_options(std::vector<uint8_t> raw)
{
    if (raw.size() > 40)
        throw std::invalid_argument("IPv4 options longer than 40 bytes");
    raw.resize((raw.size() + 3) / 4 * 4, IPOPT_END);
    cur4("ip_options").options = std::move(raw);
    return *this;
}

Packet &Packet::ihl(uint8_t words)
{
    cur4("ihl").ihl = words;
    return *this;
}

Packet &Packet::tot_len(uint16_t len)
{
    cur4("tot_len").tot_len = len;
    return *this;
}

Packet &Packet::ip_checksum(uint16_t csum)
{
    cur4("ip_checksum").check = csum;
    return *this;
}

Packet &Packet::corrupt_ip_checksum()
{
    cur4("corrupt_ip_checksum").corrupt = true;
    return *this;
}

Packet &Packet::flow_label(uint32_t label)
{
    if (label > 0xfffff)
        throw std::invalid_argument("flow label > 20 bits");
    cur6("flow_label").flow = label;
    return *this;
}

Packet &Packet::payload_len(uint16_t len)
{
    cur6("payload_len").payload_len = len;
    return *this;
}

Packet &Packet::next_header(uint8_t nh)
{
    cur6("next_header").next_header = nh;
    return *this;
}

Packet &Packet::add_ext(uint8_t type, Bytes body, bool ah)
{
    Ip6 &h = cur6("IPv6 extension header");
    if (l4_ != L4::none || !payload_.empty())
        throw std::logic_error("extension header after L4 or payload");
    // AH counts in 4-octet units but IPv6 still wants the header 8-octet aligned.
    body.resize((body.size() + 2 + 7) / 8 * 8 - 2, 0);
    h.exts.push_back(Ext6{type, std::move(body), ah});
    return *this;
}

Packet &Packet::hop_by_hop(std::vector<uint8_t> options)
{
    return add_ext(IPPROTO_HOPOPTS, pad_tlvs(std::move(options)), false);
}

Packet &Packet::dest_opts(std::vector<uint8_t> options)
{
    return add_ext(IPPROTO_DSTOPTS, pad_tlvs(std::move(options)), false);
}

Packet &Packet::routing(uint8_t type, uint8_t segments_left, const std::vector<std::string> &addrs)
{
    Bytes body{type, segments_left, 0, 0, 0, 0};
    if (type == 4 && !addrs.empty())
        body[2] = static_cast<uint8_t>(addrs.size() - 1); // SRH last entry
    for (const std::string &a : addrs)
        append(body, ipv6_addr(a));
    return add_ext(IPPROTO_ROUTING, std::move(body), false);
}

Packet &Packet::frag6(uint16_t offset_units8, bool more, uint32_t id)
{
    if (offset_units8 > 0x1fff)
        throw std::invalid_argument("frag6 offset > 8191");
    // The byte after next header is "reserved" here; add_ext writes 0 there (8 bytes total).
    Bytes body(6, 0);
    put16(body, 0, static_cast<uint16_t>(offset_units8 << 3 | (more ? 1 : 0)));
    put32(body, 2, id);
    return add_ext(IPPROTO_FRAGMENT, std::move(body), false);
}

Packet &Packet::ah(uint32_t spi, uint32_t seq, std::vector<uint8_t> icv)
{
    Bytes body(10, 0); // reserved (2), SPI (4), sequence (4)
    put32(body, 2, spi);
    put32(body, 6, seq);
    append(body, icv);
    return add_ext(IPPROTO_AH, std::move(body), true);
}

Packet &Packet::ext6(uint8_t type, std::vector<uint8_t> body)
{
    return add_ext(type, std::move(body), false);
}

} // namespace xi::test
