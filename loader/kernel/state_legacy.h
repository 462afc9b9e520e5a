// The binary state record of earlier releases (map xi_loader, format version 2), kept only to
// read an instance such a release attached: `attach --replace`, `status` and `detach` across an
// upgrade. This release writes JSON (xi_state, state.h) and never this layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "state.h"

namespace xi
{

constexpr size_t kLegacyMaxAttachments = 8; // the release's record holds eight

struct LegacyAttachment {
    char ifname[16];
    char prog_name[16];
    char pin_name[48];
    uint32_t ifindex;
    uint32_t prog_id;
    uint32_t tc_handle;
    uint32_t tc_priority;
    uint8_t hook;
    uint8_t method;
    uint8_t xdp_mode;
    uint8_t created_qdisc;
    uint8_t handoff; // XI_HANDOFF_*; 0 in records of releases before hand-offs (xdp-mark then)
    uint8_t pad[3];
};
static_assert(sizeof(LegacyAttachment) == 104);

struct LegacyGen {
    uint64_t generation;
    char config_path[512];
    char config_sha256[72];
    char table_sha256[72];
    char table_digests[4][72];
};

struct LegacyState {
    uint32_t magic;
    uint32_t version;
    char instance[64];
    char node[64];
    char netns[64];
    LegacyGen gens[2];
    uint64_t attached_at;
    uint64_t reloaded_at;
    uint64_t reloads_ok;
    uint64_t reloads_failed;
    uint64_t last_failure_at;
    char last_error[512];
    uint32_t n_attach;
    uint32_t pad;
    LegacyAttachment attach[kLegacyMaxAttachments];
};
static_assert(sizeof(LegacyState) == 3496, "the layout releases wrote: never change it");

constexpr uint32_t kLegacyMagic = 0x58494c44; // "XILD"
constexpr uint32_t kLegacyVersion = 2;

// nullopt when the record was created but never written (magic 0: an attach died before
// recording). Throws Error naming `where` for a version this release cannot read.
std::optional<InstanceState> decode_legacy_state(const LegacyState &raw, const std::string &where);

} // namespace xi
