/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IP a security hook cannot look into: more VLAN tags or a longer IPv6 extension chain than it
 * walks. One rule for both (config `unparsed`), on the mesh hooks and the metadata guard:
 * dropped by default, counted either way. Never ARP or other non-IP traffic, which passes as
 * pass_not_ip before this is asked.
 */
#ifndef XI_BPF_UNPARSED_H
#define XI_BPF_UNPARSED_H

#include "common.h"
#include "gen.h"
#include "stats.h"

static __always_inline int xi_unparsed(__u32 hook, __u32 reason)
{
    struct xi_gen g;

    if (xi_gen_current(&g) && (g.cfg->flags & XI_CFG_UNPARSED_PASS)) {
        xi_count(hook, reason == XI_R_DROP_EXTHDR ? XI_R_PASS_EXTHDR : XI_R_PASS_VLAN_DEPTH);
        return XI_TC_NEXT;
    }
    xi_count(hook, reason);
    return TC_ACT_SHOT;
}

#endif /* XI_BPF_UNPARSED_H */
