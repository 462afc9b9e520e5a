#include "state_legacy.h"

#include <cstring>

#include "error.h"

namespace xi
{

namespace
{

template <size_t N>
std::string text(const char (&src)[N])
{
    return std::string(src, strnlen(src, N));
}

GenRecord decode_gen(const LegacyGen &r)
{
    GenRecord g;
    g.generation = r.generation;
    g.config_path = text(r.config_path);
    g.config_sha256 = text(r.config_sha256);
    g.table_sha256 = text(r.table_sha256);
    for (size_t t = 0; t < g.table_digests.size(); t++)
        g.table_digests[t] = text(r.table_digests[t]);
    return g;
}

Attachment decode_attachment(const LegacyAttachment &r)
{
    Attachment a;
    a.ifname = text(r.ifname);
    a.prog_name = text(r.prog_name);
    a.pin_name = text(r.pin_name);
    a.ifindex = r.ifindex;
    a.prog_id = r.prog_id;
    a.tc_handle = r.tc_handle;
    a.tc_priority = r.tc_priority;
    a.hook = r.hook;
    a.method = static_cast<AttachMethod>(r.method);
    a.xdp_mode = static_cast<XdpMode>(r.xdp_mode);
    a.created_qdisc = r.created_qdisc;
    a.handoff = r.handoff;
    return a;
}

} // namespace

std::optional<InstanceState> decode_legacy_state(const LegacyState &raw, const std::string &where)
{
    if (raw.magic != kLegacyMagic)
        return std::nullopt;
    if (raw.version != kLegacyVersion)
        throw Error(where + " has state version " + std::to_string(raw.version) + ", expected " +
                        std::to_string(kLegacyVersion),
                    0, "detach with the xdp-ingress version that attached it");
    InstanceState s;
    s.instance = text(raw.instance);
    s.node = text(raw.node);
    s.netns = text(raw.netns);
    for (size_t i = 0; i < s.gens.size(); i++)
        s.gens[i] = decode_gen(raw.gens[i]);
    s.attached_at = raw.attached_at;
    s.reloaded_at = raw.reloaded_at;
    s.reloads_ok = raw.reloads_ok;
    s.reloads_failed = raw.reloads_failed;
    s.last_failure_at = raw.last_failure_at;
    s.last_error = text(raw.last_error);
    for (uint32_t i = 0; i < raw.n_attach && i < kLegacyMaxAttachments; i++)
        s.attachments.push_back(decode_attachment(raw.attach[i]));
    return s;
}

} // namespace xi
