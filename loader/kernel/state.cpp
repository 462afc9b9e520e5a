#include "state.h"

#include <bpf/bpf.h>
#include <algorithm>
#include <cstring>
#include <memory>
#include <unistd.h>

#include "error.h"
#include "state_legacy.h"
#include "xi_names.h"
#include "xi_reasons.h"
#include "xi_structs.h"

namespace xi
{

namespace
{

// One map value: a length-prefixed JSON text. 64 KiB holds 8 attachments, two generations and
// a long last_error many times over; the kernel keeps one such value per instance.
constexpr uint32_t kBlobMagic = 0x58494a53; // "XIJS"
constexpr size_t kBlobSize = 64 * 1024;
struct StateBlob {
    uint32_t magic;
    uint32_t len;
    char json[kBlobSize - 8];
};
static_assert(sizeof(StateBlob) == kBlobSize);
constexpr size_t kMaxLastError = 4096;

// A map update copies the value without a lock, so a reader racing a writer can see half of
// each; the JSON then fails to parse, and a second read a moment later sees the whole.
constexpr int kTornReadRetries = 5;

struct Fd {
    int fd;
    ~Fd()
    {
        if (fd >= 0)
            close(fd);
    }
};

int open_or_create(const std::string &path)
{
    int fd = bpf_obj_get(path.c_str());
    if (fd >= 0)
        return fd;
    fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, XI_MAP_STATE, sizeof(uint32_t), sizeof(StateBlob), 1,
                        nullptr);
    if (fd < 0)
        throw Error("cannot create map " XI_MAP_STATE, errno);
    if (bpf_obj_pin(fd, path.c_str()) != 0) {
        int err = errno;
        close(fd);
        throw Error("cannot pin " + path, err);
    }
    return fd;
}

// nullopt: no record at path (no map, or one created but never written: an attach that died
// before recording).
std::optional<InstanceState> read_json_record(const std::string &path)
{
    Fd m{bpf_obj_get(path.c_str())};
    if (m.fd < 0)
        return std::nullopt;
    auto blob = std::make_unique<StateBlob>();
    for (int attempt = 1;; attempt++) {
        uint32_t key = 0;
        if (bpf_map_lookup_elem(m.fd, &key, blob.get()) != 0)
            throw Error("cannot read map " + path, errno);
        if (blob->magic != kBlobMagic)
            return std::nullopt;
        try {
            size_t len = std::min<size_t>(blob->len, sizeof(blob->json));
            return state_from_json(std::string(blob->json, len), path);
        } catch (const Error &) {
            if (attempt == kTornReadRetries)
                throw;
            usleep(2000);
        }
    }
}

std::optional<InstanceState> read_legacy_record(const std::string &path)
{
    Fd m{bpf_obj_get(path.c_str())};
    if (m.fd < 0)
        return std::nullopt;
    LegacyState raw{};
    uint32_t key = 0;
    if (bpf_map_lookup_elem(m.fd, &key, &raw) != 0)
        throw Error("cannot read map " + path, errno);
    return decode_legacy_state(raw, path);
}

// The record of the slot the datapath reads now is the truth about what runs.
void fill_active(const std::string &dir, InstanceState &s)
{
    Fd afd{bpf_obj_get((dir + "/" XI_MAP_ACTIVE).c_str())};
    if (afd.fd < 0)
        return;
    xi_active a{};
    uint32_t zero = 0;
    if (bpf_map_lookup_elem(afd.fd, &zero, &a) != 0 || a.slot >= 2 ||
        s.gens[a.slot].generation != a.generation)
        return;
    const auto &g = s.gens[a.slot];
    s.generation = g.generation;
    s.config_path = g.config_path;
    s.config_sha256 = g.config_sha256;
    s.table_sha256 = g.table_sha256;
}

} // namespace

void save_state(const std::string &dir, const InstanceState &s)
{
    if (s.attachments.size() > kMaxAttachments)
        throw Error("internal: too many attachments to record");
    InstanceState rec = s;
    if (rec.last_error.size() > kMaxLastError)
        rec.last_error = rec.last_error.substr(0, kMaxLastError) + "...";
    std::string json = state_to_json(rec);
    auto blob = std::make_unique<StateBlob>();
    if (json.size() > sizeof(blob->json))
        throw Error("internal: the state record (" + std::to_string(json.size()) +
                    " bytes) does not fit its map");
    blob->magic = kBlobMagic;
    blob->len = json.size();
    std::memcpy(blob->json, json.data(), json.size());

    std::string path = dir + "/" XI_MAP_STATE;
    Fd m{open_or_create(path)};
    uint32_t key = 0;
    if (bpf_map_update_elem(m.fd, &key, blob.get(), BPF_ANY) != 0)
        throw Error("cannot write map " + path, errno);
    // Migrated: the JSON record is the one from now on (an older binary no longer finds the
    // instance; detach it with this version).
    std::string legacy = dir + "/" XI_MAP_STATE_LEGACY;
    if (unlink(legacy.c_str()) != 0 && errno != ENOENT)
        throw Error("cannot remove the old state record " + legacy, errno);
}

std::optional<InstanceState> load_state(const std::string &dir)
{
    auto s = read_json_record(dir + "/" XI_MAP_STATE);
    if (!s)
        s = read_legacy_record(dir + "/" XI_MAP_STATE_LEGACY);
    if (s)
        fill_active(dir, *s);
    return s;
}

std::string describe_attached(const InstanceState &s)
{
    std::string out = "instance '" + s.instance + "' (node " + s.node + ", config " +
                      s.config_path + ") is attached:";
    size_t guarded = 0;
    for (const auto &a : s.attachments)
        if (a.hook == XI_HOOK_TC_GUARD_INGRESS)
            guarded++;
        else if (a.hook != XI_HOOK_TC_GUARD_EGRESS)
            out += " " + a.prog_name + "@" + a.ifname;
    if (guarded)
        out += " and the metadata guard on " + std::to_string(guarded) +
               (guarded == 1 ? " interface" : " interfaces");
    return out;
}

} // namespace xi
