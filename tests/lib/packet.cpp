// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "packet.h"

#include <algorithm>
#include <stdexcept>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>

namespace xi::test
{

namespace
{

constexpr uint8_t kNoNextHeader = 59; // IPPROTO_NONE
constexpr uint8_t kRawProto = 255;    // IPPROTO_RAW: IPv4 with nothing we know after it
constexpr size_t kMaxIpLen = 65535;
constexpr uint16_t kIpEvil = 0x8000, kIpDf = 0x4000, kIpMf = 0x2000;
constexpr uint8_t kTcpOptEol = 0, kTcpOptNop = 1, kTcpOptMss = 2, kTcpOptWscale = 3;
constexpr uint8_t kTcpOptSackPerm = 4, kTcpOptSack = 5, kTcpOptTs = 8;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20;
constexpr uint8_t kEce = 0x40, kCwr = 0x80;

void put16(Bytes &b, size_t off, uint16_t v)
{
    b[off] = static_cast<uint8_t>(v >> 8);
    b[off + 1] = static_cast<uint8_t>(v);
}

void put32(Bytes &b, size_t off, uint32_t v)
{
    put16(b, off, static_cast<uint16_t>(v >> 16));
    put16(b, off + 2, static_cast<uint16_t>(v));
}

void append(Bytes &to, std::span<const uint8_t> from)
{
    to.insert(to.end(), from.begin(), from.end());
}

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

// ---- assembly -------------------------------------------------------------------------------

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

Bytes Packet::assemble(Layout *layout) const
{
    // L4 header (checksum 0 for now) + payload.
    Bytes seg;
    size_t l4_hdr = 0;
    size_t csum_at = npos;
    uint8_t proto = 0; // IP protocol of the L4 header; 0 = none
    LayerKind kind = LayerKind::payload;
    switch (l4_) {
    case L4::none:
        break;
    case L4::tcp: {
        proto = IPPROTO_TCP;
        kind = LayerKind::tcp;
        Bytes opts = tcp_opts_;
        opts.resize((opts.size() + 3) / 4 * 4, kTcpOptEol);
        l4_hdr = sizeof(struct tcphdr) + opts.size();
        if (!doff_ && l4_hdr > 60)
            throw std::logic_error("TCP options longer than 40 bytes (override doff())");
        seg.assign(sizeof(struct tcphdr), 0);
        put16(seg, 0, sport_);
        put16(seg, 2, dport_);
        put32(seg, 4, seq_);
        put32(seg, 8, ack_);
        seg[12] = static_cast<uint8_t>(doff_.value_or(static_cast<uint8_t>(l4_hdr / 4)) << 4);
        seg[13] = flags_;
        put16(seg, 14, window_);
        put16(seg, 18, urg_ptr_);
        append(seg, opts);
        csum_at = 16;
        break;
    }
    case L4::udp:
        proto = IPPROTO_UDP;
        kind = LayerKind::udp;
        l4_hdr = sizeof(struct udphdr);
        seg.assign(l4_hdr, 0);
        put16(seg, 0, sport_);
        put16(seg, 2, dport_);
        if (!udp_len_ && l4_hdr + payload_.size() > 0xffff)
            throw std::logic_error("UDP datagram longer than 65535 bytes");
        put16(seg, 4, udp_len_.value_or(static_cast<uint16_t>(l4_hdr + payload_.size())));
        csum_at = 6;
        break;
    case L4::icmp4:
    case L4::icmp6:
        proto = l4_ == L4::icmp4 ? uint8_t{IPPROTO_ICMP} : uint8_t{IPPROTO_ICMPV6};
        kind = l4_ == L4::icmp4 ? LayerKind::icmp4 : LayerKind::icmp6;
        l4_hdr = 8;
        seg.assign(l4_hdr, 0);
        seg[0] = icmp_type_;
        seg[1] = icmp_code_;
        put32(seg, 4, icmp_rest_);
        csum_at = 2;
        break;
    }
    append(seg, payload_);

    // L4 checksum with the innermost IP header's pseudo-header.
    if (csum_at != npos) {
        uint16_t csum;
        if (l4_check_) {
            csum = *l4_check_;
        } else {
            Bytes pseudo;
            if (const auto *h4 = std::get_if<Ip4>(&ips_.back())) {
                if (l4_ != L4::icmp4) { // ICMPv4 has no pseudo-header
                    append(pseudo, h4->src);
                    append(pseudo, h4->dst);
                    pseudo.insert(pseudo.end(), {0, proto, 0, 0});
                    put16(pseudo, 10, static_cast<uint16_t>(seg.size()));
                }
            } else {
                const Ip6 &h6 = std::get<Ip6>(ips_.back());
                std::array<uint8_t, 16> dst = h6.dst;
                for (const Ext6 &e : h6.exts) {
                    // Routing header still to be processed: the final destination is in it.
                    if (e.type != IPPROTO_ROUTING || e.body.size() < 22 || e.body[1] == 0)
                        continue;
                    size_t n = (e.body.size() - 6) / 16;
                    size_t at = e.body[0] == 4 ? 6 : 6 + 16 * (n - 1);
                    std::copy_n(e.body.begin() + static_cast<long>(at), 16, dst.begin());
                    break;
                }
                append(pseudo, h6.src);
                append(pseudo, dst);
                pseudo.insert(pseudo.end(), {0, 0, 0, 0, 0, 0, 0, proto});
                put32(pseudo, 32, static_cast<uint32_t>(seg.size()));
            }
            append(pseudo, seg);
            csum = inet_checksum(pseudo);
            if (l4_ == L4::udp && csum == 0)
                csum = 0xffff;
            if (l4_corrupt_)
                csum ^= 1;
        }
        put16(seg, csum_at, csum);
    }

    // IP headers, innermost first.
    std::vector<std::vector<size_t>> ip_hdr_lens(ips_.size()); // per IP: fixed (+opts), exts
    Bytes data = std::move(seg);
    for (size_t i = ips_.size(); i-- > 0;) {
        uint8_t upper;
        if (i + 1 < ips_.size())
            upper = std::holds_alternative<Ip4>(ips_[i + 1]) ? IPPROTO_IPIP : IPPROTO_IPV6;
        else if (proto != 0)
            upper = proto;
        else
            upper = std::holds_alternative<Ip4>(ips_[i]) ? kRawProto : kNoNextHeader;

        Bytes hdr;
        if (const auto *h = std::get_if<Ip4>(&ips_[i])) {
            size_t len = sizeof(struct iphdr) + h->options.size();
            if (!h->tot_len && len + data.size() > kMaxIpLen)
                throw std::logic_error("IPv4 datagram longer than 65535 bytes");
            hdr.assign(sizeof(struct iphdr), 0);
            hdr[0] = static_cast<uint8_t>(h->version.value_or(4) << 4 |
                                          (h->ihl.value_or(static_cast<uint8_t>(len / 4)) & 0xf));
            hdr[1] = h->tos;
            put16(hdr, 2, h->tot_len.value_or(static_cast<uint16_t>(len + data.size())));
            put16(hdr, 4, h->id);
            put16(hdr, 6,
                  static_cast<uint16_t>((h->evil ? kIpEvil : 0) | (h->df ? kIpDf : 0) |
                                        (h->mf ? kIpMf : 0) | h->frag_off));
            hdr[8] = h->ttl;
            hdr[9] = h->proto.value_or(upper);
            std::copy(h->src.begin(), h->src.end(), hdr.begin() + 12);
            std::copy(h->dst.begin(), h->dst.end(), hdr.begin() + 16);
            append(hdr, h->options);
            uint16_t csum = inet_checksum(hdr) ^ (h->corrupt ? 1 : 0);
            put16(hdr, 10, h->check.value_or(csum));
            ip_hdr_lens[i].push_back(len);
        } else {
            const Ip6 &h6 = std::get<Ip6>(ips_[i]);
            Bytes exts;
            uint8_t last = h6.proto.value_or(upper);
            ip_hdr_lens[i].push_back(sizeof(struct ipv6hdr));
            for (size_t e = 0; e < h6.exts.size(); e++) {
                const Ext6 &x = h6.exts[e];
                size_t total = x.body.size() + 2;
                exts.push_back(e + 1 < h6.exts.size() ? h6.exts[e + 1].type : last);
                exts.push_back(static_cast<uint8_t>(x.ah ? total / 4 - 2 : total / 8 - 1));
                append(exts, x.body);
                ip_hdr_lens[i].push_back(total);
            }
            if (!h6.payload_len && exts.size() + data.size() > kMaxIpLen)
                throw std::logic_error("IPv6 payload longer than 65535 bytes");
            hdr.assign(sizeof(struct ipv6hdr), 0);
            put32(hdr, 0,
                  static_cast<uint32_t>(h6.version.value_or(6)) << 28 |
                      static_cast<uint32_t>(h6.tclass) << 20 | h6.flow);
            put16(hdr, 4,
                  h6.payload_len.value_or(static_cast<uint16_t>(exts.size() + data.size())));
            hdr[6] = h6.next_header.value_or(h6.exts.empty() ? last : h6.exts[0].type);
            hdr[7] = h6.hops;
            std::copy(h6.src.begin(), h6.src.end(), hdr.begin() + 8);
            std::copy(h6.dst.begin(), h6.dst.end(), hdr.begin() + 24);
            append(hdr, exts);
        }
        hdr.insert(hdr.end(), data.begin(), data.end());
        data = std::move(hdr);
    }

    // L2.
    Bytes out;
    if (eth_) {
        uint16_t type = 0;
        if (!ips_.empty())
            type = std::holds_alternative<Ip4>(ips_[0]) ? ETH_P_IP : ETH_P_IPV6;
        type = eth_->type.value_or(type);
        out.assign(ETH_HLEN, 0);
        std::copy(eth_->dst.begin(), eth_->dst.end(), out.begin());
        std::copy(eth_->src.begin(), eth_->src.end(), out.begin() + ETH_ALEN);
        put16(out, 12, vlans_.empty() ? type : vlans_[0].tpid);
        for (size_t v = 0; v < vlans_.size(); v++) {
            size_t at = out.size();
            out.resize(at + 4);
            put16(out, at, vlans_[v].tci);
            put16(out, at + 2, v + 1 < vlans_.size() ? vlans_[v + 1].tpid : type);
        }
    }
    size_t l2_len = out.size();
    append(out, data);
    size_t ip_end = out.size();
    append(out, trailer_);
    if (out.size() < pad_to_)
        out.resize(pad_to_, pad_fill_);

    if (layout) {
        Layout &L = *layout;
        L = Layout{};
        L.size = out.size();
        L.l2_len = l2_len;
        L.ip_end = ip_end;
        if (eth_)
            L.layers.push_back({LayerKind::eth, 0, ETH_HLEN, 0});
        for (size_t v = 0; v < vlans_.size(); v++)
            L.layers.push_back({LayerKind::vlan, ETH_HLEN + 4 * v, 4, 0});
        size_t off = l2_len;
        for (size_t i = 0; i < ips_.size(); i++) {
            bool v4 = std::holds_alternative<Ip4>(ips_[i]);
            L.ip_offs.push_back(off);
            for (size_t j = 0; j < ip_hdr_lens[i].size(); j++) {
                LayerKind k = j > 0 ? LayerKind::ipv6_ext : v4 ? LayerKind::ipv4 : LayerKind::ipv6;
                L.layers.push_back({k, off, ip_hdr_lens[i][j], 0});
                off += ip_hdr_lens[i][j];
            }
        }
        if (!L.ip_offs.empty()) {
            L.l3_off = L.ip_offs.front();
            L.inner_l3_off = L.ip_offs.back();
        }
        if (proto != 0) {
            L.layers.push_back({kind, off, l4_hdr, 0});
            L.l4_off = off;
            L.l4_len = l4_hdr;
            off += l4_hdr;
        }
        L.payload_off = off;
        if (!payload_.empty())
            L.layers.push_back({LayerKind::payload, off, payload_.size(), 0});
        if (quote_) {
            L.quote_off = off;
            for (Layer l : quote_->layers) {
                l.off += off;
                l.depth += 1;
                L.layers.push_back(l);
            }
            if (quote_->l4_off != npos)
                L.quote_l4_off = off + quote_->l4_off;
        }
        if (out.size() > ip_end)
            L.layers.push_back({LayerKind::trailer, ip_end, out.size() - ip_end, 0});
    }
    return out;
}

} // namespace xi::test
