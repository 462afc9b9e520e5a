// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The packet builder's assembly: what the setters recorded becomes bytes, from the inside out,
// because every length and checksum depends on what follows it: the L4 header and payload first
// (checksum over the innermost IP header's pseudo-header), then each IP header around it,
// innermost first, then L2, trailer and padding; and, for layout(), where each layer landed.
#include "packet.h"
#include "packet_wire.h"

#include <algorithm>
#include <stdexcept>

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>

namespace xi::test
{

using namespace wire;

namespace
{

constexpr uint8_t kNoNextHeader = 59; // IPPROTO_NONE
constexpr uint8_t kRawProto = 255;    // IPPROTO_RAW: IPv4 with nothing we know after it
constexpr size_t kMaxIpLen = 65535;
constexpr uint16_t kIpEvil = 0x8000, kIpDf = 0x4000, kIpMf = 0x2000;

} // namespace

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
