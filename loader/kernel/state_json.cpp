// The state record as JSON: named fields, so a later release adds a field without a format
// version of its own and an older record simply lacks it (read as its default). "version" moves
// only when a field changes meaning; a record from a newer version is refused, not guessed at.
#include <nlohmann/json.hpp>

#include "error.h"
#include "state.h"

namespace xi
{

namespace
{

constexpr const char *kFormat = "xdp-ingress-state";
constexpr int kVersion = 3; // 1 and 2 were the binary record (state_legacy.h)

nlohmann::json gen_json(const GenRecord &g)
{
    return {{"generation", g.generation},
            {"config_path", g.config_path},
            {"config_sha256", g.config_sha256},
            {"table_sha256", g.table_sha256},
            {"table_digests", g.table_digests}};
}

nlohmann::json attachment_json(const Attachment &a)
{
    nlohmann::json j = {{"ifname", a.ifname},      {"ifindex", a.ifindex},
                        {"hook", a.hook},          {"method", attach_method_name(a.method)},
                        {"handoff", a.handoff},    {"prog_id", a.prog_id},
                        {"prog_name", a.prog_name}};
    if (a.xdp_mode != XdpMode::None)
        j["xdp_mode"] = xdp_mode_name(a.xdp_mode);
    if (a.method == AttachMethod::Clsact) {
        j["tc_handle"] = a.tc_handle;
        j["tc_priority"] = a.tc_priority;
        j["created_qdisc"] = a.created_qdisc;
    } else {
        j["pin_name"] = a.pin_name;
    }
    return j;
}

AttachMethod method_from(const std::string &s)
{
    for (auto m : {AttachMethod::XdpLink, AttachMethod::Tcx, AttachMethod::Clsact})
        if (s == attach_method_name(m))
            return m;
    throw std::invalid_argument("unknown attach method \"" + s + "\"");
}

XdpMode mode_from(const std::string &s)
{
    for (auto m : {XdpMode::None, XdpMode::Native, XdpMode::Generic})
        if (s == xdp_mode_name(m))
            return m;
    throw std::invalid_argument("unknown XDP mode \"" + s + "\"");
}

GenRecord gen_from(const nlohmann::json &j)
{
    GenRecord g;
    g.generation = j.value("generation", uint64_t{0});
    g.config_path = j.value("config_path", "");
    g.config_sha256 = j.value("config_sha256", "");
    g.table_sha256 = j.value("table_sha256", "");
    if (j.contains("table_digests"))
        g.table_digests = j.at("table_digests").get<std::array<std::string, 4>>();
    return g;
}

Attachment attachment_from(const nlohmann::json &j)
{
    Attachment a;
    a.ifname = j.at("ifname").get<std::string>();
    a.ifindex = j.at("ifindex").get<uint32_t>();
    a.hook = j.at("hook").get<uint8_t>();
    a.method = method_from(j.at("method").get<std::string>());
    a.xdp_mode = mode_from(j.value("xdp_mode", ""));
    a.handoff = j.value("handoff", uint8_t{0});
    a.prog_id = j.value("prog_id", uint32_t{0});
    a.prog_name = j.value("prog_name", "");
    a.tc_handle = j.value("tc_handle", uint32_t{0});
    a.tc_priority = j.value("tc_priority", uint32_t{0});
    a.created_qdisc = j.value("created_qdisc", false);
    a.pin_name = j.value("pin_name", "");
    return a;
}

} // namespace

const char *attach_method_name(AttachMethod m)
{
    switch (m) {
    case AttachMethod::XdpLink:
        return "xdp";
    case AttachMethod::Tcx:
        return "tcx";
    case AttachMethod::Clsact:
        return "clsact";
    }
    return "?";
}

const char *xdp_mode_name(XdpMode m)
{
    switch (m) {
    case XdpMode::Native:
        return "native";
    case XdpMode::Generic:
        return "generic";
    case XdpMode::None:
        break;
    }
    return "";
}

std::string state_to_json(const InstanceState &s)
{
    nlohmann::json j = {{"format", kFormat},
                        {"version", kVersion},
                        {"instance", s.instance},
                        {"node", s.node},
                        {"netns", s.netns},
                        {"slots", {gen_json(s.gens[0]), gen_json(s.gens[1])}},
                        {"attached_at", s.attached_at},
                        {"reloaded_at", s.reloaded_at},
                        {"reloads_ok", s.reloads_ok},
                        {"reloads_failed", s.reloads_failed},
                        {"last_failure_at", s.last_failure_at},
                        {"last_error", s.last_error},
                        {"datapath_features", s.datapath_features},
                        {"attachments", nlohmann::json::array()}};
    for (const auto &a : s.attachments)
        j["attachments"].push_back(attachment_json(a));
    // Replacement characters for invalid UTF-8 (a last_error quoting a byte of a bad file):
    // the record must always be writable.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

InstanceState state_from_json(const std::string &text, const std::string &where)
{
    const std::string hint = "detach with the xdp-ingress version that attached it";
    try {
        auto j = nlohmann::json::parse(text);
        if (j.value("format", "") != kFormat)
            throw Error(where + " is not an xdp-ingress state record", 0, hint);
        int version = j.at("version").get<int>();
        if (version != kVersion)
            throw Error(where + " has state version " + std::to_string(version) + ", expected " +
                            std::to_string(kVersion),
                        0, hint);
        InstanceState s;
        s.instance = j.at("instance").get<std::string>();
        s.node = j.value("node", "");
        s.netns = j.value("netns", "");
        const auto &slots = j.at("slots");
        if (!slots.is_array() || slots.size() != s.gens.size())
            throw std::invalid_argument("\"slots\" must list 2 generation slots");
        for (size_t i = 0; i < s.gens.size(); i++)
            s.gens[i] = gen_from(slots[i]);
        s.attached_at = j.value("attached_at", uint64_t{0});
        s.reloaded_at = j.value("reloaded_at", uint64_t{0});
        s.reloads_ok = j.value("reloads_ok", uint64_t{0});
        s.reloads_failed = j.value("reloads_failed", uint64_t{0});
        s.last_failure_at = j.value("last_failure_at", uint64_t{0});
        s.last_error = j.value("last_error", "");
        s.datapath_features =
            j.value("datapath_features", std::vector<std::string>{}); // absent: a release's
        for (const auto &a : j.at("attachments"))
            s.attachments.push_back(attachment_from(a));
        if (s.attachments.size() > kMaxAttachments)
            throw std::invalid_argument("more than " + std::to_string(kMaxAttachments) +
                                        " attachments");
        return s;
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error(where + " holds an unreadable state record: " + e.what(), 0, hint);
    }
}

} // namespace xi
