#include "guard_attach.h"

#include <algorithm>

#include "attach.h"
#include "error.h"
#include "xi_reasons.h"

namespace xi
{

GuardTargets guard_targets(const Config &c, const std::string &mesh_if)
{
    GuardTargets t;
    auto here = interface_names();
    auto present = [&](const std::string &n) {
        return std::find(here.begin(), here.end(), n) != here.end();
    };
    if (c.guard_interfaces) {
        for (const auto &n : *c.guard_interfaces)
            (present(n) && n != mesh_if && n != "lo" ? t.names : t.missing).push_back(n);
        return t;
    }
    for (const auto &n : here)
        if (n != "lo" && n != mesh_if)
            t.names.push_back(n);
    if (t.names.size() > kGuardMaxInterfaces)
        throw Error("the metadata guard would go on " + std::to_string(t.names.size()) +
                        " interfaces of this namespace, more than " +
                        std::to_string(kGuardMaxInterfaces),
                    E2BIG,
                    "list the interfaces that lead to a metadata service or terminate tunnels in "
                    "metadata_guard.interfaces (docs/policy.md)");
    return t;
}

bool is_guard_hook(uint8_t hook)
{
    return hook == XI_HOOK_TC_GUARD_INGRESS || hook == XI_HOOK_TC_GUARD_EGRESS;
}

Prog guard_prog_of(const Attachment &a)
{
    bool l2 = a.prog_name.size() >= 3 && a.prog_name.compare(a.prog_name.size() - 3, 3, "_l2") == 0;
    return guard_prog(a.hook == XI_HOOK_TC_GUARD_INGRESS, l2);
}

std::vector<std::string> attach_guard(const Datapath &dp, const std::string &dir,
                                      const GuardTargets &t, const std::vector<Attachment> &have,
                                      const std::function<void(Attachment)> &add, std::string *note)
{
    std::vector<std::string> guarded;
    for (const auto &ifname : t.names) {
        bool done = std::any_of(have.begin(), have.end(), [&](const Attachment &a) {
            return is_guard_hook(a.hook) && a.ifname == ifname;
        });
        uint32_t ifindex = interface_index(ifname);
        if (done || !ifindex)
            continue; // already guarded, or gone since it was listed
        bool l2 = interface_is_ethernet(ifname);
        for (bool ingress : {true, false}) {
            Prog p = guard_prog(ingress, l2);
            uint8_t hook = ingress ? XI_HOOK_TC_GUARD_INGRESS : XI_HOOK_TC_GUARD_EGRESS;
            add(attach_tc({dir, ifname, ifindex, hook, dp.prog_fd(p), dp.prog_name(p)}, ingress,
                          note));
        }
        guarded.push_back(ifname);
    }
    return guarded;
}

std::string describe_guard(const std::vector<std::string> &guarded, const GuardTargets &t)
{
    std::string out = "metadata guard on ";
    if (guarded.empty())
        out += "no interface";
    for (size_t i = 0; i < guarded.size(); i++)
        out += (i ? ", " : "") + guarded[i];
    if (!t.missing.empty()) {
        out += " (not in this namespace, so not guarded:";
        for (const auto &m : t.missing)
            out += " " + m;
        out += ")";
    }
    return out;
}

} // namespace xi
