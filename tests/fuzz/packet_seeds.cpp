// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The packet fuzzer's seeds, built with the tests' packet builder so they follow it: one file
// per (program, frame), the first byte choosing the program as packet_fuzz reads it
// (0 xdp_public, 1 tc public ingress, 2 tc public egress, 3 mesh ingress, 4 mesh egress).
// Usage: packet_seeds DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "packet.h"

using xi::test::Bytes;
using xi::test::Packet;

namespace
{

std::vector<Bytes> public_frames()
{
    std::vector<Bytes> v;
    for (uint16_t sport : {40000, 40001, 40002, 40003}) {
        v.push_back(Packet()
                        .eth()
                        .ipv4("192.0.2.7", "198.51.100.10")
                        .tcp(sport, 443)
                        .syn()
                        .mss(1460)
                        .build());
        v.push_back(Packet()
                        .eth()
                        .ipv4("192.0.2.7", "198.51.100.10")
                        .tcp(sport, 80)
                        .ack(5)
                        .payload(64)
                        .build());
        v.push_back(Packet()
                        .eth()
                        .ipv6("2001:db8:c::2", "2001:db8:100::10")
                        .tcp(sport, 443)
                        .ack(9)
                        .payload(32)
                        .build());
    }
    v.push_back(Packet()
                    .eth()
                    .vlan(7)
                    .ipv4("192.0.2.9", "198.51.100.53")
                    .udp(5353, 53)
                    .payload(40)
                    .build());
    v.push_back(Packet()
                    .eth()
                    .vlan(7)
                    .svlan(8)
                    .ipv4("192.0.2.9", "198.51.100.10")
                    .tcp(1, 443)
                    .ack()
                    .pad_to_min(0xee)
                    .build());
    v.push_back(
        Packet().eth().ipv4("192.0.2.9", "198.51.100.10").mf().udp(7, 53).payload(100).build());
    v.push_back(
        Packet().eth().ipv4("192.0.2.9", "198.51.100.10").frag_offset(10).payload(60).build());
    v.push_back(Packet()
                    .eth()
                    .ipv4("203.0.113.1", "192.0.2.7")
                    .icmp4_frag_needed(1400)
                    .inner(Packet().ipv4("192.0.2.7", "198.51.100.10").tcp(40000, 443).ack())
                    .build());
    v.push_back(Packet()
                    .eth()
                    .ipv6("2001:db8:c::2", "2001:db8:100::10")
                    .hop_by_hop()
                    .dest_opts()
                    .tcp(5, 443)
                    .syn()
                    .build());
    v.push_back(Packet()
                    .eth()
                    .ipv4("198.51.100.10", "192.0.2.7")
                    .tcp(443, 40000)
                    .syn()
                    .ack(1)
                    .mss(1460)
                    .build());
    v.push_back(Packet()
                    .eth()
                    .ipv4("10.200.0.2", "10.200.0.1")
                    .ipv4("192.0.2.7", "198.51.100.10")
                    .tcp(4, 443)
                    .ack()
                    .build());
    v.push_back(Packet().eth().ethertype(0x0806).payload(28).build());
    return v;
}

Bytes cat(Bytes a, const Bytes &b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::vector<Bytes> mesh_frames()
{
    std::vector<Bytes> v;
    Bytes inner = Packet().ipv4("10.201.0.1", "169.254.169.254").tcp(3, 80).syn().build();
    Bytes frame = Packet().eth().ipv4("10.201.0.1", "10.1.2.3").udp(3, 80).payload(8).build();
    v.push_back(Packet()
                    .eth()
                    .ipv4("10.201.0.1", "10.200.0.1")
                    .ip_proto(47)
                    .payload(cat({0, 0, 8, 0}, inner))
                    .build());
    v.push_back(Packet()
                    .eth()
                    .ipv4("10.201.0.1", "10.200.0.1")
                    .ip_proto(47)
                    .payload(cat({0x30, 0, 0x65, 0x58, 1, 2, 3, 4, 5, 6, 7, 8}, frame))
                    .build());
    v.push_back(Packet()
                    .eth()
                    .ipv4("10.201.0.1", "10.200.0.2")
                    .udp(9, 4789)
                    .payload(cat({8, 0, 0, 0, 0, 1, 0, 0}, frame))
                    .build());
    v.push_back(Packet()
                    .eth()
                    .ipv6("fd00:201::1", "fd00:200::1")
                    .udp(9, 6081)
                    .payload(cat({1, 0, 8, 0, 0, 1, 0, 0, 0, 0, 0, 0}, inner))
                    .build());
    v.push_back(Packet()
                    .eth()
                    .ipv4("10.201.0.1", "10.200.0.3")
                    .ipv4("10.201.0.1", "169.254.170.2")
                    .udp(1, 80)
                    .build());
    v.push_back(Packet()
                    .eth()
                    .ipv6("fd00:201::1", "fd00:200::3")
                    .ipv6("fd00:201::1", "64:ff9b::a9fe:a9fe")
                    .udp(1, 80)
                    .build());
    v.push_back(
        Packet().eth().ipv4("10.200.0.1", "10.201.0.1").tcp(41000, 8080).syn().mss(1460).build());
    v.push_back(
        Packet().eth().ipv4("10.201.0.1", "10.200.0.1").tcp(8080, 41000).syn().ack(1).build());
    v.push_back(Packet().eth().ipv6("fd00:200::1", "fd00:201::1").udp(5, 53).payload(20).build());
    v.push_back(Packet().eth().ipv4("10.201.0.1", "169.254.169.254").tcp(5, 80).syn().build());
    v.push_back(
        Packet().eth().vlan(1).vlan(2).vlan(3).ipv4("10.201.0.1", "10.200.0.1").udp(1, 2).build());
    v.push_back(Packet()
                    .eth()
                    .ipv6("fe80::1", "ff02::1:ff00:1")
                    .ttl(255)
                    .icmp6(135, 0)
                    .payload(20)
                    .build());
    v.push_back(Packet()
                    .eth()
                    .ipv4("10.200.0.2", "10.200.0.1")
                    .ipv4("192.0.2.7", "198.51.100.10")
                    .tcp(9, 443)
                    .ack()
                    .build());
    return v;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: packet_seeds DIR\n");
        return 2;
    }
    int n = 0;
    auto write = [&](uint8_t prog, const Bytes &frame) {
        std::ofstream f(std::string(argv[1]) + "/seed-" + std::to_string(n++), std::ios::binary);
        f.put(static_cast<char>(prog));
        f.write(reinterpret_cast<const char *>(frame.data()),
                static_cast<std::streamsize>(frame.size()));
    };
    for (const auto &fr : public_frames())
        for (uint8_t prog : {0, 1, 2})
            write(prog, fr);
    for (const auto &fr : mesh_frames())
        for (uint8_t prog : {3, 4, 5, 6})
            write(prog, fr);
    std::printf("packet_seeds: %d seeds in %s\n", n, argv[1]);
    return 0;
}
