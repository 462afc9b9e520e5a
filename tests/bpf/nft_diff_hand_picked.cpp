// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The hand-picked cases of the nftables differential test (nft_diff_corpus.h): every rule
// shape and precedence of diff_config() in both directions, metadata services in every form,
// reply-only roles (new, established, forged), UDP and ICMP echo exchanges, ICMP errors,
// fragments, IPv6 extension headers, neighbour discovery, IPv4 options.
#include <string>
#include <tuple>

#include "nft_diff_corpus.h"

namespace xi::test::nftdiff
{

namespace
{

const std::string kEdge = "10.200.0.1", kEdge6 = "fd00:200::1", kApp = "10.201.0.1",
                  kApp6 = "fd00:201::1", kApp2 = "10.201.0.5", kDb = "10.202.0.1",
                  kDb6 = "fd00:202::1", kMon = "10.203.0.5", kAdmin = "10.201.0.150",
                  kBastion = "10.201.0.200", kPartner = "203.0.113.9", kWorld = "198.51.100.7",
                  kWorld6 = "2001:db8::1";

} // namespace

void hand_picked(Corpus &c)
{
    auto single = [&](const std::string &name, Dir d, const std::string &src,
                      const std::string &dst, uint16_t dport) {
        c.begin(name);
        Tcp(c, src, dst, dport, d).syn();
    };
    // Rule shapes and precedence, both directions.
    for (Dir d : {Dir::In, Dir::Out}) {
        for (uint16_t port :
             {8080, 9000, 9049, 9050, 9051, 9100, 9101, 8999, 8000, 8081, 8500, 8443, 22, 7777})
            single("edges->apps tcp " + std::to_string(port), d, kEdge, kApp, port);
        for (uint16_t port : {8080, 9050, 8081, 8443, 22})
            single("edges->apps v6 tcp " + std::to_string(port), d, kEdge6, kApp6, port);
        for (uint16_t port : {99, 100, 104, 105, 110, 111, 115, 116, 9105, 9104, 22})
            single("edges->mon tcp " + std::to_string(port), d, kEdge, kMon, port);
        for (uint16_t port : {22, 5432, 53})
            single("edges->dbs tcp " + std::to_string(port), d, kEdge, kDb, port);
        for (const std::string &src :
             {kAdmin, kBastion, kApp2, std::string("10.201.0.191"), std::string("10.201.0.192")})
            single(std::string("LPM ") + src + "->dbs tcp 22", d, src, kDb, 22);
        for (uint16_t port : {9100, 9105, 9110, 9111})
            single("mon->mon tcp " + std::to_string(port), d, kMon, "10.203.0.15", port);
        single("world->edges 443", d, kWorld, kEdge, 443);
        single("world->edges 80", d, kWorld, kEdge, 80);
        single("world->apps 8443", d, kWorld, kApp, 8443);
        single("world6->apps6 8443", d, kWorld6, kApp6, 8443);
        single("mon boundary: 10.203.0.16 is world", d, "10.203.0.16", kApp, 9100);
        single("lab->world 7000", d, "198.18.0.1", kWorld, 7000);
        single("linklocal->apps 8443", d, "169.254.1.1", kApp, 8443);
        single("v4-mapped destination is the IPv4 identity", d, kEdge6, "::ffff:10.201.0.1", 8080);
        single("v4-mapped source", d, "::ffff:10.200.0.1", kApp6, 8080);
        c.begin("udp shapes");
        for (auto [src, dst, port] : {std::tuple{kEdge, kDb, 53},
                                      {kMon, kDb, 1000},
                                      {kMon, kDb, 1999},
                                      {kMon, kDb, 2000},
                                      {kMon, kDb, 2500},
                                      {kMon, kDb, 2501},
                                      {kEdge, kApp, 53},
                                      {kPartner, kApp, 53},
                                      {kEdge6, kDb6, 53}})
            c.add(d, ip(src, dst).udp(c.port(), static_cast<uint16_t>(port)).payload(12));
        c.begin("any protocol and icmp");
        c.add(d, ip(kPartner, kApp).icmp4_echo_request(c.id(), 1));
        c.add(d, ip(kPartner, kApp).ip_proto(253).payload(16));
        c.add(d, ip(kPartner, kApp).ip_proto(47).payload(16));
        c.add(d, ip(kBastion, kWorld).ip_proto(253).payload(16));
        c.add(d, ip(kEdge, kApp).ip_proto(253).payload(16));
        c.add(d, ip(kWorld, kApp).icmp4_echo_request(c.id(), 1));
        c.add(d, ip(kWorld6, kApp6).icmp6_echo_request(c.id(), 1));
        c.add(d, ip(kEdge6, kApp6).icmp6_echo_request(c.id(), 1));
        c.add(d, ip(kEdge, kApp).icmp4(13, 0)); // timestamp: icmp, not echo
    }

    // Metadata services in every form, both ways, whatever the protocol or the rules say.
    c.begin("metadata");
    for (Dir d : {Dir::In, Dir::Out}) {
        for (const auto &m : pools().at("metadata").v4) {
            c.add(d, ip(kApp, m).tcp(c.port(), 80).syn());
            c.add(d, ip(m, kApp).tcp(80, c.port()).syn().ack(5));
            c.add(d, ip(kEdge, m).udp(c.port(), 53).payload(8));
            c.add(d, ip(kBastion, m).icmp4_echo_request(c.id(), 1));
        }
        for (const auto &m : pools().at("metadata").v6) {
            c.add(d, ip(kApp6, m).tcp(c.port(), 80).syn());
            c.add(d, ip(kEdge6, m).icmp6_echo_request(c.id(), 1));
        }
        c.add(d, ip("fd00:ec2::254", kApp6).tcp(80, c.port()).syn().ack(9));
        c.add(d, ip("198.18.0.2", kWorld).tcp(c.port(), 7000).syn()); // lab, inside metadata
    }

    // Reply-only: new vs established vs forged.
    {
        c.begin("tcp handshake, data, close");
        Tcp(c, kEdge, kApp, 8080, Dir::In)
            .syn()
            .synack()
            .ack()
            .data(true, 100)
            .data(false, 300)
            .fin(true)
            .ack(false)
            .fin(false)
            .ack(true);
        c.begin("tcp v6 handshake");
        Tcp(c, kEdge6, kApp6, 9000, Dir::In).syn().synack().ack().data(false, 50);
        c.begin("denied opener, reply-only answer");
        Tcp(c, kEdge, kApp, 9050, Dir::In).syn().synack().ack();
        c.begin("reply-only opens");
        Tcp(c, kApp, kEdge, 8080, Dir::Out).syn().synack();
        Tcp(c, kApp, "10.201.0.5", 8080, Dir::Out).syn();
        Tcp(c, "10.201.0.5", kApp, 8080, Dir::In).syn();
        c.begin("forged ACK, RST, SYN-ACK from a reply-only role");
        Tcp(c, kEdge, kApp, 8080, Dir::In).ack(false);
        Tcp(c, kEdge, kApp, 8080, Dir::In).rst(false);
        Tcp(c, kEdge, kApp, 8080, Dir::In).synack();
        Tcp(c, kEdge, kDb, 22, Dir::In).data(false, 20);
        c.begin("responder speaks before its SYN-ACK");
        Tcp(c, kEdge, kApp, 8080, Dir::In).syn().data(false, 10).synack().ack();
        c.begin("RST from the responder, then more");
        Tcp(c, kEdge, kApp, 8080, Dir::In).syn().synack().ack().rst(false).data(false, 10);
        c.begin("RST from the initiator, then the responder");
        Tcp(c, kEdge, kApp, 8080, Dir::In).syn().synack().ack().rst(true).ack(false);
        c.begin("mid-stream pickup");
        Tcp(c, kEdge, kApp, 8080, Dir::In).ack(true, 40).ack(false, 40).ack(true);
        Tcp(c, kEdge, kApp, 7777, Dir::In).ack(true, 40).ack(false, 40);
        c.begin("mid-stream FIN pickup");
        Tcp(c, kEdge, kApp, 8080, Dir::In).fin(true).ack(false);
        c.begin("egress default opens, answer comes back in");
        Tcp(c, kMon, kWorld, 443, Dir::Out).syn().synack().ack().data(false, 200);
        Tcp(c, kWorld, kMon, 443, Dir::In).syn();
        c.begin("admin opens to the database, the database answers");
        Tcp(c, kAdmin, kDb, 22, Dir::Out).syn().synack().ack().data(false, 30);
        c.begin("world opens to an edge");
        Tcp(c, kWorld, kEdge, 443, Dir::In).syn().synack().ack();
    }

    // UDP request/response and ICMP echo.
    {
        c.begin("udp exchange");
        uint16_t p = c.port();
        c.add(Dir::In, ip(kEdge, kDb).udp(p, 53).payload(30));
        c.add(Dir::Out, ip(kDb, kEdge).udp(53, p).payload(80));
        c.add(Dir::Out, ip(kDb, kEdge).udp(53, c.port()).payload(80)); // not an answer
        c.add(Dir::In, ip(kEdge, kDb).udp(p, 53).payload(30));
        c.add(Dir::Out, ip(kDb, kEdge).udp(53, p).payload(80));
        uint16_t p6 = c.port();
        c.add(Dir::In, ip(kEdge6, kDb6).udp(p6, 53).payload(30));
        c.add(Dir::Out, ip(kDb6, kEdge6).udp(53, p6).payload(80));
        c.add(Dir::Out, ip(kDb, kEdge).udp(53, c.port()).payload(8)); // unsolicited
        uint16_t pu = c.port();
        c.add(Dir::In, ip(kPartner, kApp).udp(pu, 9999).payload(8)); // denied: no answer either
        c.add(Dir::Out, ip(kApp, kPartner).udp(9999, pu).payload(8));

        c.begin("icmp echo");
        uint16_t id = c.id();
        c.add(Dir::In, ip(kEdge, kApp).icmp4_echo_request(id, 1));
        c.add(Dir::Out, ip(kApp, kEdge).icmp4_echo_reply(id, 1));
        c.add(Dir::Out, ip(kApp, kEdge).icmp4_echo_request(id, 2));   // the app's own request
        c.add(Dir::Out, ip(kApp, kEdge).icmp4_echo_reply(c.id(), 1)); // answers nothing
        uint16_t id6 = c.id();
        c.add(Dir::In, ip(kEdge6, kApp6).icmp6_echo_request(id6, 1));
        c.add(Dir::Out, ip(kApp6, kEdge6).icmp6_echo_reply(id6, 1));
        uint16_t idw = c.id();
        c.add(Dir::In, ip(kWorld, kApp).icmp4_echo_request(idw, 1)); // world may not ping
        c.add(Dir::Out, ip(kApp, kWorld).icmp4_echo_reply(idw, 1));
        c.add(Dir::Out, ip(kApp, kWorld).icmp4_echo_request(c.id(), 1));

        c.begin("protocol without ports: partner -> app and the answer");
        c.add(Dir::In, ip(kPartner, kApp).ip_proto(253).payload(20));
        c.add(Dir::Out, ip(kApp, kPartner).ip_proto(253).payload(20));
    }

    // ICMP errors.
    {
        c.begin("icmp errors related and unrelated");
        Tcp t(c, kEdge, kApp, 8080, Dir::In);
        t.syn().synack();
        c.add(Dir::Out, ip(kApp, kEdge).icmp4_frag_needed(1300).inner(t.quote_a(), 28));
        // From a router on the way to the edge, about app's SYN-ACK, back to app: related
        // (world may not ping otherwise). Tracking knows the hook: the error arrives where
        // app's answers' errors arrive, on ingress, addressed to app.
        c.add(Dir::In, ip(kWorld, kApp).icmp4_time_exceeded().inner(t.quote_b(), 28));
        Tcp none(c, kEdge, kApp, 8080, Dir::In); // never sent: nothing tracked
        c.add(Dir::Out, ip(kApp, kEdge).icmp4_frag_needed(1300).inner(none.quote_a(), 28));
        c.add(Dir::In, ip(kWorld, kApp).icmp4_unreach(1).inner(none.quote_a(), 28));
        // Related tuple, but sent somewhere the quoted packet did not come from.
        c.add(Dir::Out, ip(kApp, kDb).icmp4_frag_needed(1300).inner(t.quote_a(), 28));
        c.add(Dir::Out, ip(kApp, kWorld).icmp4_unreach(3).inner(t.quote_a(), 28));
        Tcp t6(c, kEdge6, kApp6, 8080, Dir::In);
        t6.syn();
        c.add(Dir::Out, ip(kApp6, kEdge6).icmp6_packet_too_big(1280).inner(t6.quote_a(), 48));
        Tcp n6(c, kEdge6, kApp6, 8080, Dir::In);
        c.add(Dir::Out, ip(kApp6, kEdge6).icmp6_packet_too_big(1280).inner(n6.quote_a(), 48));
        // Port unreachable about a tracked UDP exchange, from the database (reply-only).
        uint16_t p = c.port();
        c.add(Dir::In, ip(kEdge, kDb).udp(p, 53).payload(10));
        auto q = Packet().ipv4(kEdge, kDb).udp(p, 53).payload(10);
        c.add(Dir::Out, ip(kDb, kEdge).icmp4_unreach(3).inner(q, 28));
        // About an echo.
        uint16_t id = c.id();
        c.add(Dir::In, ip(kEdge, kApp).icmp4_echo_request(id, 1));
        auto qe = Packet().ipv4(kEdge, kApp).icmp4_echo_request(id, 1);
        c.add(Dir::Out, ip(kApp, kEdge).icmp4_time_exceeded().inner(qe, 28));
    }

    // Fragments.
    {
        c.begin("fragments: first allowed, later follow");
        fragments(c, Dir::In, Packet().ipv4(kEdge, kApp).tcp(c.port(), 8080).syn().payload(64),
                  {48, 48});
        fragments(c, Dir::In, Packet().ipv4(kEdge, kApp).tcp(c.port(), 9000).ack(1).payload(120),
                  {48, 48, 48});
        fragments(c, Dir::In, Packet().ipv4(kEdge, kDb).udp(c.port(), 53).payload(100), {56, 56});
        fragments(c, Dir::Out,
                  Packet().ipv4(kEdge, kApp).icmp4_echo_request(c.id(), 1).payload(200), {96, 96});
        c.begin("fragments: first denied, later follow");
        fragments(c, Dir::In, Packet().ipv4(kEdge, kApp).tcp(c.port(), 7777).syn().payload(64),
                  {48, 48});
        fragments(c, Dir::In, Packet().ipv4(kEdge, kApp).tcp(c.port(), 9050).syn().payload(64),
                  {48, 48});
        c.begin("fragments: orphan later fragment");
        fragments(c, Dir::In, Packet().ipv4(kEdge, kApp).tcp(c.port(), 8080).syn().payload(64),
                  {48, 48}, {1});
        fragments(c, Dir::In, Packet().ipv6(kEdge6, kApp6).tcp(c.port(), 8080).syn().payload(64),
                  {48, 48}, {1});
        c.begin("fragments: later first");
        fragments(c, Dir::In, Packet().ipv4(kEdge, kApp).tcp(c.port(), 8080).syn().payload(64),
                  {48, 48}, {1, 0});
        c.begin("fragments: tiny first fragment");
        fragments(c, Dir::In, Packet().ipv4(kEdge, kApp).tcp(c.port(), 8080).syn().payload(64),
                  {8, 80});
        c.begin("fragments: IPv6 behind a hop-by-hop header");
        fragments(c, Dir::In, Packet().ipv6(kEdge6, kApp6).tcp(c.port(), 8080).syn().payload(64),
                  {48, 48}, {}, true);
        fragments(c, Dir::In, Packet().ipv6(kEdge6, kApp6).tcp(c.port(), 7777).syn().payload(64),
                  {48, 48}, {}, true);
        fragments(c, Dir::Out, Packet().ipv6(kEdge6, kDb6).udp(c.port(), 53).payload(100),
                  {56, 56});
    }

    // IPv6 extension headers hiding ports.
    {
        c.begin("extension headers");
        for (Dir d : {Dir::In, Dir::Out}) {
            for (uint16_t port : {8080, 7777, 9050}) {
                c.add(d, ip(kEdge6, kApp6).hop_by_hop().dest_opts().tcp(c.port(), port).syn());
                c.add(d, ip(kEdge6, kApp6)
                             .hop_by_hop()
                             .dest_opts()
                             .routing(4, 0, {kApp6})
                             .tcp(c.port(), port)
                             .syn());
                c.add(d, ip(kEdge6, kApp6).dest_opts().ah(7, 1).tcp(c.port(), port).syn());
                c.add(d, ip(kEdge6, kDb6).hop_by_hop().udp(c.port(), port == 8080 ? 53 : port));
                Packet deep = ip(kEdge6, kApp6);
                for (int i = 0; i < 7; i++)
                    deep.dest_opts();
                c.add(d, deep.tcp(c.port(), port).syn());
            }
        }
    }

    // Neighbour discovery and MLD.
    {
        c.begin("ndp and mld");
        for (Dir d : {Dir::In, Dir::Out}) {
            c.add(d, ip("fe80::1", "ff02::1:ff00:1").ttl(255).icmp6(135, 0).payload(20));
            c.add(d, ip("fe80::1", "fe80::2").ttl(255).icmp6(136, 0).payload(20));
            c.add(d, ip(kWorld6, kApp6).ttl(64).icmp6(135, 0).payload(20)); // routed: rules
            c.add(d, ip("fe80::1", "ff02::16").ttl(1).icmp6(143, 0).payload(20));
            c.add(d, ip(kWorld6, "ff02::16").ttl(1).icmp6(143, 0).payload(20));
        }
    }

    // IPv4 options do not move the ports.
    c.begin("ipv4 options");
    c.add(Dir::In, ip(kEdge, kApp).ip_options({7, 7, 4, 0, 0, 0, 0}).tcp(c.port(), 8080).syn());
    c.add(Dir::In, ip(kEdge, kApp).ip_options({7, 7, 4, 0, 0, 0, 0}).tcp(c.port(), 7777).syn());
}

} // namespace xi::test::nftdiff
