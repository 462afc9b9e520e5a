// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The packet builder, part 1: addresses and the checksum (the free functions of packet.h), the
// Layout queries, the L2 layer, payload/trailer/truncation and the two outputs. The L3 and L4
// setters are in packet_l3.cpp and packet_l4.cpp; the bytes are put together in
// packet_assemble.cpp. (Split by layer so that each file reads as one part of the wire format.)
#include "packet.h"

#include <algorithm>
#include <stdexcept>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>

namespace xi::test
{

namespace
{

int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

} // namespace

Mac mac(std::string_view text)
{
    Mac m{};
    // "xx:xx:xx:xx:xx:xx": 17 characters, separators at 2, 5, 8, 11, 14.
    if (text.size() != 17)
        throw std::invalid_argument("bad MAC address: " + std::string(text));
    for (size_t i = 0; i < 6; i++) {
        int hi = hex_digit(text[i * 3]);
        int lo = hex_digit(text[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-'))
            throw std::invalid_argument("bad MAC address: " + std::string(text));
        m[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return m;
}

std::array<uint8_t, 4> ipv4_addr(std::string_view text)
{
    std::array<uint8_t, 4> a{};
    if (inet_pton(AF_INET, std::string(text).c_str(), a.data()) != 1)
        throw std::invalid_argument("bad IPv4 address: " + std::string(text));
    return a;
}

std::array<uint8_t, 16> ipv6_addr(std::string_view text)
{
    std::array<uint8_t, 16> a{};
    if (inet_pton(AF_INET6, std::string(text).c_str(), a.data()) != 1)
        throw std::invalid_argument("bad IPv6 address: " + std::string(text));
    return a;
}

// Builder side of the checksum: 16-bit big-endian words into a 32-bit accumulator, carries
// folded at the end. (packet_check.cpp verifies with a different formulation.)
uint16_t inet_checksum(std::span<const uint8_t> data, uint32_t initial)
{
    uint64_t sum = initial;
    size_t i = 0;
    for (; i + 1 < data.size(); i += 2)
        sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
    if (i < data.size())
        sum += static_cast<uint32_t>(data[i] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum & 0xffff);
}

Bytes truncated(Bytes pkt, size_t len)
{
    if (len < pkt.size())
        pkt.resize(len);
    return pkt;
}

const char *to_string(LayerKind kind)
{
    switch (kind) {
    case LayerKind::eth:
        return "eth";
    case LayerKind::vlan:
        return "vlan";
    case LayerKind::ipv4:
        return "ipv4";
    case LayerKind::ipv6:
        return "ipv6";
    case LayerKind::ipv6_ext:
        return "ipv6_ext";
    case LayerKind::tcp:
        return "tcp";
    case LayerKind::udp:
        return "udp";
    case LayerKind::icmp4:
        return "icmp4";
    case LayerKind::icmp6:
        return "icmp6";
    case LayerKind::payload:
        return "payload";
    case LayerKind::trailer:
        return "trailer";
    }
    return "?";
}

std::vector<size_t> Layout::boundaries() const
{
    std::vector<size_t> out{0, size};
    for (const Layer &l : layers) {
        out.push_back(l.off);
        out.push_back(l.off + l.len);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    out.erase(std::remove_if(out.begin(), out.end(), [this](size_t o) { return o > size; }),
              out.end());
    return out;
}

const Layer *Layout::find(LayerKind kind, unsigned depth, size_t nth) const
{
    for (const Layer &l : layers) {
        if (l.kind == kind && l.depth == depth && nth-- == 0)
            return &l;
    }
    return nullptr;
}

// ---- L2 -------------------------------------------------------------------------------------

Packet &Packet::eth()
{
    return eth(Mac{0x02, 0, 0, 0, 0, 0x01}, Mac{0x02, 0, 0, 0, 0, 0x02});
}

Packet &Packet::eth(const Mac &src, const Mac &dst)
{
    if (!ips_.empty() || !vlans_.empty())
        throw std::logic_error("eth() must come first");
    eth_ = Eth{src, dst, std::nullopt};
    return *this;
}

Packet &Packet::eth(std::string_view src, std::string_view dst)
{
    return eth(mac(src), mac(dst));
}

Packet &Packet::ethertype(uint16_t type)
{
    if (!eth_)
        throw std::logic_error("ethertype() without eth()");
    eth_->type = type;
    return *this;
}

Packet &Packet::vlan(uint16_t vid, uint8_t pcp, bool dei)
{
    return vlan_tag(ETH_P_8021Q, vid, pcp, dei);
}

Packet &Packet::svlan(uint16_t vid, uint8_t pcp, bool dei)
{
    return vlan_tag(ETH_P_8021AD, vid, pcp, dei);
}

Packet &Packet::vlan_tag(uint16_t tpid, uint16_t vid, uint8_t pcp, bool dei)
{
    if (!eth_)
        throw std::logic_error("vlan tag without eth()");
    if (!ips_.empty())
        throw std::logic_error("vlan tag after an IP header");
    if (vid > 0xfff || pcp > 7)
        throw std::invalid_argument("vlan: vid > 4095 or pcp > 7");
    vlans_.push_back(Vlan{tpid, static_cast<uint16_t>(pcp << 13 | (dei ? 1 : 0) << 12 | vid)});
    return *this;
}

// ---- payload, trailer, truncation -----------------------------------------------------------

Packet &Packet::payload(size_t len)
{
    payload_.resize(len);
    for (size_t i = 0; i < len; i++)
        payload_[i] = static_cast<uint8_t>(i);
    quote_.reset();
    return *this;
}

Packet &Packet::payload(const std::vector<uint8_t> &data)
{
    payload_ = data;
    quote_.reset();
    return *this;
}

Packet &Packet::payload(std::initializer_list<uint8_t> data)
{
    return payload(Bytes(data));
}

Packet &Packet::payload(std::string_view text)
{
    return payload(Bytes(text.begin(), text.end()));
}

Packet &Packet::pad_to_min(uint8_t fill)
{
    return pad_to(kEthMinFrame, fill);
}

Packet &Packet::pad_to(size_t frame_len, uint8_t fill)
{
    pad_to_ = frame_len;
    pad_fill_ = fill;
    return *this;
}

Packet &Packet::trailer(std::vector<uint8_t> bytes)
{
    trailer_ = std::move(bytes);
    return *this;
}

Packet &Packet::truncate(size_t len)
{
    truncate_ = len;
    return *this;
}

// ---- output (assemble() is in packet_assemble.cpp) ------------------------------------------

Bytes Packet::build() const
{
    return truncated(assemble(nullptr), truncate_);
}

Layout Packet::layout() const
{
    Layout l;
    assemble(&l);
    return l;
}

} // namespace xi::test
