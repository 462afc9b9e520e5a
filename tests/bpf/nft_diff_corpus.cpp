// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The corpus's building blocks (nft_diff_corpus.h): adding a step with the facts its packet
// shows, TCP exchanges with consistent sequence numbers and the facts of their order, a
// datagram cut into fragments, and the addresses of each role of diff_config().
#include "nft_diff_corpus.h"

#include <algorithm>
#include <netinet/in.h>

#include "packet_check.h"

namespace xi::test::nftdiff
{

bool is6(const std::string &a)
{
    return a.find(':') != std::string::npos;
}

Packet ip(const std::string &src, const std::string &dst)
{
    Packet p = Packet().eth();
    return is6(src) ? p.ipv6(src, dst) : p.ipv4(src, dst);
}

Dir other(Dir d)
{
    return d == Dir::In ? Dir::Out : Dir::In;
}

void Corpus::add(Dir d, const Packet &p, unsigned facts, int datagram)
{
    Bytes b = p.build();
    auto parsed = parse(b);
    if (const IpInfo *ip = parsed.outer_ip()) {
        // Protocols we do not track: an answer is a packet whose reverse pair was seen.
        uint8_t l4 = ip->l4_proto;
        if (l4 != IPPROTO_TCP && l4 != IPPROTO_UDP && l4 != IPPROTO_ICMP && l4 != IPPROTO_ICMPV6) {
            seen_.insert({l4, ip->src, ip->dst});
            if (seen_.count({l4, ip->dst, ip->src}))
                facts |= kUntrackedReply;
        }
        if (ip->version == 6 && ip->exts.size() > 6)
            facts |= kDeepExtHeaders;
        if (ip->version == 6 && ip->ext(IPPROTO_AH))
            facts |= kAuthHeader;
    }
    cases.back().steps.push_back({d, std::move(b), facts, datagram});
}

Tcp &Tcp::seg(bool from_a, uint8_t flags, size_t payload)
{
    bool syn = flags & 0x02, fin = flags & 0x01, rst = flags & 0x04;
    unsigned facts = 0;
    if (!from_a && !syn && syn_sent_ && !synack_)
        facts |= kTcpResponderEarly;
    if (reset_)
        facts |= kTcpAfterReset;
    if (!started_ && fin && !syn)
        fin_pickup_ = true;
    if (fin_pickup_)
        facts |= kTcpFinPickup;
    started_ = true;
    if (from_a && syn)
        syn_sent_ = true;
    uint32_t &mine = from_a ? sa_ : sb_, &theirs = from_a ? sb_ : sa_;
    Packet p = from_a ? ip(a_, b_).tcp(ap_, bp_) : ip(b_, a_).tcp(bp_, ap_);
    p.tcp_flags(flags).seq(mine);
    if (flags & 0x10)
        p.ack(theirs);
    if (payload)
        p.payload(payload);
    c_.add(from_a ? dir_ : other(dir_), p, facts);
    mine += static_cast<uint32_t>(payload) + (syn || fin ? 1 : 0);
    if (!from_a && syn)
        synack_ = true;
    if (rst)
        reset_ = true;
    return *this;
}

void fragments(Corpus &c, Dir d, const Packet &l4, std::vector<size_t> sizes,
               std::vector<size_t> order, bool hop_by_hop)
{
    unsigned facts = 0;
    Bytes whole = l4.build();
    auto parsed = parse(whole, {.eth = false});
    const IpInfo &iph = *parsed.outer_ip();
    bool v6 = iph.version == 6;
    size_t hl = v6 ? 40 : iph.hdr_len;
    Bytes body(whole.begin() + static_cast<long>(hl), whole.end());
    uint8_t proto = iph.l4_proto;
    uint32_t id = c.id();
    int dg = c.datagram();
    std::vector<std::pair<size_t, size_t>> parts; // offset, length
    size_t off = 0;
    for (size_t i = 0; i < sizes.size() && off < body.size(); i++) {
        size_t n =
            i + 1 == sizes.size() ? body.size() - off : std::min(sizes[i], body.size() - off);
        parts.emplace_back(off, n);
        off += n;
    }
    if (order.empty())
        for (size_t i = 0; i < parts.size(); i++)
            order.push_back(i);
    if (order.front() != 0)
        facts |= kFragOutOfOrder;
    if (proto == IPPROTO_TCP && parts.size() > 1 && parts[0].second < 20)
        facts |= kFragTiny;
    for (size_t i : order) {
        auto [o, n] = parts[i];
        bool more = i + 1 < parts.size();
        Bytes chunk(body.begin() + static_cast<long>(o), body.begin() + static_cast<long>(o + n));
        Packet p = Packet().eth();
        if (v6) {
            p.ipv6(iph.src, iph.dst);
            if (hop_by_hop)
                p.hop_by_hop();
            p.frag6(static_cast<uint16_t>(o / 8), more, id);
        } else {
            p.ipv4(iph.src, iph.dst)
                .ip_id(static_cast<uint16_t>(id))
                .frag_offset(static_cast<uint16_t>(o / 8));
            if (more)
                p.mf();
        }
        c.add(d, p.ip_proto(proto).payload(chunk), facts, dg);
    }
}

const std::map<std::string, Pool> &pools()
{
    static const std::map<std::string, Pool> p = {
        {"edges", {{"10.200.0.1", "10.200.0.77"}, {"fd00:200::1", "fd00:200::abcd"}}},
        {"apps", {{"10.201.0.1", "10.201.0.5", "10.201.0.127"}, {"fd00:201::1", "fd00:201::7fff"}}},
        {"admin", {{"10.201.0.128", "10.201.0.150", "10.201.0.191"}, {"fd00:201::8000"}}},
        {"bastion", {{"10.201.0.192", "10.201.0.255"}, {}}},
        {"dbs", {{"10.202.0.1", "10.202.0.9"}, {"fd00:202::1"}}},
        {"mon", {{"10.203.0.5", "10.203.0.15"}, {"fd00:203::5"}}},
        {"partners", {{"203.0.113.9"}, {"2001:db8:77::9"}}},
        {"linklocal", {{"169.254.1.1"}, {}}},
        {"lab", {{"198.18.0.1", "198.18.0.3"}, {}}},
        {"world",
         {{"198.51.100.7", "8.8.8.8", "10.203.0.16", "10.201.1.1"},
          {"2001:db8::1", "2001:db8:78::1", "fd00:201:0:1::1"}}},
        {"metadata",
         {{"169.254.169.254", "169.254.170.2", "168.63.129.16", "100.100.100.200", "192.0.2.53",
           "198.18.0.5"},
          {"fd00:ec2::254", "::ffff:169.254.169.254", "::ffff:168.63.129.16",
           "::ffff:192.0.2.53"}}},
        {"mapped", {{}, {"::ffff:10.201.0.1", "::ffff:10.200.0.1", "::ffff:198.51.100.7"}}},
    };
    return p;
}

} // namespace xi::test::nftdiff
