#include "owner.h"

#include <arpa/inet.h>

#include "xi_hash.h"

namespace xi
{

uint64_t flow_hash(const FlowTuple &t, uint64_t seed)
{
    if (t.src.v4 && t.dst.v4)
        return xi_flow_hash4(t.src.v4_be(), t.dst.v4_be(), htons(t.sport), htons(t.dport), t.proto,
                             seed);
    xi_addr s = t.src.to_xi(), d = t.dst.to_xi();
    return xi_flow_hash6(&s, &d, htons(t.sport), htons(t.dport), t.proto, seed);
}

uint16_t flow_owner(const GenContent &g, const FlowTuple &t)
{
    if (g.maglev.empty())
        return XI_NODE_NONE;
    uint32_t slot = xi_maglev_slot(flow_hash(t, g.cfg.seed), g.cfg.table_size);
    return static_cast<uint16_t>(XI_MAGLEV_OWNER(g.maglev[slot]));
}

} // namespace xi
