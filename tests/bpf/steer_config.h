// The fleet the steering tests run against: three edges (this node is edge-a), IPv4 and IPv6
// VIPs, a port-any VIP, a UDP VIP, one backend.
#pragma once

#include <string>

#include "fleet_yaml.h"

namespace xi::test
{

inline const std::string kSteerConfig = fleet_yaml_head("0x5eed5eed12345678") + kEdgeANode +
                                        kEdgeBCNodes + kApp1Node + kWebVips + R"(  - name: web6
    address: 2001:db8:100::10
    protocol: tcp
    ports: [443]
  - name: dns
    address: 198.51.100.53
    protocol: udp
    ports: [53]
  - name: anyport
    address: 198.51.100.20
    protocol: tcp
identities:
  edges: [10.200.0.0/24, fd00:200::/64]
  apps: [10.201.0.0/24]
default:
  ingress: allow
  egress: allow
)";

} // namespace xi::test
