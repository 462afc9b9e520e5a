// The small valid fleet config the config unit tests edit, one change per test.
#pragma once

#include <string>

#include "fleet_yaml.h"

namespace xi::test
{

inline const std::string kBase = R"(version: 1
fleet:
  hash_seed: 0x1234
nodes:
  - name: edge-a
    public_interface: eth0
    mesh_ipv4: 10.200.0.1
  - name: edge-b
    public_interface: eth0
    mesh_ipv4: 10.200.0.2
)" + kApp1Node + kWebVips + R"(identities:
  edges: [10.200.0.0/24]
  apps: [10.201.0.0/24]
rules:
  - name: web
    from: edges
    to: apps
    protocol: tcp
    ports: [8080]
    action: allow
default:
  ingress: deny
  egress: allow
)";

} // namespace xi::test
