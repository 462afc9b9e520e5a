// Config + "which node am I" -> the content of one datapath generation (what publish.cpp writes
// into the inactive slot). Pure: no kernel access, so it is unit-tested and used by validate.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config.h"
#include "maglev.h"
#include "xi_structs.h"
#include "xi_names.h"

namespace xi
{

struct GenContent {
    xi_gen_config cfg{};
    std::vector<xi_node> nodes;          // XI_MAX_NODES entries, by slot
    std::vector<std::string> node_names; // by slot, "" = free
    std::vector<uint32_t> maglev;        // table_size entries: XI_MAGLEV_ENTRY(owner, previous)
    uint32_t second_chance_slots = 0;    // entries with a previous owner
    // table_size entries: the owner each slot has without its owner (fallback.h), XI_NODE_NONE
    // where there is none. Published behind the entries, in the same inner map.
    std::vector<uint16_t> fallback; // empty when compiled without it (CompileInput::fallback)
    std::vector<MaglevBackend> edges_after; // the edges the table was built from
    std::string table_sha256;               // of the owners' names, entry by entry (fleet-wide)
    std::vector<std::pair<xi_vip_key, xi_vip>> vips;
    std::vector<xi_vip_slot> vip_slots; // XI_VIP_TABLE_SLOTS, open addressing (cfg.vip_salt)
    std::vector<std::pair<xi_ident_key, xi_ident>> idents;
    std::vector<std::pair<xi_rule_key, xi_rule>> rules;
    std::vector<std::string> rule_names; // by slot, "" = free
    // Content digests of the four swapped tables (maglev, vips, idents, rules): a reload
    // reuses the running generation's table when its digest is unchanged.
    std::array<std::string, 4> table_digests;
};

// The Maglev inner map's values: the entries, then the fallback column (one word per slot).
std::vector<uint32_t> maglev_words(const GenContent &g);

enum TableIndex { kTableMaglev = 0, kTableVips = 1, kTableIdents = 2, kTableRules = 3 };

struct CompileInput {
    const Config *config = nullptr;
    std::string node; // this node's name (must be in the config)
    uint32_t mesh_ifindex = 0;
    uint64_t generation = 1;
    std::vector<std::string> prev_node_slots; // from the running instance, if any
    std::vector<std::string> prev_rule_slots;
    // The fallback column costs one Maglev build per edge (255 edges x 1,048,573 slots: ~10 s
    // of CPU); the datapath needs it, validate does not, owner asks for the owners it needs.
    bool fallback = true;
};

GenContent compile_generation(const CompileInput &in); // throws xi::Error

// Lay the VIP entries out in the open-addressing table the datapath probes: every key within
// XI_VIP_PROBES slots of its bucket. Tries salts until that holds; returns the salt.
uint32_t build_vip_slots(const std::vector<std::pair<xi_vip_key, xi_vip>> &vips,
                         std::vector<xi_vip_slot> &slots);

// MSS that still fits a mesh of the given MTU after IPIP (v4) / IP6IP6 (v6) encapsulation.
inline uint32_t vip_mss4(uint32_t mesh_mtu)
{
    return mesh_mtu - XI_ENCAP_OVERHEAD_V4 - XI_MSS_HDRS_V4;
}
inline uint32_t vip_mss6(uint32_t mesh_mtu)
{
    return mesh_mtu - XI_ENCAP_OVERHEAD_V6 - XI_MSS_HDRS_V6;
}
// MSS of a connection carried by the mesh itself (no further encapsulation).
inline uint32_t mesh_mss4(uint32_t mesh_mtu)
{
    return mesh_mtu - XI_MSS_HDRS_V4;
}
inline uint32_t mesh_mss6(uint32_t mesh_mtu)
{
    return mesh_mtu - XI_MSS_HDRS_V6;
}

} // namespace xi
