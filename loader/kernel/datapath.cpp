#include "datapath.h"

#include <bpf/libbpf.h>
#include <cstdio>
#include <sys/utsname.h>

#include "caps.h"
#include "error.h"
#include "libbpf_log.h"
#include "tc_mesh_egress.skel.h"
#include "tc_mesh_ingress.skel.h"
#include "tc_guard_egress.skel.h"
#include "tc_guard_ingress.skel.h"
#include "tc_public_egress.skel.h"
#include "tc_public_ingress.skel.h"
#include "xdp_public.skel.h"
#include "xi_common.h"

namespace xi
{

namespace
{

template <typename S, void (*Destroy)(S *)>
struct SkelDeleter {
    void operator()(S *s) const { Destroy(s); }
};

template <typename S, void (*Destroy)(S *)>
using SkelPtr = std::unique_ptr<S, SkelDeleter<S, Destroy>>;

// Point every map of the object at its pin in dir: libbpf then reuses an existing pin (after
// checking that type, sizes and flags match) or creates the map and pins it.
void set_pin_paths(bpf_object *obj, const std::string &dir)
{
    bpf_map *map;
    bpf_object__for_each_map(map, obj)
    {
        if (bpf_map__is_internal(map))
            continue;
        std::string path = dir + "/" + bpf_map__name(map);
        int err = bpf_map__set_pin_path(map, path.c_str());
        if (err)
            throw Error(std::string("cannot set pin path of map ") + bpf_map__name(map),
                        errno_of(err));
    }
}

template <typename S>
S *open_skel(const char *what, S *(*open)(const bpf_object_open_opts *))
{
    S *s = open(nullptr);
    if (!s)
        throw Error(std::string("cannot open BPF object ") + what, errno);
    return s;
}

// What to tell a user whose program the kernel would not load, in one sentence.
std::string load_hint(int e, const std::string &log)
{
    // EPERM (no CAP_BPF/CAP_NET_ADMIN) and EACCES (verifier without CAP_PERFMON) are most
    // often missing capabilities: say which, rather than pointing at the verifier log.
    std::string caps = e == EPERM || e == EACCES ? capability_hint() : std::string();
    if (!caps.empty())
        return caps;
    std::string helper = refused_helper(log);
    if (!helper.empty())
        return "this kernel's verifier refuses the helper " + helper +
               " in this program type (its log is above)" +
               (helper.rfind("bpf_xdp_adjust_meta", 0) == 0
                    ? ": attach with --handoff tc, or --handoff auto, which probes for it"
                    : "");
    struct utsname u {
    };
    uname(&u);
    unsigned major = 0, minor = 0;
    if (sscanf(u.release, "%u.%u", &major, &minor) == 2 && (major < 6 || (major == 6 && minor < 1)))
        return std::string("kernel ") + u.release +
               " is older than 6.1, the oldest xdp-ingress "
               "supports";
    return "the verifier's log is printed above; rerun with -v for libbpf's debug output";
}

template <typename S>
void load_skel(const char *what, S *s, int (*load)(S *), const std::string &dir)
{
    set_pin_paths(s->obj, dir);
    int err;
    std::string log;
    {
        LibbpfCapture cap(true); // the log still reaches the user, whole
        err = load(s);
        log = cap.text();
    }
    if (!err)
        return;
    int e = errno_of(err);
    throw Error(std::string("cannot load BPF object ") + what, e, load_hint(e, log));
}

} // namespace

struct Datapath::Objects {
    SkelPtr<xdp_public, xdp_public__destroy> xdp;
    SkelPtr<tc_public_ingress, tc_public_ingress__destroy> pub_in;
    SkelPtr<tc_public_egress, tc_public_egress__destroy> pub_out;
    SkelPtr<tc_mesh_ingress, tc_mesh_ingress__destroy> mesh_in;
    SkelPtr<tc_mesh_egress, tc_mesh_egress__destroy> mesh_out;
    SkelPtr<tc_guard_ingress, tc_guard_ingress__destroy> guard_in;
    SkelPtr<tc_guard_egress, tc_guard_egress__destroy> guard_out;
    bool l2 = false;
};

Datapath::Datapath(const LoadOptions &opts) : o_(std::make_unique<Objects>())
{
    o_->l2 = opts.mesh_l2;
    const auto &dir = opts.pin_dir;
    if (opts.edge) {
        o_->xdp.reset(open_skel("xdp_public", xdp_public__open_opts));
        o_->xdp->rodata->xi_handoff = opts.handoff;
        o_->xdp->rodata->xi_test_mark_fails = opts.test_mark_fails;
        load_skel("xdp_public", o_->xdp.get(), xdp_public__load, dir);
        o_->pub_in.reset(open_skel("tc_public_ingress", tc_public_ingress__open_opts));
        load_skel("tc_public_ingress", o_->pub_in.get(), tc_public_ingress__load, dir);
        o_->pub_out.reset(open_skel("tc_public_egress", tc_public_egress__open_opts));
        load_skel("tc_public_egress", o_->pub_out.get(), tc_public_egress__load, dir);
    }
    if (!opts.mesh)
        return;
    // Only the entry the mesh device needs is loaded (and verified).
    o_->mesh_in.reset(open_skel("tc_mesh_ingress", tc_mesh_ingress__open_opts));
    bpf_program__set_autoload(o_->mesh_in->progs.xi_mesh_in_l2, opts.mesh_l2);
    bpf_program__set_autoload(o_->mesh_in->progs.xi_mesh_in_l3, !opts.mesh_l2);
    load_skel("tc_mesh_ingress", o_->mesh_in.get(), tc_mesh_ingress__load, dir);
    o_->mesh_out.reset(open_skel("tc_mesh_egress", tc_mesh_egress__open_opts));
    bpf_program__set_autoload(o_->mesh_out->progs.xi_mesh_out_l2, opts.mesh_l2);
    bpf_program__set_autoload(o_->mesh_out->progs.xi_mesh_out_l3, !opts.mesh_l2);
    load_skel("tc_mesh_egress", o_->mesh_out.get(), tc_mesh_egress__load, dir);
    o_->guard_in.reset(open_skel("tc_guard_ingress", tc_guard_ingress__open_opts));
    load_skel("tc_guard_ingress", o_->guard_in.get(), tc_guard_ingress__load, dir);
    o_->guard_out.reset(open_skel("tc_guard_egress", tc_guard_egress__open_opts));
    load_skel("tc_guard_egress", o_->guard_out.get(), tc_guard_egress__load, dir);
}

Datapath::~Datapath() = default;

int Datapath::prog_fd(Prog p) const
{
    switch (p) {
    case Prog::XdpPublic:
        return o_->xdp ? bpf_program__fd(o_->xdp->progs.xi_xdp_public) : -1;
    case Prog::TcPublicIngress:
        return o_->pub_in ? bpf_program__fd(o_->pub_in->progs.xi_tc_pub_in) : -1;
    case Prog::TcPublicEgress:
        return o_->pub_out ? bpf_program__fd(o_->pub_out->progs.xi_tc_pub_out) : -1;
    case Prog::MeshIngress:
        if (!o_->mesh_in)
            return -1;
        return bpf_program__fd(o_->l2 ? o_->mesh_in->progs.xi_mesh_in_l2
                                      : o_->mesh_in->progs.xi_mesh_in_l3);
    case Prog::MeshEgress:
        if (!o_->mesh_out)
            return -1;
        return bpf_program__fd(o_->l2 ? o_->mesh_out->progs.xi_mesh_out_l2
                                      : o_->mesh_out->progs.xi_mesh_out_l3);
    case Prog::GuardIngressL2:
        return o_->guard_in ? bpf_program__fd(o_->guard_in->progs.xi_guard_in_l2) : -1;
    case Prog::GuardIngressL3:
        return o_->guard_in ? bpf_program__fd(o_->guard_in->progs.xi_guard_in_l3) : -1;
    case Prog::GuardEgressL2:
        return o_->guard_out ? bpf_program__fd(o_->guard_out->progs.xi_guard_out_l2) : -1;
    case Prog::GuardEgressL3:
        return o_->guard_out ? bpf_program__fd(o_->guard_out->progs.xi_guard_out_l3) : -1;
    }
    return -1;
}

std::string Datapath::prog_name(Prog p) const
{
    switch (p) {
    case Prog::XdpPublic:
        return "xi_xdp_public";
    case Prog::TcPublicIngress:
        return "xi_tc_pub_in";
    case Prog::TcPublicEgress:
        return "xi_tc_pub_out";
    case Prog::MeshIngress:
        return o_->l2 ? "xi_mesh_in_l2" : "xi_mesh_in_l3";
    case Prog::MeshEgress:
        return o_->l2 ? "xi_mesh_out_l2" : "xi_mesh_out_l3";
    case Prog::GuardIngressL2:
        return "xi_guard_in_l2";
    case Prog::GuardIngressL3:
        return "xi_guard_in_l3";
    case Prog::GuardEgressL2:
        return "xi_guard_out_l2";
    case Prog::GuardEgressL3:
        return "xi_guard_out_l3";
    }
    return "";
}

Prog guard_prog(bool ingress, bool l2)
{
    if (ingress)
        return l2 ? Prog::GuardIngressL2 : Prog::GuardIngressL3;
    return l2 ? Prog::GuardEgressL2 : Prog::GuardEgressL3;
}

int Datapath::map_fd(const std::string &name) const
{
    bpf_object *objs[] = {o_->mesh_in ? o_->mesh_in->obj : nullptr,
                          o_->mesh_out ? o_->mesh_out->obj : nullptr,
                          o_->xdp ? o_->xdp->obj : nullptr, o_->pub_in ? o_->pub_in->obj : nullptr};
    for (auto *obj : objs) {
        if (!obj)
            continue;
        int fd = bpf_object__find_map_fd_by_name(obj, name.c_str());
        if (fd >= 0)
            return fd;
    }
    throw Error("internal: no loaded BPF object has map " + name);
}

bool is_datapath_map_name(const std::string &name)
{
    return name.rfind(XI_MAP_PREFIX, 0) == 0;
}

} // namespace xi
