// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The checker (packet_check.h), part 1: the entry points, the helpers every part uses, and the
// frame as a whole: Ethernet header, VLAN tags, and the bytes after the IP datagram. The other
// layers are parsed in packet_check_ip.cpp and packet_check_l4.cpp (see packet_parser.h).
#include "packet_check.h"
#include "packet_parser.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include <linux/icmp.h>
#include <linux/if_ether.h>
#include <netinet/in.h>

namespace xi::test
{

namespace check_detail
{

std::string strf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return buf;
}

const char *ext_name(uint8_t type)
{
    switch (type) {
    case IPPROTO_HOPOPTS:
        return "hbh";
    case IPPROTO_ROUTING:
        return "routing";
    case IPPROTO_FRAGMENT:
        return "frag";
    case IPPROTO_DSTOPTS:
        return "dstopts";
    case IPPROTO_AH:
        return "ah";
    default:
        return "ext";
    }
}

namespace
{

constexpr size_t kEthMin = 60; // minimum frame without FCS
constexpr uint16_t kTpidQinQOld = 0x9100;

bool is_tpid(uint16_t t)
{
    return t == ETH_P_8021Q || t == ETH_P_8021AD || t == kTpidQinQOld;
}

} // namespace

void Parser::top(ParseOptions opts)
{
    size_t size = buf_.size();
    uint8_t hint = 0;
    size_t off = 0;
    if (opts.eth) {
        out_.has_eth = true;
        if (size < ETH_HLEN) {
            problem(strf("eth: frame of %zu bytes is shorter than an Ethernet header", size));
            region("eth", "eth", 0, ETH_HLEN, size);
            return;
        }
        std::copy_n(at(0), 6, out_.eth.dst.begin());
        std::copy_n(at(6), 6, out_.eth.src.begin());
        out_.eth.type = rd16(at(12));
        region("eth", "eth", 0, ETH_HLEN, size);
        off = ETH_HLEN;
        uint16_t type = out_.eth.type;
        while (is_tpid(type)) {
            size_t i = out_.vlans.size();
            if (off + 4 > size) {
                problem(strf("vlan[%zu]: tag truncated", i));
                region(strf("vlan[%zu]", i), "vlan", off, 4, size);
                return;
            }
            VlanInfo v;
            uint16_t tci = rd16(at(off));
            v.tpid = type;
            v.pcp = static_cast<uint8_t>(tci >> 13);
            v.dei = tci & 0x1000;
            v.vid = tci & 0xfff;
            v.next_type = rd16(at(off + 2));
            out_.vlans.push_back(v);
            region(strf("vlan[%zu]", i), "vlan", off, 4, size);
            off += 4;
            type = v.next_type;
        }
        out_.ethertype = type;
        out_.l2_len = off;
        if (type == ETH_P_IP) {
            hint = 4;
        } else if (type == ETH_P_IPV6) {
            hint = 6;
        } else {
            payload(off, size); // not IP: nothing more to check
            out_.ip_end = size;
            return;
        }
    }
    out_.l2_len = off;
    if (off >= size) {
        problem("no IP header: packet ends after L2");
        return;
    }
    ip_chain(off, size, hint);
    if (out_.ips.empty())
        return;
    size_t ip_end = out_.ip_end;
    if (ip_end < size) {
        out_.trailer_len = size - ip_end;
        out_.trailer_is_padding = opts.eth && size <= kEthMin + 4 * out_.vlans.size();
        if (!out_.trailer_is_padding && !opts.allow_trailer)
            problem(strf("%zu bytes after the IP datagram (it ends at %zu of %zu)",
                         out_.trailer_len, ip_end, size));
        region("trailer", "trailer", ip_end, out_.trailer_len, size);
    }
}

} // namespace check_detail

bool IpInfo::later_fragment() const
{
    if (version == 4)
        return frag_offset != 0;
    const Ipv6ExtInfo *f = ext(IPPROTO_FRAGMENT);
    return f && f->frag_offset != 0;
}

bool IpInfo::more_fragments() const
{
    if (version == 4)
        return mf;
    const Ipv6ExtInfo *f = ext(IPPROTO_FRAGMENT);
    return f && f->more;
}

const Ipv6ExtInfo *IpInfo::ext(uint8_t type) const
{
    for (const Ipv6ExtInfo &x : exts) {
        if (x.type == type)
            return &x;
    }
    return nullptr;
}

bool IcmpInfo::is_error() const
{
    if (version == 6)
        return type < 128;
    return type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH || type == ICMP_REDIRECT ||
           type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
}

const Region *ParsedPacket::region(std::string_view name) const
{
    for (const Region &r : regions) {
        if (r.name == name)
            return &r;
    }
    return nullptr;
}

// Byte-wise formulation: bytes at even offsets are the high halves of the 16-bit words, bytes
// at odd offsets the low halves; the two sums are combined and the carries folded once.
uint16_t ones_sum(std::span<const uint8_t> data)
{
    uint64_t hi = 0, lo = 0;
    for (size_t i = 0; i < data.size(); i++) {
        if (i % 2 == 0)
            hi += data[i];
        else
            lo += data[i];
    }
    return static_cast<uint16_t>(check_detail::fold((hi << 8) + lo));
}

ParsedPacket parse(std::span<const uint8_t> pkt, ParseOptions opts)
{
    ParsedPacket out;
    check_detail::Parser p(pkt, out, 0);
    p.top(opts);
    return out;
}

std::vector<std::string> check(std::span<const uint8_t> pkt, ParseOptions opts)
{
    return parse(pkt, opts).problems;
}

} // namespace xi::test
