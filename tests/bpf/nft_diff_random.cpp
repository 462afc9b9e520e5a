// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The seeded random cases of the nftables differential test (nft_diff_corpus.h): single
// packets, TCP/UDP/echo exchanges (now and then with an ICMP error about them), fragmented
// datagrams and IPv6 extension headers, between addresses of random roles.
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "nft_diff_corpus.h"

namespace xi::test::nftdiff
{

namespace
{

const std::string &pick(std::mt19937 &rng, const std::vector<std::string> &v)
{
    return v[rng() % v.size()];
}

const std::vector<uint16_t> kPorts = {22,   53,   80,   100,  104,  105,  110,  111,  115,
                                      116,  443,  999,  1000, 1999, 2000, 2500, 5353, 5432,
                                      7000, 7777, 8000, 8079, 8080, 8081, 8443, 8999, 9000,
                                      9049, 9050, 9051, 9100, 9101, 9104, 9105, 9110, 9111};

} // namespace

void random_cases(Corpus &c, uint32_t seed)
{
    std::mt19937 rng(seed);
    // Metadata services and the identities inside them are drawn less often than the others.
    std::vector<std::string> roles;
    for (const auto &[name, pool] : pools())
        if (name != "mapped")
            roles.insert(roles.end(), name == "metadata" || name == "lab" ? 1 : 3, name);
    auto addr_pair = [&](bool v6) {
        for (;;) {
            const auto &a = pools().at(roles[rng() % roles.size()]);
            const auto &b = pools().at(roles[rng() % roles.size()]);
            const auto &pa = v6 ? a.v6 : a.v4, &pb = v6 ? b.v6 : b.v4;
            if (pa.empty() || pb.empty())
                continue;
            std::string s = pick(rng, pa), d = pick(rng, pb);
            if (v6 && rng() % 16 == 0)
                d = pick(rng, pools().at("mapped").v6);
            if (s != d)
                return std::pair{s, d};
        }
    };
    auto port = [&]() -> uint16_t {
        return rng() % 5 ? kPorts[rng() % kPorts.size()] : static_cast<uint16_t>(1 + rng() % 65535);
    };
    auto dir = [&] { return rng() % 2 ? Dir::In : Dir::Out; };

    c.begin("random packets");
    for (int i = 0; i < 520; i++) {
        bool v6 = rng() % 4 == 0;
        auto [s, d] = addr_pair(v6);
        Dir dr = dir();
        switch (rng() % 10) {
        case 0:
        case 1:
        case 2:
        case 3:
            c.add(dr, ip(s, d).tcp(c.port(), port()).syn());
            break;
        case 4:
            c.add(dr, ip(s, d)
                          .tcp(c.port(), port())
                          .tcp_flags(rng() % 2 ? 0x10 : 0x18)
                          .ack(rng())
                          .payload(rng() % 64));
            break;
        case 5:
            c.add(dr, ip(s, d)
                          .tcp(c.port(), port())
                          .tcp_flags(rng() % 2 ? 0x12 : 0x14)
                          .seq(rng())
                          .ack(rng()));
            break;
        case 6:
        case 7:
            c.add(dr, ip(s, d).udp(c.port(), port()).payload(rng() % 100));
            break;
        case 8:
            if (v6)
                c.add(dr, ip(s, d).icmp6_echo_request(c.id(), 1).payload(rng() % 64));
            else
                c.add(dr, ip(s, d).icmp4_echo_request(c.id(), 1).payload(rng() % 64));
            break;
        default: {
            uint8_t proto = rng() % 2 ? 253 : 47;
            c.add(dr, ip(s, d).ip_proto(proto).payload(8 + rng() % 40));
            break;
        }
        }
    }

    c.begin("random exchanges");
    for (int i = 0; i < 90; i++) {
        bool v6 = rng() % 4 == 0;
        auto [s, d] = addr_pair(v6);
        Dir dr = dir();
        Tcp t(c, s, d, port(), dr);
        t.syn().synack().ack().data(false, 1 + rng() % 200);
        if (rng() % 2)
            t.fin(true).ack(false);
        else
            t.data(true, 1 + rng() % 200);
        // Now and then an ICMP error about the opener's segment: from the responder or from a
        // router on the way, back to the opener or (misdirected) somewhere else.
        if (rng() % 3 == 0) {
            std::string from = rng() % 2 ? d : addr_pair(v6).first;
            std::string to = rng() % 3 ? s : addr_pair(v6).second;
            if (from != to) {
                Packet e = ip(from, to);
                if (v6)
                    e.icmp6_packet_too_big(1280).inner(t.quote_a(), 48);
                else
                    e.icmp4_frag_needed(1300).inner(t.quote_a(), 28);
                c.add(other(dr), e);
            }
        }
    }
    for (int i = 0; i < 50; i++) {
        bool v6 = rng() % 4 == 0;
        auto [s, d] = addr_pair(v6);
        Dir dr = dir();
        uint16_t sp = c.port(), dp = port();
        c.add(dr, ip(s, d).udp(sp, dp).payload(10 + rng() % 50));
        c.add(other(dr), ip(d, s).udp(dp, sp).payload(10 + rng() % 50));
        c.add(dr, ip(s, d).udp(sp, dp).payload(10));
    }
    for (int i = 0; i < 40; i++) {
        bool v6 = rng() % 4 == 0;
        auto [s, d] = addr_pair(v6);
        Dir dr = dir();
        uint16_t id = c.id();
        if (v6) {
            c.add(dr, ip(s, d).icmp6_echo_request(id, 1));
            c.add(other(dr), ip(d, s).icmp6_echo_reply(id, 1));
        } else {
            c.add(dr, ip(s, d).icmp4_echo_request(id, 1));
            c.add(other(dr), ip(d, s).icmp4_echo_reply(id, 1));
        }
    }

    c.begin("random fragments");
    for (int i = 0; i < 24; i++) {
        bool v6 = rng() % 3 == 0;
        auto [s, d] = addr_pair(v6);
        if (v6 && s.starts_with("::ffff:")) // mapped sources never reach nf_tables
            continue;
        Packet l4 = v6 ? Packet().ipv6(s, d) : Packet().ipv4(s, d);
        if (rng() % 2)
            l4.tcp(c.port(), port()).syn().payload(60 + rng() % 100);
        else
            l4.udp(c.port(), port()).payload(60 + rng() % 100);
        fragments(c, dir(), l4,
                  rng() % 2 ? std::vector<size_t>{48, 48, 48} : std::vector<size_t>{64, 200});
    }

    c.begin("random extension headers");
    for (int i = 0; i < 30; i++) {
        auto [s, d] = addr_pair(true);
        Packet p = ip(s, d);
        int n = static_cast<int>(rng() % 5);
        if (rng() % 2)
            p.hop_by_hop();
        for (int k = 0; k < n; k++)
            if (rng() % 3)
                p.dest_opts();
            else
                p.ah(static_cast<uint32_t>(rng()), 1);
        c.add(dir(), p.tcp(c.port(), port()).syn());
    }
}

} // namespace xi::test::nftdiff
