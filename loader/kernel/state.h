// What the loader records about an instance, kept as JSON in the pinned array map xi_state (one
// entry) next to the datapath's maps, so a fresh process - `status`, `detach`, a restarted
// `serve` - finds it even after the attaching process is gone. The datapath never reads it.
// Earlier releases kept a fixed binary record in xi_loader instead (state_legacy.h): it is
// read when xi_state is absent and removed by the first save, so `attach --replace` from such a
// release takes its instance over.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bpffs.h"

namespace xi
{

enum class AttachMethod : uint8_t { XdpLink = 1, Tcx = 2, Clsact = 3 };
enum class XdpMode : uint8_t { None = 0, Native = 1, Generic = 2 };

struct Attachment {
    std::string ifname;
    uint32_t ifindex = 0;
    uint8_t hook = 0; // enum xi_hook
    AttachMethod method = AttachMethod::XdpLink;
    XdpMode xdp_mode = XdpMode::None;
    bool created_qdisc = false; // clsact: we created the qdisc, so detach removes it
    uint8_t handoff = 0;        // public XDP and TC ingress: XI_HANDOFF_* (handoff.h)
    uint32_t prog_id = 0;
    uint32_t tc_handle = 0, tc_priority = 0;
    std::string prog_name;
    std::string pin_name; // link pin file (links only)
};

// What one generation slot holds. Written before the slot is made active, so a loader killed
// at any point leaves a record that matches what the datapath runs.
struct GenRecord {
    uint64_t generation = 0;
    std::string config_path;
    std::string config_sha256;
    std::string table_sha256;
    std::array<std::string, 4> table_digests; // maglev, vips, idents, rules (see GenContent)
};

struct InstanceState {
    std::string instance;
    std::string node;
    std::string netns; // --netns given at attach ("" = the attaching process's namespace)
    // Of the active generation (filled by load_state from gens[] and xi_active).
    std::string config_path;
    std::string config_sha256;
    std::string table_sha256;
    uint64_t generation = 0;
    std::array<GenRecord, 2> gens; // by slot
    uint64_t attached_at = 0;      // unix seconds
    uint64_t reloaded_at = 0;
    uint64_t reloads_ok = 0;
    uint64_t reloads_failed = 0;
    uint64_t last_failure_at = 0;
    std::string last_error; // why the last failed reload failed ("" after a good one)
    std::vector<Attachment> attachments;
    // What the attached programs understand beyond the first JSON record's release, set by the
    // attach or `attach --replace` that loaded them (kDatapathFeatures); empty for a release's.
    std::vector<std::string> datapath_features;
    bool has_feature(const std::string &f) const
    {
        for (const auto &x : datapath_features)
            if (x == f)
                return true;
        return false;
    }
};

// "second-chance": Maglev entries with a previous owner (issue #13). A release's programs read
// such an entry as "no owner" and would deliver a moved slot's flows locally.
inline const std::vector<std::string> kDatapathFeatures = {"second-chance"};

// Five hooks of our own plus the metadata guard's two on each of up to 32 interfaces, with room.
constexpr size_t kMaxAttachments = 72;

// "instance 'X' (node N, config C) is attached: prog@if ... and the metadata guard on K
// interfaces": the sentence a second attach refuses with.
std::string describe_attached(const InstanceState &s);
const char *attach_method_name(AttachMethod m); // "xdp", "tcx", "clsact"
const char *xdp_mode_name(XdpMode m);           // "native", "generic", "" (none)

// The record as text and back (state_json.cpp). state_from_json throws Error naming `where`
// when the text is not a record this version can read.
std::string state_to_json(const InstanceState &s);
InstanceState state_from_json(const std::string &text, const std::string &where);

// Creates the state map (pinned at dir/xi_state) if missing and writes s; removes a release's
// binary record (xi_loader) once s is written.
void save_state(const std::string &dir, const InstanceState &s);
// nullopt when the instance has no state map.
std::optional<InstanceState> load_state(const std::string &dir);

} // namespace xi
