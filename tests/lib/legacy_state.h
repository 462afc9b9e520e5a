// A state record as the last release wrote it (binary, map xi_loader; its save_state, in
// loader/state.cpp before issue #11), for the tests of the migration to JSON.
#pragma once

#include <cstring>

#include "state_legacy.h"
#include "xi_structs.h"

namespace xi::test
{

inline LegacyState legacy_record()
{
    LegacyState raw{};
    raw.magic = kLegacyMagic;
    raw.version = kLegacyVersion;
    std::strcpy(raw.instance, "edge");
    std::strcpy(raw.node, "fra1");
    std::strcpy(raw.netns, "/run/netns/pop");
    raw.gens[1].generation = 8;
    std::strcpy(raw.gens[1].table_digests[3], "r2");
    raw.reloads_ok = 4;
    raw.reloads_failed = 1;
    std::memset(raw.last_error, 'e', sizeof(raw.last_error)); // unterminated: read to the end
    raw.n_attach = 2;
    std::strcpy(raw.attach[0].ifname, "eth0");
    std::strcpy(raw.attach[0].pin_name, "link_xdp_eth0");
    raw.attach[0].method = static_cast<uint8_t>(AttachMethod::XdpLink);
    raw.attach[0].xdp_mode = static_cast<uint8_t>(XdpMode::Generic);
    raw.attach[1].method = static_cast<uint8_t>(AttachMethod::Clsact);
    raw.attach[1].created_qdisc = 1;
    raw.attach[1].tc_priority = 49152;
    raw.attach[1].handoff = XI_HANDOFF_TC;
    return raw;
}

} // namespace xi::test
