// Scratch instances of the real datapath per hand-off mode, other builds of an object, the steering
// paths.
#include "bench.h"

#include <net/if.h>

#include <algorithm>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <sched.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <chrono>

#include "bpffs.h"
#include "config.h"
#include "counters.h"
#include "error.h"
#include "handoff.h"
#include "handoff_modes.h"
#include "owner.h"
#include "xi_reasons.h"
#include "xi_names.h"
#include "generation.h"

extern char **environ;

namespace xi::bench
{

// ---- hand-off modes ---------------------------------------------------------------------

const char *mode_label(uint8_t handoff)
{
    return handoff == XI_HANDOFF_XDP_MARK ? "xdp-mark" : "tc";
}

std::vector<uint8_t> runnable_modes(const std::string &section)
{
    const HelperProbe &p = probe_xdp_meta();
    if (p.result == HelperProbe::Result::Available) {
        printf("Hand-off modes measured (%s): tc, xdp-mark (this kernel lets XDP call "
               "bpf_xdp_adjust_meta).\n",
               section.c_str());
        return {XI_HANDOFF_TC, XI_HANDOFF_XDP_MARK};
    }
    std::string why =
        p.result == HelperProbe::Result::Refused
            ? "this kernel's verifier refuses bpf_xdp_adjust_meta in XDP" +
                  (p.verifier.empty() ? "" : " (\"" + p.verifier + "\")")
            : "the bpf_xdp_adjust_meta probe failed (" + std::string(strerror(p.err)) + ")";
    printf("Hand-off modes measured (%s): tc only. xdp-mark NOT measured: %s, so xdp-ingress "
           "runs only the tc hand-off here.\n",
           section.c_str(), why.c_str());
    return {XI_HANDOFF_TC};
}

Counters steer_expect(uint8_t handoff, uint32_t reason, bool forwarded, int only_hook,
                      bool mark_fails)
{
    const test::HandoffMode &m = handoff != XI_HANDOFF_XDP_MARK ? test::kModeTc
                                 : mark_fails                   ? test::kModeXdpMarkFails
                                                                : test::kModeXdpMark;
    Counters all = test::steer_counters(m, reason, forwarded);
    if (forwarded)
        all[{XI_HOOK_TC_PUBLIC_INGRESS, XI_R_REDIRECT}] += 1;
    if (only_hook < 0)
        return all;
    Counters one;
    for (const auto &[k, v] : all)
        if (k.first == static_cast<uint32_t>(only_hook))
            one[k] = v;
    return one;
}

Instance::Instance(const std::string &pin_dir, const std::string &yaml, const std::string &node,
                   bool edge, uint8_t handoff, bool mark_fails)
    : dir_(pin_dir), yaml_(yaml), node_(node)
{
    require_bpffs(Paths());
    mkdir_p(Paths().root());
    remove_pin_dir(dir_); // leftovers of an interrupted run with the same tag
    mkdir_p(dir_);
    try {
        dp_ = std::make_unique<Datapath>(LoadOptions{dir_, edge, true, handoff, mark_fails});
        maps_ = std::make_unique<GenMaps>(GenMaps::open_pinned(dir_));
        publish(1);
    } catch (...) {
        maps_.reset();
        dp_.reset();
        remove_pin_dir(dir_);
        throw;
    }
}

Instance::~Instance()
{
    maps_.reset();
    dp_.reset();
    remove_pin_dir(dir_);
}

void Instance::publish(uint32_t mesh_ifindex)
{
    auto res = parse_config(yaml_, "bench.yaml");
    if (!res.errors.empty())
        throw std::runtime_error("generated config does not validate: " + res.errors[0].str());
    gen_ = publish_next_generation(*maps_, *res.config, node_, mesh_ifindex).gen;
}

Counters Instance::counters() const
{
    return reason_counters(dp_->map_fd(XI_MAP_STATS));
}

namespace
{
// Sets a one-byte variable of an object's .rodata before load (what a skeleton's
// rodata->NAME = v does). False if the object has no such variable.
bool set_rodata_u8(bpf_object *obj, const char *name, uint8_t v)
{
    const btf *b = bpf_object__btf(obj);
    if (!b)
        return false;
    bpf_map *map;
    bpf_object__for_each_map(map, obj)
    {
        const char *mname = bpf_map__name(map);
        if (!bpf_map__is_internal(map) || !strstr(mname, ".rodata"))
            continue;
        int sec = btf__find_by_name_kind(b, ".rodata", BTF_KIND_DATASEC);
        if (sec < 0)
            return false;
        const btf_type *t = btf__type_by_id(b, sec);
        const btf_var_secinfo *vs = btf_var_secinfos(t);
        for (unsigned i = 0; i < btf_vlen(t); i++, vs++) {
            const btf_type *var = btf__type_by_id(b, vs->type);
            if (strcmp(btf__name_by_offset(b, var->name_off), name) != 0 || vs->size != 1)
                continue;
            size_t size = 0;
            const auto *init = static_cast<const uint8_t *>(bpf_map__initial_value(map, &size));
            if (!init || vs->offset >= size)
                return false;
            std::vector<uint8_t> data(init, init + size);
            data[vs->offset] = v;
            return bpf_map__set_initial_value(map, data.data(), data.size()) == 0;
        }
    }
    return false;
}
} // namespace

ExtraObject::ExtraObject(const std::string &path, const Instance &in, uint8_t handoff)
{
    obj_ = bpf_object__open_file(path.c_str(), nullptr);
    if (!obj_)
        throw Error("cannot open " + path, errno);
    if (handoff && bpf_object__find_program_by_name(obj_, "xi_xdp_public") &&
        !set_rodata_u8(obj_, "xi_handoff", handoff)) {
        bpf_object__close(obj_);
        throw std::runtime_error(path + ": no .rodata xi_handoff to set");
    }
    bpf_map *map;
    bpf_object__for_each_map(map, obj_)
    {
        if (bpf_map__is_internal(map))
            continue;
        std::string pin = in.dir() + "/" + bpf_map__name(map);
        bpf_map__set_pin_path(map, pin.c_str());
    }
    int err = bpf_object__load(obj_);
    if (err) {
        bpf_object__close(obj_);
        throw Error("cannot load " + path + " against " + in.dir(), errno_of(err));
    }
}

ExtraObject::~ExtraObject()
{
    bpf_object__close(obj_);
}

int ExtraObject::prog(const std::string &name) const
{
    bpf_program *p = bpf_object__find_program_by_name(obj_, name.c_str());
    if (!p)
        throw std::runtime_error("no program " + name);
    return bpf_program__fd(p);
}

uint16_t Instance::node_slot(const std::string &name) const
{
    for (size_t i = 0; i < gen_.node_names.size(); i++)
        if (gen_.node_names[i] == name)
            return static_cast<uint16_t>(i);
    throw std::runtime_error("no node " + name);
}

// ---- steering fixtures -------------------------------------------------------------------

bool SteerPath::forwarded() const
{
    return reason == XI_R_FORWARD;
}

bool SteerPath::v4() const
{
    return name.find("IPv4") != std::string::npos;
}

std::vector<SteerPath> steer_paths(const XdpPackets &p)
{
    return {
        {"non-VIP, IPv4", &p.nonvip4, XI_R_PASS_NOT_VIP},
        {"local owner, IPv4", &p.local4, XI_R_LOCAL},
        {"sibling owner (forwarded), IPv4", &p.fwd4, XI_R_FORWARD},
        {"non-VIP, IPv6", &p.nonvip6, XI_R_PASS_NOT_VIP},
        {"local owner, IPv6", &p.local6, XI_R_LOCAL},
        {"sibling owner (forwarded), IPv6", &p.fwd6, XI_R_FORWARD},
    };
}

uint16_t port_owned_by(const Instance &in, const std::string &client, const std::string &vip,
                       uint16_t owner, uint16_t from)
{
    for (uint32_t p = from; p < 65000; p++) {
        FlowTuple t{*IpAddr::parse(client), *IpAddr::parse(vip), static_cast<uint16_t>(p), 443,
                    IPPROTO_TCP};
        if (flow_owner(in.gen(), t) == owner)
            return static_cast<uint16_t>(p);
    }
    throw std::runtime_error("no client port whose flow to " + vip + " node " +
                             std::to_string(owner) + " owns");
}

} // namespace xi::bench
