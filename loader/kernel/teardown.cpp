#include "teardown.h"

#include <bpf/libbpf.h>
#include <cerrno>
#include <map>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "bpffs.h"
#include "error.h"
#include "instance.h"
#include "xi_reasons.h"

namespace xi
{

void remove_pins(const std::string &dir, std::vector<std::string> *removed)
{
    for (const auto &name : list_dir(dir)) {
        std::string path = dir + "/" + name;
        if (unlink(path.c_str()) != 0 && errno != ENOENT)
            throw Error("cannot remove pin " + path, errno);
        if (removed)
            removed->push_back(name);
    }
    if (rmdir(dir.c_str()) != 0 && errno != ENOENT)
        throw Error("cannot remove " + dir, errno);
}

void drop_created_qdiscs(const std::vector<Attachment> &atts)
{
    std::map<uint32_t, bool> created;
    for (const auto &a : atts)
        if (a.method == AttachMethod::Clsact && a.created_qdisc)
            created[a.ifindex] = true;
    for (const auto &[ifindex, _] : created) {
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex),
                    .attach_point =
                        static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
        bpf_tc_hook_destroy(&hook); // gone already (interface deleted) is fine
    }
}

const char *hook_label(uint8_t hook)
{
    switch (hook) {
    case XI_HOOK_XDP_PUBLIC:
        return "xdp";
    case XI_HOOK_TC_PUBLIC_INGRESS:
    case XI_HOOK_TC_MESH_INGRESS:
    case XI_HOOK_TC_GUARD_INGRESS:
        return "tc ingress";
    default:
        return "tc egress";
    }
}

AttachRollback::~AttachRollback()
{
    if (done)
        return;
    for (auto it = st.attachments.rbegin(); it != st.attachments.rend(); ++it) {
        try {
            detach(dir, *it);
        } catch (const std::exception &e) {
            spdlog::warn("rollback: {}", e.what());
        }
    }
    drop_created_qdiscs(st.attachments);
    try {
        remove_pins(dir, nullptr);
    } catch (const std::exception &e) {
        spdlog::warn("rollback: {}", e.what());
    }
}

DetachReport detach_instance(const Paths &p, const std::string &instance, bool tc_filters_reachable)
{
    PinLock lock(p);
    DetachReport rep;
    std::string dir = p.instance(instance);
    if (!path_exists(dir))
        return rep;
    rep.was_attached = true;
    auto st = load_state(dir);
    if (st) {
        // XDP first: it stops marking packets before the TC programs that handle marks go.
        for (auto it = st->attachments.rbegin(); it != st->attachments.rend(); ++it) {
            if (it->method == AttachMethod::Clsact && !tc_filters_reachable)
                continue; // by ifindex in a namespace that no longer exists: gone with it
            detach(dir, *it);
            rep.removed.push_back(it->prog_name + "@" + it->ifname + " " + hook_label(it->hook));
        }
        if (tc_filters_reachable)
            drop_created_qdiscs(st->attachments);
    }
    remove_pins(dir, nullptr);
    return rep;
}

} // namespace xi
