// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// The fleet and the packets of the tunnel tests (tunnel_test.cpp): tunnels between app-2 and
// app-1 (this node), built header by header so every field the check skips over is there.
#pragma once

#include <string>

#include "fleet_yaml.h"
#include "packet.h"

namespace xi::test
{

// app-1 (this node) and app-2 may run overlays and anything else between them; edge-b is a
// sibling of edge-a for the steering case.
inline std::string tunnel_config(const std::string &tunnels)
{
    return fleet_yaml_head("0x77") + kEdgeANode + R"(  - name: edge-b
    public_interface: pub0
    mesh_ipv4: 10.200.0.2
)" + kApp1DualStackNode +
           R"(  - name: app-2
    mesh_ipv4: 10.201.0.2
    mesh_ipv6: fd00:201::2
)" + kWeb443Vip +
           R"(identities:
  edges: [10.200.0.0/24, fd00:200::/64]
  apps: [10.201.0.0/24, fd00:201::/64]
rules:
  - name: apps-overlay
    from: apps
    to: apps
    protocol: any
    action: allow
default:
  ingress: deny
  egress: allow
)" + tunnels;
}

// Inner packets, as the far end of the tunnel would route them.
inline Bytes inner4(const std::string &dst)
{
    return Packet().ipv4("10.201.0.2", dst).udp(40000, 80).payload(16).build();
}
inline Bytes inner6(const std::string &dst)
{
    return Packet().ipv6("fd00:201::2", dst).udp(40000, 80).payload(16).build();
}
inline Bytes frame4(const std::string &dst, int vlans = 0)
{
    Packet p = Packet().eth();
    for (int i = 0; i < vlans; i++)
        p.vlan(100 + i);
    return p.ipv4("10.201.0.2", dst).udp(40000, 80).payload(16).build();
}
inline Bytes frame6(const std::string &dst)
{
    return Packet().eth().ipv6("fd00:201::2", dst).udp(40000, 80).payload(16).build();
}
inline Bytes cat(Bytes a, const Bytes &b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// GRE header (RFC 2784/2890): flags and version, protocol, then 4 bytes per C, K, S bit.
inline Bytes gre(uint16_t flags, uint16_t proto, const Bytes &inner)
{
    Bytes h = {uint8_t(flags >> 8), uint8_t(flags), uint8_t(proto >> 8), uint8_t(proto)};
    int words = !!(flags & 0x8000) + !!(flags & 0x2000) + !!(flags & 0x1000);
    h.insert(h.end(), 4 * words, 0xab);
    return cat(h, inner);
}
inline Bytes vxlan(const Bytes &frame)
{
    return cat({0x08, 0, 0, 0, 0, 0x01, 0x00, 0}, frame); // I flag, VNI 256
}
// Geneve (RFC 8926) with opt_words 4-byte words of options.
inline Bytes geneve(uint16_t proto, const Bytes &inner, uint8_t opt_words = 0, uint8_t version = 0)
{
    Bytes h = {
        uint8_t(version << 6 | opt_words), 0, uint8_t(proto >> 8), uint8_t(proto), 0, 0, 0x01, 0};
    h.insert(h.end(), 4 * opt_words, 0xcd);
    return cat(h, inner);
}

// Outer packets between app-2 and app-1: `in` arrives at app-1, `out` leaves it.
inline Packet outer(bool in, bool v6)
{
    Packet p = Packet().eth();
    if (v6)
        return in ? p.ipv6("fd00:201::2", "fd00:201::1") : p.ipv6("fd00:201::1", "fd00:201::2");
    return in ? p.ipv4("10.201.0.2", "10.201.0.1") : p.ipv4("10.201.0.1", "10.201.0.2");
}
inline Bytes over_gre(bool in, bool v6, const Bytes &g)
{
    return outer(in, v6).ip_proto(47).payload(g).build();
}
// Each from a source port of its own: an allowed UDP flow is tracked, and the next packet of
// the same flow would pass as tracked instead of by the rule.
inline Bytes over_udp(bool in, bool v6, uint16_t port, const Bytes &body)
{
    static uint16_t sport = 50000;
    return outer(in, v6).udp(sport++, port).payload(body).build();
}

// IP in IP leaving app-1: outer family, inner family and destination.
inline Bytes ip_in_ip(bool outer6, bool inner6, const std::string &dst)
{
    Packet p = Packet().eth();
    outer6 ? p.ipv6("fd00:201::1", "fd00:201::2") : p.ipv4("10.201.0.1", "10.201.0.2");
    inner6 ? p.ipv6("fd00:201::1", dst) : p.ipv4("10.201.0.1", dst);
    return p.udp(1, 80).build();
}

} // namespace xi::test
