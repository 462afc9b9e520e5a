// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The fleet as the running generation has it, read from the pins (prober.h).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cstring>
#include <net/if.h>

#include "error.h"
#include "prober.h"
#include "publish.h"

namespace xi
{

std::optional<FleetView> fleet_from_pins(const std::string &dir)
{
    try {
        auto maps = GenMaps::open_pinned(dir);
        auto active = read_active(maps);
        xi_gen_config cfg{};
        if (!active.generation || bpf_map_lookup_elem(maps.gen_config, &active.slot, &cfg) != 0)
            return std::nullopt;
        FleetView f;
        f.failover.probe_port = ntohs(cfg.probe_port);
        f.failover.enabled = cfg.probe_port != 0;
        char ifname[IF_NAMESIZE] = "";
        if_indextoname(cfg.mesh_ifindex, ifname);
        auto names = read_catalog(maps, CatalogKind::Node);
        for (uint32_t i = 0; i < names.size() && i < XI_MAX_NODES; i++) {
            if (names[i].empty())
                continue;
            uint32_t key = active.slot * XI_MAX_NODES + i;
            xi_node n{};
            if (bpf_map_lookup_elem(maps.nodes, &key, &n) != 0 || !(n.flags & XI_NODE_F_VALID))
                continue;
            NodeCfg c;
            c.name = names[i];
            if (n.flags & XI_NODE_F_HAS4) {
                IpAddr a;
                a.v4 = true;
                a.bytes[10] = a.bytes[11] = 0xff;
                std::memcpy(&a.bytes[12], &n.mesh4, 4);
                c.mesh4 = a;
            }
            if (n.flags & XI_NODE_F_HAS6)
                c.mesh6 = IpAddr::from_xi(n.mesh6);
            if (n.flags & XI_NODE_F_EDGE)
                c.public_if = "?"; // an edge; its interface name is not in the pins
            if (i == cfg.self_node)
                c.mesh_if = ifname;
            f.nodes.push_back(std::move(c));
        }
        return f;
    } catch (const Error &) {
        return std::nullopt;
    }
}

} // namespace xi
