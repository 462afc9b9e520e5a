// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Internal to the checker (packet_check.h): the parser that parse() runs, shared by the files
// that implement it layer by layer:
//   packet_check.cpp       entry points, L2 (Ethernet, VLAN tags), what follows the datagram
//   packet_check_ip.cpp    IP headers, encapsulation, IPv6 extension headers
//   packet_check_l4.cpp    TCP, UDP, ICMP (and an ICMP error's quoted datagram), L4 checksums
//   packet_check_text.cpp  summary, hexdump, describe_offset, hexdiff
// Like packet_check.h, nothing here uses the builder (packet.h, packet_wire.h): the two
// implementations check each other.
#ifndef XI_TEST_PACKET_PARSER_H
#define XI_TEST_PACKET_PARSER_H

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "packet_check.h"

namespace xi::test::check_detail
{

// printf into a std::string (problems and dumps are short: 512 bytes at most).
std::string strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Name of an IPv6 extension header in region names and summaries: "hbh", "frag", ...
const char *ext_name(uint8_t type);

inline uint16_t rd16(const uint8_t *p)
{
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

inline uint32_t rd32(const uint8_t *p)
{
    return static_cast<uint32_t>(rd16(p)) << 16 | rd16(p + 2);
}

inline uint32_t fold(uint64_t s)
{
    while (s > 0xffff)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint32_t>(s);
}

class Parser
{
public:
    Parser(std::span<const uint8_t> buf, ParsedPacket &out, unsigned depth)
        : buf_(buf), out_(out), depth_(depth)
    {
    }

    void top(ParseOptions opts);
    // IP header(s) at off, datagram bounded by end; version_hint 0 = from the nibble.
    void ip_chain(size_t off, size_t end, uint8_t version_hint);

private:
    void problem(std::string msg) { out_.problems.push_back(std::move(msg)); }
    void region(std::string name, const char *kind, size_t off, size_t len, size_t end)
    {
        len = off >= end ? 0 : std::min(len, end - off);
        out_.regions.push_back(Region{std::move(name), kind, off, len, depth_});
    }
    const uint8_t *at(size_t off) const { return buf_.data() + off; }

    bool ipv4(IpInfo &ip, const std::string &name, size_t end);
    bool ipv6(IpInfo &ip, const std::string &name, size_t end);
    void l4(const IpInfo &ip, size_t off, size_t end);
    void tcp(const IpInfo &ip, size_t off, size_t end, bool partial, bool verify);
    void udp(const IpInfo &ip, size_t off, size_t end, bool partial, bool verify);
    void icmp(const IpInfo &ip, size_t off, size_t end, bool partial, bool verify, uint8_t ver);
    void payload(size_t off, size_t end);
    // Sum over [off, end) plus the pseudo-header; 0xffff when the checksum is right.
    uint32_t l4_sum(const IpInfo &ip, uint8_t proto, size_t off, size_t end, bool pseudo) const;
    void verify_l4(const IpInfo &ip, const char *name, uint8_t proto, size_t off, size_t end,
                   size_t csum_at, bool pseudo);

    std::span<const uint8_t> buf_;
    ParsedPacket &out_;
    unsigned depth_;
    bool quoted_ = false;
};

} // namespace xi::test::check_detail

#endif // XI_TEST_PACKET_PARSER_H
