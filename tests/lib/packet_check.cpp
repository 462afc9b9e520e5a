// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "packet_check.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include <arpa/inet.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/if_ether.h>
#include <netinet/in.h>

namespace xi::test
{

namespace
{

constexpr unsigned kMaxEncap = 8; // nested IP headers followed
constexpr unsigned kMaxExt = 16;  // IPv6 extension headers followed
constexpr unsigned kMaxQuote = 2; // ICMP errors inside quoted datagrams
constexpr size_t kEthMin = 60;    // minimum frame without FCS
constexpr uint16_t kTpidQinQOld = 0x9100;

std::string strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
std::string strf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return buf;
}

uint16_t rd16(const uint8_t *p)
{
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

uint32_t rd32(const uint8_t *p)
{
    return static_cast<uint32_t>(rd16(p)) << 16 | rd16(p + 2);
}

uint32_t fold(uint64_t s)
{
    while (s > 0xffff)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint32_t>(s);
}

std::string addr_text(uint8_t version, const uint8_t *a)
{
    char buf[INET6_ADDRSTRLEN] = "?";
    inet_ntop(version == 4 ? AF_INET : AF_INET6, a, buf, sizeof(buf));
    return buf;
}

bool is_tpid(uint16_t t)
{
    return t == ETH_P_8021Q || t == ETH_P_8021AD || t == kTpidQinQOld;
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

bool is_ext(uint8_t nh)
{
    // Mobility (135), HIP (139), Shim6 (140) use the generic 8-octet length format too.
    return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_FRAGMENT ||
           nh == IPPROTO_DSTOPTS || nh == IPPROTO_AH || nh == 135 || nh == 139 || nh == 140;
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

void Parser::ip_chain(size_t off, size_t end, uint8_t hint)
{
    quoted_ = depth_ > 0;
    for (unsigned n = 0; n < kMaxEncap; n++) {
        size_t idx = out_.ips.size();
        if (off >= end) {
            problem(strf("ip[%zu]: missing (no bytes left)", idx));
            return;
        }
        uint8_t version = buf_[off] >> 4;
        if (hint == 0 && version != 4 && version != 6) {
            problem(strf("ip[%zu]: IP version %u", idx, version));
            return;
        }
        if (hint != 0 && version != hint) {
            problem(strf("ip[%zu]: version %u where IPv%u is expected", idx, version, hint));
            return;
        }
        std::string name = strf("ipv%u[%zu]", version, idx);
        IpInfo ip;
        ip.version = version;
        ip.off = off;
        bool ok = version == 4 ? ipv4(ip, name, end) : ipv6(ip, name, end);
        out_.ips.push_back(ip);
        if (!ok)
            return;

        // Where this datagram ends, and what the header says about it against what is there.
        size_t avail = end - off;
        size_t dgram_end = end;
        if (ip.datagram_len < ip.hdr_len) {
            problem(strf("%s: length %zu is shorter than its headers (%zu)", name.c_str(),
                         ip.datagram_len, ip.hdr_len));
            dgram_end = off + ip.hdr_len;
        } else if (ip.datagram_len > avail) {
            if (quoted_)
                out_.ips.back().truncated = true;
            else
                problem(strf("%s: length %zu but only %zu bytes present", name.c_str(),
                             ip.datagram_len, avail));
        } else if (ip.datagram_len < avail) {
            dgram_end = off + ip.datagram_len;
            if (idx > 0)
                problem(strf("%s: length %zu but the outer header carries %zu bytes", name.c_str(),
                             ip.datagram_len, avail));
            else if (quoted_)
                problem(strf("%s: quoted datagram of %zu bytes followed by %zu more", name.c_str(),
                             ip.datagram_len, avail - ip.datagram_len));
        }
        if (idx == 0)
            out_.ip_end = dgram_end;

        size_t next = off + ip.hdr_len;
        if (ip.later_fragment()) {
            out_.l4_proto = ip.l4_proto;
            payload(next, dgram_end);
            return;
        }
        if (ip.l4_proto == IPPROTO_IPIP || ip.l4_proto == IPPROTO_IPV6) {
            hint = ip.l4_proto == IPPROTO_IPIP ? 4 : 6;
            off = next;
            end = dgram_end;
            continue;
        }
        l4(out_.ips.back(), next, dgram_end);
        return;
    }
    problem(strf("more than %u nested IP headers", kMaxEncap));
}

bool Parser::ipv4(IpInfo &ip, const std::string &name, size_t end)
{
    size_t off = ip.off;
    size_t avail = end - off;
    if (avail < 20) {
        problem(strf("%s: header truncated (%zu of 20 bytes)", name.c_str(), avail));
        region(name, "ipv4", off, 20, end);
        return false;
    }
    const uint8_t *h = at(off);
    ip.ihl = h[0] & 0xf;
    ip.tos = h[1];
    ip.tot_len = rd16(h + 2);
    ip.id = rd16(h + 4);
    uint16_t frag = rd16(h + 6);
    ip.rf = frag & 0x8000;
    ip.df = frag & 0x4000;
    ip.mf = frag & 0x2000;
    ip.frag_offset = frag & 0x1fff;
    ip.ttl = h[8];
    ip.proto = ip.l4_proto = h[9];
    ip.checksum = rd16(h + 10);
    std::copy_n(h + 12, 4, ip.src_raw.begin());
    std::copy_n(h + 16, 4, ip.dst_raw.begin());
    ip.src = addr_text(4, h + 12);
    ip.dst = ip.final_dst = addr_text(4, h + 16);
    ip.datagram_len = ip.tot_len;
    if (ip.ihl < 5) {
        problem(strf("%s: ihl %u < 5", name.c_str(), ip.ihl));
        region(name, "ipv4", off, 20, end);
        return false;
    }
    ip.hdr_len = ip.ihl * 4u;
    region(name, "ipv4", off, ip.hdr_len, end);
    if (ip.hdr_len > avail) {
        problem(strf("%s: ihl %u says %zu header bytes, %zu present", name.c_str(), ip.ihl,
                     ip.hdr_len, avail));
        return false;
    }
    ip.options.assign(h + 20, h + ip.hdr_len);
    if (ones_sum(buf_.subspan(off, ip.hdr_len)) != 0xffff) {
        uint32_t without = fold(ones_sum(buf_.subspan(off, ip.hdr_len)) + (~ip.checksum & 0xffff));
        problem(strf("%s: header checksum 0x%04x, expected 0x%04x", name.c_str(), ip.checksum,
                     ~without & 0xffff));
    }
    if (ip.rf)
        problem(strf("%s: reserved flag set", name.c_str()));
    return true;
}

bool Parser::ipv6(IpInfo &ip, const std::string &name, size_t end)
{
    size_t off = ip.off;
    size_t avail = end - off;
    region(name, "ipv6", off, 40, end);
    if (avail < 40) {
        problem(strf("%s: header truncated (%zu of 40 bytes)", name.c_str(), avail));
        return false;
    }
    const uint8_t *h = at(off);
    uint32_t w0 = rd32(h);
    ip.tos = static_cast<uint8_t>(w0 >> 20);
    ip.flow_label = w0 & 0xfffff;
    ip.payload_len = rd16(h + 4);
    ip.proto = h[6];
    ip.ttl = h[7];
    std::copy_n(h + 8, 16, ip.src_raw.begin());
    std::copy_n(h + 24, 16, ip.dst_raw.begin());
    ip.src = addr_text(6, h + 8);
    ip.dst = ip.final_dst = addr_text(6, h + 24);
    ip.datagram_len = 40u + ip.payload_len;
    size_t limit = std::min(end, off + ip.datagram_len); // extension headers must fit in both

    uint8_t nh = ip.proto;
    size_t cur = off + 40;
    bool final_set = false;
    unsigned n = 0;
    for (; n < kMaxExt && is_ext(nh); n++) {
        std::string en = name + "." + ext_name(nh);
        if (cur + 2 > limit) {
            if (!(quoted_ && cur + 2 > end))
                problem(strf("%s: extension header truncated", en.c_str()));
            region(en, "ipv6_ext", cur, 8, limit);
            return false;
        }
        Ipv6ExtInfo x;
        x.type = nh;
        x.next = buf_[cur];
        x.off = cur;
        if (nh == IPPROTO_FRAGMENT)
            x.len = 8;
        else if (nh == IPPROTO_AH)
            x.len = (buf_[cur + 1] + 2u) * 4;
        else
            x.len = (buf_[cur + 1] + 1u) * 8;
        region(en, "ipv6_ext", cur, x.len, limit);
        if (cur + x.len > limit) {
            if (!(quoted_ && cur + x.len > end))
                problem(strf("%s: %zu bytes, only %zu present", en.c_str(), x.len, limit - cur));
            return false;
        }
        const uint8_t *e = at(cur);
        x.data.assign(e + 2, e + x.len);
        if (nh == IPPROTO_HOPOPTS && n > 0)
            problem(strf("%s: hop-by-hop header not first", en.c_str()));
        if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_DSTOPTS) {
            for (size_t j = 2; j < x.len;) {
                if (e[j] == 0) { // Pad1
                    j++;
                    continue;
                }
                if (j + 2 > x.len || j + 2 + e[j + 1] > x.len) {
                    problem(strf("%s: option type %u at +%zu overruns the header", en.c_str(), e[j],
                                 j));
                    break;
                }
                j += 2u + e[j + 1];
            }
        } else if (nh == IPPROTO_FRAGMENT) {
            uint16_t fo = rd16(e + 2);
            x.frag_offset = fo >> 3;
            x.more = fo & 1;
            x.frag_id = rd32(e + 4);
        } else if (nh == IPPROTO_ROUTING) {
            x.routing_type = e[2];
            x.segments_left = e[3];
            size_t count = (x.len - 8) / 16;
            for (size_t k = 0; k < count; k++)
                x.addrs.push_back(addr_text(6, e + 8 + 16 * k));
            // RFC 8200 8.1: the pseudo-header uses the final destination.
            if (!final_set && x.segments_left > 0 && count > 0) {
                ip.final_dst = x.routing_type == 4 ? x.addrs.front() : x.addrs.back();
                final_set = true;
            }
        } else if (nh == IPPROTO_AH) {
            x.spi = rd32(e + 4);
            x.ah_seq = rd32(e + 8);
        }
        ip.exts.push_back(std::move(x));
        nh = e[0];
        cur += ip.exts.back().len;
    }
    if (n == kMaxExt && is_ext(nh)) {
        problem(strf("%s: more than %u extension headers", name.c_str(), kMaxExt));
        return false;
    }
    ip.l4_proto = nh;
    ip.hdr_len = cur - off;
    return true;
}

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

std::string tcp_flags_text(uint8_t f)
{
    static const char letters[] = "FSRPAUEC";
    std::string s;
    for (int i = 0; i < 8; i++) {
        if (f & (1 << i))
            s += letters[i];
    }
    return s.empty() ? "none" : s;
}

std::string mac_text(const std::array<uint8_t, 6> &m)
{
    return strf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

// Field name of byte `rel` inside a region of `kind`.
std::string field_name(const std::string &kind, size_t rel)
{
    struct Field {
        size_t end;
        const char *name;
    };
    static const Field eth[] = {{6, "dst"}, {12, "src"}, {14, "type"}};
    static const Field vlan[] = {{2, "tci"}, {4, "type"}};
    static const Field ipv4[] = {{1, "version/ihl"}, {2, "tos"},       {4, "tot_len"},
                                 {6, "id"},          {8, "frag_off"},  {9, "ttl"},
                                 {10, "protocol"},   {12, "checksum"}, {16, "saddr"},
                                 {20, "daddr"},      {60, "options"}};
    static const Field ipv6[] = {{4, "version/tclass/flow"}, {6, "payload_len"}, {7, "nexthdr"},
                                 {8, "hop_limit"},           {24, "saddr"},      {40, "daddr"}};
    static const Field ext[] = {{1, "nexthdr"}, {2, "hdrlen"}, {2048, "data"}};
    static const Field tcp[] = {{2, "sport"},    {4, "dport"},   {8, "seq"},     {12, "ack_seq"},
                                {13, "doff"},    {14, "flags"},  {16, "window"}, {18, "checksum"},
                                {20, "urg_ptr"}, {60, "options"}};
    static const Field udp[] = {{2, "sport"}, {4, "dport"}, {6, "len"}, {8, "checksum"}};
    static const Field icmp[] = {{1, "type"}, {2, "code"}, {4, "checksum"}, {8, "rest"}};
    std::span<const Field> table;
    if (kind == "eth")
        table = eth;
    else if (kind == "vlan")
        table = vlan;
    else if (kind == "ipv4")
        table = ipv4;
    else if (kind == "ipv6")
        table = ipv6;
    else if (kind == "ipv6_ext")
        table = ext;
    else if (kind == "tcp")
        table = tcp;
    else if (kind == "udp")
        table = udp;
    else if (kind == "icmp4" || kind == "icmp6")
        table = icmp;
    for (const Field &f : table) {
        if (rel < f.end)
            return f.name;
    }
    return "";
}

} // namespace

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
    return static_cast<uint16_t>(fold((hi << 8) + lo));
}

ParsedPacket parse(std::span<const uint8_t> pkt, ParseOptions opts)
{
    ParsedPacket out;
    Parser p(pkt, out, 0);
    p.top(opts);
    return out;
}

std::vector<std::string> check(std::span<const uint8_t> pkt, ParseOptions opts)
{
    return parse(pkt, opts).problems;
}

std::string summary(const ParsedPacket &p)
{
    std::string s;
    auto sep = [&s] {
        if (!s.empty())
            s += " | ";
    };
    if (p.has_eth) {
        s += "eth " + mac_text(p.eth.src) + " > " + mac_text(p.eth.dst);
        for (const VlanInfo &v : p.vlans) {
            sep();
            s += strf("%s %u", v.tpid == ETH_P_8021Q ? "vlan" : "svlan", v.vid);
            if (v.pcp || v.dei)
                s += strf(" pcp %u%s", v.pcp, v.dei ? " dei" : "");
        }
        if (p.ethertype != ETH_P_IP && p.ethertype != ETH_P_IPV6) {
            sep();
            s += strf("type 0x%04x", p.ethertype);
        }
    }
    for (const IpInfo &ip : p.ips) {
        sep();
        s += strf("ipv%u %s > %s ttl %u", ip.version, ip.src.c_str(), ip.dst.c_str(), ip.ttl);
        if (ip.tos)
            s += strf(" tos 0x%02x", ip.tos);
        if (ip.version == 4 && (ip.mf || ip.frag_offset))
            s += strf(" frag %u%s", ip.frag_offset * 8u, ip.mf ? "+" : "");
        if (ip.version == 4 && !ip.options.empty())
            s += strf(" opts %zu", ip.options.size());
        for (const Ipv6ExtInfo &x : ip.exts)
            s += std::string(" ") + ext_name(x.type);
    }
    if (p.tcp) {
        sep();
        if (p.l4_truncated)
            s += strf("tcp %u > %u (cut) seq %u", p.tcp->sport, p.tcp->dport, p.tcp->seq);
        else
            s += strf("tcp %u > %u [%s] seq %u", p.tcp->sport, p.tcp->dport,
                      tcp_flags_text(p.tcp->flags).c_str(), p.tcp->seq);
        if (p.tcp->ack_flag())
            s += strf(" ack %u", p.tcp->ack);
        if (p.tcp->mss)
            s += strf(" mss %u", *p.tcp->mss);
        if (p.tcp->wscale)
            s += strf(" ws %u", *p.tcp->wscale);
    } else if (p.udp) {
        sep();
        s += strf("udp %u > %u", p.udp->sport, p.udp->dport);
    } else if (p.icmp) {
        sep();
        s += strf("icmp%s type %u code %u", p.icmp->version == 6 ? "6" : "", p.icmp->type,
                  p.icmp->code);
    }
    if (p.quoted) {
        sep();
        s += "quoted [" + summary(*p.quoted) + "]";
    } else if (p.payload_len) {
        sep();
        s += strf("payload %zu", p.payload_len);
    }
    if (p.trailer_len) {
        sep();
        s += strf("%s %zu", p.trailer_is_padding ? "padding" : "trailer", p.trailer_len);
    }
    if (!p.problems.empty())
        s += strf(" (%zu problems)", p.problems.size());
    return s;
}

std::string hexdump(std::span<const uint8_t> pkt)
{
    std::string s;
    for (size_t row = 0; row < pkt.size(); row += 16) {
        s += strf("%04zx ", row);
        std::string ascii;
        for (size_t i = row; i < row + 16; i++) {
            if (i < pkt.size()) {
                s += strf(" %02x", pkt[i]);
                ascii += pkt[i] >= 0x20 && pkt[i] < 0x7f ? static_cast<char>(pkt[i]) : '.';
            } else {
                s += "   ";
            }
        }
        s += "  " + ascii + "\n";
    }
    return s;
}

std::string describe_offset(std::span<const uint8_t> pkt, size_t off, ParseOptions opts)
{
    ParsedPacket p = parse(pkt, opts);
    const Region *best = nullptr;
    for (const Region &r : p.regions) {
        if (off >= r.off && off < r.off + r.len && (!best || r.depth >= best->depth))
            best = &r;
    }
    if (!best)
        return off >= pkt.size() ? "past the end" : "outside any header";
    std::string f = field_name(best->kind, off - best->off);
    return strf("%s +%zu", best->name.c_str(), off - best->off) + (f.empty() ? "" : " (" + f + ")");
}

std::string hexdiff(std::span<const uint8_t> expected, std::span<const uint8_t> actual,
                    ParseOptions opts)
{
    if (std::equal(expected.begin(), expected.end(), actual.begin(), actual.end()))
        return "";
    size_t n = std::min(expected.size(), actual.size());
    size_t first =
        std::mismatch(expected.begin(), expected.begin() + static_cast<long>(n), actual.begin())
            .first -
        expected.begin();
    std::string s = strf("expected %zu bytes, actual %zu bytes; first difference at offset %zu",
                         expected.size(), actual.size(), first);
    if (first < n)
        s += strf(" (0x%02x vs 0x%02x)", expected[first], actual[first]);
    s += ": " + describe_offset(first < expected.size() ? expected : actual, first, opts) + "\n";
    s += "expected: " + summary(parse(expected, opts)) + "\n";
    s += "actual:   " + summary(parse(actual, opts)) + "\n";

    auto side = [](std::span<const uint8_t> b, size_t row) {
        std::string t;
        for (size_t i = row; i < row + 16; i++)
            t += i < b.size() ? strf(" %02x", b[i]) : "   ";
        return t;
    };
    s += strf("%-6s%-48s |%s\n", "off", " expected", " actual");
    size_t rows = std::max(expected.size(), actual.size());
    for (size_t row = 0; row < rows; row += 16) {
        s += strf("%04zx  %s |%s\n", row, side(expected, row).c_str(), side(actual, row).c_str());
        std::string marks;
        bool any = false;
        for (size_t i = row; i < row + 16; i++) {
            bool in_e = i < expected.size(), in_a = i < actual.size();
            bool diff = in_e != in_a || (in_e && in_a && expected[i] != actual[i]);
            marks += diff && (in_e || in_a) ? " ^^" : "   ";
            any = any || (diff && (in_e || in_a));
        }
        if (any) {
            while (!marks.empty() && marks.back() == ' ')
                marks.pop_back();
            s += "      " + marks + std::string(48 - std::min<size_t>(48, marks.size()), ' ');
            s += " |" + marks + "\n";
        }
    }
    return s;
}

} // namespace xi::test
