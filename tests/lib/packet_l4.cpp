// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The packet builder's L4 setters (packet.h): TCP (flags, options), UDP, ICMP and ICMPv6 (with
// the quoted datagram of an error), and the L4 checksum overrides. packet_assemble.cpp writes
// the header and computes the checksum.
#include "packet.h"
#include "packet_wire.h"

#include <algorithm>
#include <stdexcept>

#include <linux/icmp.h>
#include <linux/icmpv6.h>

namespace xi::test
{

using namespace wire;

namespace
{

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20;
constexpr uint8_t kEce = 0x40, kCwr = 0x80;

} // namespace

// ---- L4 -------------------------------------------------------------------------------------

void Packet::set_l4(L4 kind, const char *what)
{
    if (ips_.empty())
        throw std::logic_error(std::string(what) + " without an IP header");
    if (l4_ != L4::none)
        throw std::logic_error(std::string(what) + ": packet already has an L4 header");
    if (!payload_.empty())
        throw std::logic_error(std::string(what) + " after payload");
    l4_ = kind;
}

void Packet::need_l4(L4 kind, const char *what) const
{
    if (l4_ != kind)
        throw std::logic_error(std::string(what) + ": wrong or missing L4 header");
}

Packet &Packet::tcp(uint16_t sport, uint16_t dport)
{
    set_l4(L4::tcp, "tcp()");
    sport_ = sport;
    dport_ = dport;
    return *this;
}

Packet &Packet::seq(uint32_t seq)
{
    need_l4(L4::tcp, "seq()");
    seq_ = seq;
    return *this;
}

Packet &Packet::ack()
{
    need_l4(L4::tcp, "ack()");
    flags_ |= kAck;
    return *this;
}

Packet &Packet::ack(uint32_t ack)
{
    this->ack();
    ack_ = ack;
    return *this;
}

Packet &Packet::syn()
{
    need_l4(L4::tcp, "syn()");
    flags_ |= kSyn;
    return *this;
}

Packet &Packet::fin()
{
    need_l4(L4::tcp, "fin()");
    flags_ |= kFin;
    return *this;
}

Packet &Packet::rst()
{
    need_l4(L4::tcp, "rst()");
    flags_ |= kRst;
    return *this;
}

Packet &Packet::psh()
{
    need_l4(L4::tcp, "psh()");
    flags_ |= kPsh;
    return *this;
}

Packet &Packet::urg(uint16_t urg_ptr)
{
    need_l4(L4::tcp, "urg()");
    flags_ |= kUrg;
    urg_ptr_ = urg_ptr;
    return *this;
}

Packet &Packet::ece()
{
    need_l4(L4::tcp, "ece()");
    flags_ |= kEce;
    return *this;
}

Packet &Packet::cwr()
{
    need_l4(L4::tcp, "cwr()");
    flags_ |= kCwr;
    return *this;
}

Packet &Packet::tcp_flags(uint8_t flags)
{
    need_l4(L4::tcp, "tcp_flags()");
    flags_ = flags;
    return *this;
}

Packet &Packet::window(uint16_t window)
{
    need_l4(L4::tcp, "window()");
    window_ = window;
    return *this;
}

Packet &Packet::doff(uint8_t words)
{
    need_l4(L4::tcp, "doff()");
    doff_ = words;
    return *this;
}

Packet &Packet::add_tcp_opt(std::initializer_list<uint8_t> bytes)
{
    need_l4(L4::tcp, "TCP option");
    tcp_opts_.insert(tcp_opts_.end(), bytes);
    return *this;
}

Packet &Packet::mss(uint16_t mss)
{
    return add_tcp_opt({kTcpOptMss, 4, static_cast<uint8_t>(mss >> 8), static_cast<uint8_t>(mss)});
}

Packet &Packet::wscale(uint8_t shift)
{
    return add_tcp_opt({kTcpOptWscale, 3, shift});
}

Packet &Packet::sack_perm()
{
    return add_tcp_opt({kTcpOptSackPerm, 2});
}

Packet &Packet::sack(const std::vector<std::pair<uint32_t, uint32_t>> &blocks)
{
    Bytes data(blocks.size() * 8);
    for (size_t i = 0; i < blocks.size(); i++) {
        put32(data, i * 8, blocks[i].first);
        put32(data, i * 8 + 4, blocks[i].second);
    }
    return tcp_option(kTcpOptSack, std::move(data));
}

Packet &Packet::ts(uint32_t val, uint32_t ecr)
{
    Bytes data(8);
    put32(data, 0, val);
    put32(data, 4, ecr);
    return tcp_option(kTcpOptTs, std::move(data));
}

Packet &Packet::nop()
{
    return add_tcp_opt({kTcpOptNop});
}

Packet &Packet::eol()
{
    return add_tcp_opt({kTcpOptEol});
}

Packet &Packet::tcp_option(uint8_t kind, std::vector<uint8_t> data)
{
    need_l4(L4::tcp, "tcp_option()");
    if (data.size() > 253)
        throw std::invalid_argument("TCP option data too long");
    tcp_opts_.push_back(kind);
    tcp_opts_.push_back(static_cast<uint8_t>(data.size() + 2));
    append(tcp_opts_, data);
    return *this;
}

Packet &Packet::tcp_options_raw(std::vector<uint8_t> raw)
{
    need_l4(L4::tcp, "tcp_options_raw()");
    append(tcp_opts_, raw);
    return *this;
}

Packet &Packet::udp(uint16_t sport, uint16_t dport)
{
    set_l4(L4::udp, "udp()");
    sport_ = sport;
    dport_ = dport;
    return *this;
}

Packet &Packet::udp_len(uint16_t len)
{
    need_l4(L4::udp, "udp_len()");
    udp_len_ = len;
    return *this;
}

Packet &Packet::set_icmp(L4 kind, uint8_t type, uint8_t code, uint32_t rest)
{
    if (kind == L4::icmp4)
        cur4("icmp4");
    else
        cur6("icmp6");
    set_l4(kind, "icmp");
    icmp_type_ = type;
    icmp_code_ = code;
    icmp_rest_ = rest;
    return *this;
}

Packet &Packet::icmp4(uint8_t type, uint8_t code, uint32_t rest)
{
    return set_icmp(L4::icmp4, type, code, rest);
}

Packet &Packet::icmp4_echo_request(uint16_t id, uint16_t seq)
{
    return icmp4(ICMP_ECHO, 0, static_cast<uint32_t>(id) << 16 | seq);
}

Packet &Packet::icmp4_echo_reply(uint16_t id, uint16_t seq)
{
    return icmp4(ICMP_ECHOREPLY, 0, static_cast<uint32_t>(id) << 16 | seq);
}

Packet &Packet::icmp4_unreach(uint8_t code)
{
    return icmp4(ICMP_DEST_UNREACH, code, 0);
}

Packet &Packet::icmp4_frag_needed(uint16_t mtu)
{
    return icmp4(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu);
}

Packet &Packet::icmp4_time_exceeded(uint8_t code)
{
    return icmp4(ICMP_TIME_EXCEEDED, code, 0);
}

Packet &Packet::icmp6(uint8_t type, uint8_t code, uint32_t rest)
{
    return set_icmp(L4::icmp6, type, code, rest);
}

Packet &Packet::icmp6_echo_request(uint16_t id, uint16_t seq)
{
    return icmp6(ICMPV6_ECHO_REQUEST, 0, static_cast<uint32_t>(id) << 16 | seq);
}

Packet &Packet::icmp6_echo_reply(uint16_t id, uint16_t seq)
{
    return icmp6(ICMPV6_ECHO_REPLY, 0, static_cast<uint32_t>(id) << 16 | seq);
}

Packet &Packet::icmp6_unreach(uint8_t code)
{
    return icmp6(ICMPV6_DEST_UNREACH, code, 0);
}

Packet &Packet::icmp6_packet_too_big(uint32_t mtu)
{
    return icmp6(ICMPV6_PKT_TOOBIG, 0, mtu);
}

Packet &Packet::icmp6_time_exceeded(uint8_t code)
{
    return icmp6(ICMPV6_TIME_EXCEED, code, 0);
}

Packet &Packet::inner(const Packet &quoted, size_t max_len)
{
    if (l4_ != L4::icmp4 && l4_ != L4::icmp6)
        throw std::logic_error("inner() needs an ICMP header");
    if (quoted.has_l2())
        throw std::logic_error("inner(): the quoted datagram must not have L2");
    Layout q = quoted.layout();
    Bytes bytes = truncated(quoted.build(), max_len);
    size_t len = bytes.size();
    // Describe only what is in the quote.
    std::vector<Layer> kept;
    for (Layer l : q.layers) {
        if (l.off >= len)
            continue;
        l.len = std::min(l.len, len - l.off);
        kept.push_back(l);
    }
    q.layers = std::move(kept);
    q.size = len;
    auto clip = [len](size_t &off) {
        if (off != npos && off >= len)
            off = npos;
    };
    clip(q.l3_off);
    clip(q.inner_l3_off);
    clip(q.l4_off);
    clip(q.payload_off);
    clip(q.quote_off);
    clip(q.quote_l4_off);
    std::erase_if(q.ip_offs, [len](size_t o) { return o >= len; });
    q.ip_end = std::min(q.ip_end, len);
    payload_ = std::move(bytes);
    quote_ = std::move(q);
    return *this;
}

Packet &Packet::l4_checksum(uint16_t csum)
{
    if (l4_ == L4::none)
        throw std::logic_error("l4_checksum() without an L4 header");
    l4_check_ = csum;
    return *this;
}

Packet &Packet::corrupt_l4_checksum()
{
    if (l4_ == L4::none)
        throw std::logic_error("corrupt_l4_checksum() without an L4 header");
    l4_corrupt_ = true;
    return *this;
}

} // namespace xi::test
