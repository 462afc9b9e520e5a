// The pieces every test fleet shares, written once: the head (version, fleet with a seed
// and a 1420 mesh MTU, "nodes:"), edge-a (the edge most tests run as), app-1 (IPv4 or dual
// stack) and the web VIP (on 80 and 443, or on 443). Each test config adds its own nodes,
// identities and rules after them.
#pragma once

#include <string>

namespace xi::test
{

inline std::string fleet_yaml_head(const std::string &hash_seed)
{
    return "version: 1\nfleet:\n  hash_seed: " + hash_seed + "\n  mesh_mtu: 1420\nnodes:\n";
}

inline const std::string kEdgeANode = R"(  - name: edge-a
    public_interface: pub0
    mesh_ipv4: 10.200.0.1
    mesh_ipv6: fd00:200::1
)";

// edge-a's two dual-stack siblings.
inline const std::string kEdgeBCNodes = R"(  - name: edge-b
    public_interface: pub0
    mesh_ipv4: 10.200.0.2
    mesh_ipv6: fd00:200::2
  - name: edge-c
    public_interface: pub0
    mesh_ipv4: 10.200.0.3
    mesh_ipv6: fd00:200::3
)";

inline const std::string kApp1DualStackNode = R"(  - name: app-1
    mesh_ipv4: 10.201.0.1
    mesh_ipv6: fd00:201::1
)";

inline const std::string kApp1Node = R"(  - name: app-1
    mesh_ipv4: 10.201.0.1
)";

// The web VIP on 80 and 443, first of its "vips:" list.
inline const std::string kWebVips = R"(vips:
  - name: web
    address: 198.51.100.10
    protocol: tcp
    ports: [80, 443]
)";

inline const std::string kWeb443Vip = R"(vips:
  - name: web
    address: 198.51.100.10
    protocol: tcp
    ports: [443]
)";

} // namespace xi::test
