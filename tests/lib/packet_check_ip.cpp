// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The checker's IP layer (packet_parser.h): the chain of IP headers (encapsulation, and where
// each datagram ends against what its header says), the IPv4 header with its checksum, and the
// IPv6 header with its extension headers (bounded walk, lengths, option TLVs, fragment, routing
// and AH fields).
#include "packet_parser.h"

#include <algorithm>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace xi::test::check_detail
{

namespace
{

constexpr unsigned kMaxEncap = 8; // nested IP headers followed
constexpr unsigned kMaxExt = 16;  // IPv6 extension headers followed

std::string addr_text(uint8_t version, const uint8_t *a)
{
    char buf[INET6_ADDRSTRLEN] = "?";
    inet_ntop(version == 4 ? AF_INET : AF_INET6, a, buf, sizeof(buf));
    return buf;
}

bool is_ext(uint8_t nh)
{
    // Mobility (135), HIP (139), Shim6 (140) use the generic 8-octet length format too.
    return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_FRAGMENT ||
           nh == IPPROTO_DSTOPTS || nh == IPPROTO_AH || nh == 135 || nh == 139 || nh == 140;
}

} // namespace

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

} // namespace xi::test::check_detail
