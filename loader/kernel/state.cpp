#include "state.h"

#include <bpf/bpf.h>
#include <cstring>
#include <unistd.h>

#include "error.h"
#include "xi_structs.h"

namespace xi
{

namespace
{

constexpr uint32_t kMagic = 0x58494c44; // "XILD"
constexpr uint32_t kVersion = 2;

struct RawAttachment {
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
static_assert(sizeof(RawAttachment) == 104);

struct RawGen {
    uint64_t generation;
    char config_path[512];
    char config_sha256[72];
    char table_sha256[72];
    char table_digests[4][72];
};

struct RawState {
    uint32_t magic;
    uint32_t version;
    char instance[64];
    char node[64];
    char netns[64];
    RawGen gens[2];
    uint64_t attached_at;
    uint64_t reloaded_at;
    uint64_t reloads_ok;
    uint64_t reloads_failed;
    uint64_t last_failure_at;
    char last_error[512];
    uint32_t n_attach;
    uint32_t pad;
    RawAttachment attach[kMaxAttachments];
};

template <size_t N>
void put(char (&dst)[N], const std::string &s)
{
    std::memset(dst, 0, N);
    std::memcpy(dst, s.data(), std::min(s.size(), N - 1));
}

template <size_t N>
std::string get(const char (&src)[N])
{
    return std::string(src, strnlen(src, N));
}

} // namespace

void save_state(const std::string &dir, const InstanceState &s)
{
    if (s.attachments.size() > kMaxAttachments)
        throw Error("internal: too many attachments to record");
    std::string path = dir + "/" + kStateMap;
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) {
        fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, kStateMap, sizeof(uint32_t), sizeof(RawState), 1,
                            nullptr);
        if (fd < 0)
            throw Error("cannot create map " + std::string(kStateMap), errno);
        if (bpf_obj_pin(fd, path.c_str()) != 0) {
            int err = errno;
            close(fd);
            throw Error("cannot pin " + path, err);
        }
    }
    RawState raw{};
    raw.magic = kMagic;
    raw.version = kVersion;
    put(raw.instance, s.instance);
    put(raw.node, s.node);
    put(raw.netns, s.netns);
    for (int i = 0; i < 2; i++) {
        const auto &g = s.gens[i];
        auto &r = raw.gens[i];
        r.generation = g.generation;
        put(r.config_path, g.config_path);
        put(r.config_sha256, g.config_sha256);
        put(r.table_sha256, g.table_sha256);
        for (int t = 0; t < 4; t++)
            put(r.table_digests[t], g.table_digests[t]);
    }
    raw.attached_at = s.attached_at;
    raw.reloaded_at = s.reloaded_at;
    raw.reloads_ok = s.reloads_ok;
    raw.reloads_failed = s.reloads_failed;
    raw.last_failure_at = s.last_failure_at;
    put(raw.last_error, s.last_error);
    raw.n_attach = s.attachments.size();
    for (size_t i = 0; i < s.attachments.size(); i++) {
        const auto &a = s.attachments[i];
        auto &r = raw.attach[i];
        put(r.ifname, a.ifname);
        put(r.prog_name, a.prog_name);
        put(r.pin_name, a.pin_name);
        r.ifindex = a.ifindex;
        r.prog_id = a.prog_id;
        r.tc_handle = a.tc_handle;
        r.tc_priority = a.tc_priority;
        r.hook = a.hook;
        r.method = static_cast<uint8_t>(a.method);
        r.xdp_mode = static_cast<uint8_t>(a.xdp_mode);
        r.created_qdisc = a.created_qdisc;
        r.handoff = a.handoff;
    }
    uint32_t key = 0;
    int rc = bpf_map_update_elem(fd, &key, &raw, BPF_ANY);
    int err = errno;
    close(fd);
    if (rc != 0)
        throw Error("cannot write map " + path, err);
}

std::optional<InstanceState> load_state(const std::string &dir)
{
    std::string path = dir + "/" + kStateMap;
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0)
        return std::nullopt;
    RawState raw{};
    uint32_t key = 0;
    int rc = bpf_map_lookup_elem(fd, &key, &raw);
    int err = errno;
    close(fd);
    if (rc != 0)
        throw Error("cannot read map " + path, err);
    if (raw.magic != kMagic)
        return std::nullopt; // created but never written: an attach died before recording
    if (raw.version != kVersion)
        throw Error(path + " has state version " + std::to_string(raw.version) + ", expected " +
                        std::to_string(kVersion),
                    0, "detach with the xdp-ingress version that attached it");
    InstanceState s;
    s.instance = get(raw.instance);
    s.node = get(raw.node);
    s.netns = get(raw.netns);
    for (int i = 0; i < 2; i++) {
        const auto &r = raw.gens[i];
        auto &g = s.gens[i];
        g.generation = r.generation;
        g.config_path = get(r.config_path);
        g.config_sha256 = get(r.config_sha256);
        g.table_sha256 = get(r.table_sha256);
        for (int t = 0; t < 4; t++)
            g.table_digests[t] = get(r.table_digests[t]);
    }
    s.attached_at = raw.attached_at;
    s.reloaded_at = raw.reloaded_at;
    s.reloads_ok = raw.reloads_ok;
    s.reloads_failed = raw.reloads_failed;
    s.last_failure_at = raw.last_failure_at;
    s.last_error = get(raw.last_error);
    // The record of the slot the datapath reads now is the truth about what runs.
    if (int afd = bpf_obj_get((dir + "/xi_active").c_str()); afd >= 0) {
        xi_active a{};
        uint32_t zero = 0;
        if (bpf_map_lookup_elem(afd, &zero, &a) == 0 && a.slot < 2 &&
            s.gens[a.slot].generation == a.generation) {
            const auto &g = s.gens[a.slot];
            s.generation = g.generation;
            s.config_path = g.config_path;
            s.config_sha256 = g.config_sha256;
            s.table_sha256 = g.table_sha256;
        }
        close(afd);
    }
    for (uint32_t i = 0; i < raw.n_attach && i < kMaxAttachments; i++) {
        const auto &r = raw.attach[i];
        Attachment a;
        a.ifname = get(r.ifname);
        a.prog_name = get(r.prog_name);
        a.pin_name = get(r.pin_name);
        a.ifindex = r.ifindex;
        a.prog_id = r.prog_id;
        a.tc_handle = r.tc_handle;
        a.tc_priority = r.tc_priority;
        a.hook = r.hook;
        a.method = static_cast<AttachMethod>(r.method);
        a.xdp_mode = static_cast<XdpMode>(r.xdp_mode);
        a.created_qdisc = r.created_qdisc;
        a.handoff = r.handoff;
        s.attachments.push_back(a);
    }
    return s;
}

} // namespace xi
