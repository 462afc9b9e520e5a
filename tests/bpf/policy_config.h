// The fleet the mesh policy tests run against (this node: app-1, a reply-only backend).
#pragma once

#include <string>

#include "fleet_yaml.h"

namespace xi::test
{

inline const std::string kPolicyConfig = fleet_yaml_head("0x42") + kEdgeANode + kApp1DualStackNode +
                                         R"(  - name: app-2
    mesh_ipv4: 10.201.0.2
  - name: db-1
    mesh_ipv4: 10.202.0.1
)" + kWeb443Vip + R"(identities:
  edges: [10.200.0.0/24, fd00:200::/64]
  apps: [10.201.0.0/24, fd00:201::/64]
  dbs: [10.202.0.0/24]
  mon: [10.203.0.0/28]
  admin: [10.201.0.128/25]
rules:
  - name: edge-apps-http
    from: edges
    to: apps
    protocol: tcp
    ports: [8080, "9000-9100"]
    action: allow
  - name: edge-apps-no-9050
    from: edges
    to: apps
    protocol: tcp
    ports: [9050]
    action: deny
  - name: admin-db
    from: admin
    to: dbs
    protocol: tcp
    ports: [5432]
    action: allow
  - name: dns
    from: any
    to: dbs
    protocol: udp
    ports: [53]
    action: allow
  - name: mon-scrape
    from: mon
    to: any
    protocol: tcp
    ports: ["9100-9110"]
    action: allow
  - name: ping
    from: any
    to: any
    protocol: icmp
    action: allow
  - name: overlap-allow
    from: edges
    to: mon
    protocol: tcp
    ports: ["100-110"]
    action: allow
  - name: overlap-deny
    from: edges
    to: mon
    protocol: tcp
    ports: ["105-115"]
    action: deny
  - name: admin-ssh
    from: admin
    to: dbs
    protocol: tcp
    ports: [22]
    action: allow
default:
  ingress: deny
  egress: allow
reply_only: [apps, dbs]
metadata_extra: [192.0.2.53]
conntrack:
  udp: 1
events:
  rate: 1000
  burst: 1000
)";

} // namespace xi::test
