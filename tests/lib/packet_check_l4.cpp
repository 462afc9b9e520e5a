// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The checker's L4 layer (packet_parser.h): TCP (data offset, options and their sizes), UDP
// (length), ICMP and ICMPv6 (an error's quoted datagram is parsed again, one level deeper), the
// payload, and the L4 checksums with the v4/v6 pseudo-headers.
#include "packet_parser.h"

#include <algorithm>
#include <array>
#include <memory>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace xi::test::check_detail
{

namespace
{

constexpr unsigned kMaxQuote = 2; // ICMP errors inside quoted datagrams

} // namespace

void Parser::payload(size_t off, size_t end)
{
    if (off > end)
        off = end;
    out_.payload_off = off;
    out_.payload_len = end - off;
    if (end > off)
        region("payload", "payload", off, end - off, end);
}

uint32_t Parser::l4_sum(const IpInfo &ip, uint8_t proto, size_t off, size_t end, bool pseudo) const
{
    uint64_t s = ones_sum(buf_.subspan(off, end - off));
    if (pseudo) {
        size_t alen = ip.version == 4 ? 4 : 16;
        std::array<uint8_t, 16> dst = ip.dst_raw;
        if (ip.version == 6)
            inet_pton(AF_INET6, ip.final_dst.c_str(), dst.data());
        s += ones_sum(std::span<const uint8_t>(ip.src_raw.data(), alen));
        s += ones_sum(std::span<const uint8_t>(dst.data(), alen));
        uint64_t len = end - off; // upper-layer length: 16 bits (v4) or 32 bits (v6)
        s += proto + (len >> 16) + (len & 0xffff);
    }
    return fold(s);
}

void Parser::verify_l4(const IpInfo &ip, const char *name, uint8_t proto, size_t off, size_t end,
                       size_t csum_at, bool pseudo)
{
    uint32_t s = l4_sum(ip, proto, off, end, pseudo);
    out_.l4_checksum_verified = true;
    if (s == 0xffff)
        return;
    uint16_t field = rd16(at(off + csum_at));
    uint32_t without = fold(s + (~field & 0xffff));
    problem(strf("%s: checksum 0x%04x, expected 0x%04x", name, field, ~without & 0xffff));
}

void Parser::l4(const IpInfo &ip, size_t off, size_t end)
{
    out_.l4_proto = ip.l4_proto;
    // A cut quote: headers may be partial, lengths and checksums cannot be checked.
    bool partial = ip.truncated;
    bool verify = !partial && !ip.more_fragments();
    switch (ip.l4_proto) {
    case IPPROTO_TCP:
        tcp(ip, off, end, partial, verify);
        return;
    case IPPROTO_UDP:
        udp(ip, off, end, partial, verify);
        return;
    case IPPROTO_ICMP:
        icmp(ip, off, end, partial, verify, 4);
        return;
    case IPPROTO_ICMPV6:
        icmp(ip, off, end, partial, verify, 6);
        return;
    default:
        payload(off, end);
    }
}

void Parser::tcp(const IpInfo &ip, size_t off, size_t end, bool partial, bool verify)
{
    size_t avail = end - off;
    out_.l4_off = off;
    if (avail < 20 && !partial) {
        problem(strf("tcp: header truncated (%zu of 20 bytes)", avail));
        region("tcp", "tcp", off, 20, end);
        return;
    }
    if (partial && avail < 20) {
        out_.l4_truncated = true;
        if (avail < 8)
            problem(strf("tcp: only %zu bytes of the quoted header (< 8)", avail));
    }
    std::array<uint8_t, 60> h{};
    std::copy_n(at(off), std::min(avail, h.size()), h.begin());
    TcpInfo t;
    t.sport = rd16(&h[0]);
    t.dport = rd16(&h[2]);
    t.seq = rd32(&h[4]);
    t.ack = rd32(&h[8]);
    t.doff = h[12] >> 4;
    t.flags = h[13];
    t.window = rd16(&h[14]);
    t.checksum = rd16(&h[16]);
    t.urg_ptr = rd16(&h[18]);
    size_t hlen = t.doff * 4u;
    bool ok = true;
    if (avail >= 13 && t.doff < 5) {
        problem(strf("tcp: doff %u < 5", t.doff));
        hlen = 20;
        ok = false;
    } else if (hlen > avail) {
        if (partial) {
            out_.l4_truncated = true;
        } else {
            problem(
                strf("tcp: doff %u says %zu header bytes, segment has %zu", t.doff, hlen, avail));
            ok = false;
        }
    }
    if (avail < 13)
        hlen = 20;
    out_.l4_len = hlen;
    region("tcp", "tcp", off, hlen, end);

    size_t lim = std::min(hlen, avail);
    for (size_t i = 20; ok && i < lim;) {
        uint8_t kind = h[i];
        if (kind == 0 || kind == 1) {
            t.options.push_back(TcpOptionInfo{kind, {}});
            if (kind == 0)
                break;
            i++;
            continue;
        }
        if (i + 2 > lim || h[i + 1] < 2 || i + h[i + 1] > lim) {
            if (!(partial && i + 2 > lim))
                problem(strf("tcp: option kind %u at +%zu has a bad length", kind, i));
            break;
        }
        uint8_t len = h[i + 1];
        TcpOptionInfo o{kind, std::vector<uint8_t>(h.begin() + static_cast<long>(i) + 2,
                                                   h.begin() + static_cast<long>(i) + len)};
        bool size_ok = true;
        switch (kind) {
        case 2:
            size_ok = len == 4;
            if (size_ok)
                t.mss = rd16(&o.data[0]);
            break;
        case 3:
            size_ok = len == 3;
            if (size_ok)
                t.wscale = o.data[0];
            break;
        case 4:
            size_ok = len == 2;
            t.sack_perm = size_ok;
            break;
        case 5:
            size_ok = len >= 10 && (len - 2) % 8 == 0;
            for (size_t b = 0; size_ok && b + 8 <= o.data.size(); b += 8)
                t.sack.emplace_back(rd32(&o.data[b]), rd32(&o.data[b + 4]));
            break;
        case 8:
            size_ok = len == 10;
            if (size_ok)
                t.ts = std::make_pair(rd32(&o.data[0]), rd32(&o.data[4]));
            break;
        default:
            break;
        }
        if (!size_ok)
            problem(strf("tcp: option kind %u has length %u", kind, len));
        t.options.push_back(std::move(o));
        i += len;
    }
    out_.tcp = t;
    if (verify && ok)
        verify_l4(ip, "tcp", IPPROTO_TCP, off, end, 16, true);
    payload(std::min(off + hlen, end), end);
}

void Parser::udp(const IpInfo &ip, size_t off, size_t end, bool partial, bool verify)
{
    size_t avail = end - off;
    out_.l4_off = off;
    out_.l4_len = 8;
    region("udp", "udp", off, 8, end);
    if (avail < 8) {
        problem(strf("udp: header truncated (%zu of 8 bytes)", avail));
        if (!partial)
            return;
        out_.l4_truncated = true;
    }
    std::array<uint8_t, 8> h{};
    std::copy_n(at(off), std::min(avail, h.size()), h.begin());
    UdpInfo u{rd16(&h[0]), rd16(&h[2]), rd16(&h[4]), rd16(&h[6])};
    out_.udp = u;
    bool ok = true;
    if (!partial && u.len < 8) {
        problem(strf("udp: length %u < 8", u.len));
        ok = false;
    } else if (!partial && !ip.more_fragments() && u.len != avail) {
        problem(strf("udp: length %u but the IP payload is %zu bytes", u.len, avail));
        ok = false;
    }
    if (verify && ok) {
        if (u.checksum == 0) {
            if (ip.version == 6)
                problem("udp: zero checksum over IPv6");
        } else {
            verify_l4(ip, "udp", IPPROTO_UDP, off, end, 6, true);
        }
    }
    payload(std::min(off + 8, end), end);
}

void Parser::icmp(const IpInfo &ip, size_t off, size_t end, bool partial, bool verify, uint8_t ver)
{
    const char *name = ver == 4 ? "icmp4" : "icmp6";
    size_t avail = end - off;
    out_.l4_off = off;
    out_.l4_len = 8;
    region(name, name, off, 8, end);
    if (ip.version != ver)
        problem(strf("%s: carried by IPv%u", name, ip.version));
    if (avail < 8) {
        if (partial)
            out_.l4_truncated = true;
        problem(strf("%s: header truncated (%zu of 8 bytes)", name, avail));
        if (!partial || avail < 4)
            return;
    }
    std::array<uint8_t, 8> h{};
    std::copy_n(at(off), std::min(avail, h.size()), h.begin());
    IcmpInfo c;
    c.version = ver;
    c.type = h[0];
    c.code = h[1];
    c.checksum = rd16(&h[2]);
    c.rest = rd32(&h[4]);
    out_.icmp = c;
    if (verify && ip.version == ver)
        verify_l4(ip, name, ver == 4 ? uint8_t{IPPROTO_ICMP} : uint8_t{IPPROTO_ICMPV6}, off, end, 2,
                  ver == 6);
    size_t data = std::min(off + 8, end);
    payload(data, end);
    if (!c.is_error() || partial || depth_ >= kMaxQuote)
        return;
    if (data == end) {
        problem(strf("%s: error type %u quotes no datagram", name, c.type));
        return;
    }
    auto q = std::make_shared<ParsedPacket>();
    Parser sub(buf_, *q, depth_ + 1);
    sub.ip_chain(data, end, ver);
    for (const Region &r : q->regions) {
        Region copy = r;
        copy.name = "quoted." + r.name;
        out_.regions.push_back(std::move(copy));
    }
    for (const std::string &p : q->problems)
        problem("quoted: " + p);
    out_.quoted = std::move(q);
}

} // namespace xi::test::check_detail
