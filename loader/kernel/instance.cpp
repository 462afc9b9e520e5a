#include "instance.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "compile.h"
#include "datapath.h"
#include "error.h"
#include "event_budget.h"
#include "generation.h"
#include "guard_attach.h"
#include "teardown.h"
#include "publish.h"
#include "sysctl.h"
#include "xi_reasons.h"

namespace xi
{

namespace
{

uint64_t now_s()
{
    return static_cast<uint64_t>(time(nullptr));
}

struct Resolved {
    Config config;
    const NodeCfg *self = nullptr;
    uint32_t mesh_ifindex = 0, public_ifindex = 0;
    bool mesh_l2 = false;
    GuardTargets guard;
};

Resolved resolve(const AttachOptions &o)
{
    auto res = load_config(o.config_path);
    if (!res.errors.empty())
        throw ConfigErrors(res.errors);
    Resolved r{std::move(*res.config), nullptr, 0, 0, false, {}};
    r.self = r.config.find_node(o.node);
    if (!r.self) {
        // A config error like the others (file:line:col, JSON errors list): the node list is
        // where the node is missing, and naming the nodes shows what --node can be.
        std::string names;
        for (const auto &n : r.config.nodes)
            names += (names.empty() ? "" : ", ") + n.name;
        throw ConfigErrors({{r.config.path, r.config.nodes_pos,
                             "node '" + o.node + "' is not in the config (nodes: " + names +
                                 "): pass --node NAME with one of them"}});
    }
    auto need_if = [&](const std::string &ifname, const char *role) {
        uint32_t idx = interface_index(ifname);
        if (!idx)
            throw Error("interface '" + ifname + "' (" + role + " of node " + r.self->name +
                            ") does not exist in this network namespace",
                        ENODEV, "create it, fix the config, or pass --netns NAME");
        return idx;
    };
    r.mesh_ifindex = need_if(r.self->mesh_if, "mesh_interface");
    if (r.self->is_edge())
        r.public_ifindex = need_if(r.self->public_if, "public_interface");
    r.mesh_l2 = interface_is_ethernet(r.self->mesh_if);
    r.guard = guard_targets(r.config, r.self->mesh_if); // before anything changes
    return r;
}

// Compiles and publishes the next generation; records what the new slot holds before it goes
// live, so the state always describes what runs even if this process dies half way.
PublishResult publish_next(const std::string &dir, const Config &config, const std::string &node,
                           uint32_t mesh_ifindex, InstanceState &st)
{
    auto maps = GenMaps::open_pinned(dir);
    ActiveGen cur = read_active(maps);
    // Absolute, so status and reload from another working directory find the same file; not
    // canonical, so a ConfigMap's symlink swap is still followed.
    std::string abs_path = std::filesystem::absolute(config.path).lexically_normal().string();
    std::array<std::string, 4> running{};
    if (cur.generation && st.gens[cur.slot].generation == cur.generation)
        running = st.gens[cur.slot].table_digests;
    auto next = publish_next_generation(
        maps, config, node, mesh_ifindex, running, [&](uint32_t slot, const GenContent &gen) {
            st.gens[slot] = {gen.cfg.generation, abs_path, config.sha256, gen.table_sha256,
                             gen.table_digests};
            save_state(dir, st);
        });
    const GenContent &gen = next.gen;
    st.generation = gen.cfg.generation;
    st.config_path = abs_path;
    st.config_sha256 = config.sha256;
    st.table_sha256 = gen.table_sha256;
    return next.res;
}

// The load options for this node: which objects, which mesh entry, which hand-off.
LoadOptions load_options(const AttachOptions &o, const Resolved &r, const std::string &dir)
{
    LoadOptions lo{dir, r.self->is_edge(), r.mesh_l2};
    if (r.self->is_edge()) {
        lo.handoff = choose_handoff(o.handoff, r.self->public_if);
        const char *env = std::getenv("XI_TEST_MARK_FAILS");
        lo.test_mark_fails = o.test_mark_fails || (env && *env == '1');
    }
    return lo;
}

bool public_handoff_hook(uint8_t hook)
{
    return hook == XI_HOOK_XDP_PUBLIC || hook == XI_HOOK_TC_PUBLIC_INGRESS;
}

AttachReport replace_programs(const AttachOptions &o, const Resolved &r, const std::string &dir,
                              InstanceState st)
{
    AttachReport rep;
    rep.replaced = true;
    LoadOptions lo = load_options(o, r, dir);
    Datapath dp(lo);
    EventBudget::clear(dir);
    // The order recorded at attach: TC before XDP, so the TC program that handles what the new
    // XDP program hands over is in place before that program runs.
    for (auto &a : st.attachments) {
        Prog p;
        switch (a.hook) {
        case XI_HOOK_XDP_PUBLIC:
            p = Prog::XdpPublic;
            break;
        case XI_HOOK_TC_PUBLIC_INGRESS:
            p = Prog::TcPublicIngress;
            break;
        case XI_HOOK_TC_PUBLIC_EGRESS:
            p = Prog::TcPublicEgress;
            break;
        case XI_HOOK_TC_MESH_INGRESS:
            p = Prog::MeshIngress;
            break;
        case XI_HOOK_TC_MESH_EGRESS:
            p = Prog::MeshEgress;
            break;
        default:
            p = guard_prog_of(a);
            break;
        }
        replace_program(dir, a, dp.prog_fd(p));
        a.prog_name = dp.prog_name(p);
        if (a.hook == XI_HOOK_TC_PUBLIC_INGRESS && a.handoff != lo.handoff)
            rep.notes.push_back(
                "hand-off on " + a.ifname + ": " + handoff_name(lo.handoff) + ", was " +
                (a.handoff ? handoff_name(a.handoff)
                           : "xdp-mark (the release before hand-offs always marked)"));
        if (public_handoff_hook(a.hook))
            a.handoff = lo.handoff;
        rep.notes.push_back("replaced " + a.prog_name + " on " + a.ifname + " " +
                            hook_label(a.hook) + " (program id " + std::to_string(a.prog_id) + ")");
    }
    st.datapath_features = kDatapathFeatures; // every hook runs this build's programs now
    save_state(dir, st);
    // Interfaces that appeared since, or all of them when the release replaced had no guard.
    std::string note;
    auto guarded = attach_guard(
        dp, dir, r.guard, st.attachments,
        [&](Attachment a) {
            st.attachments.push_back(std::move(a));
            save_state(dir, st);
        },
        &note);
    if (!guarded.empty())
        rep.notes.push_back("added the " + describe_guard(guarded, r.guard));
    rep.state = st;
    rep.fleet = fleet_view(r.config);
    return rep;
}

} // namespace

std::string default_node_name()
{
    char buf[256] = {};
    if (gethostname(buf, sizeof(buf) - 1) != 0)
        return "localhost";
    return buf;
}

std::vector<std::string> list_instances(const Paths &p)
{
    auto names = list_dir(p.root());
    std::erase_if(names, [](const std::string &n) { return !valid_instance_name(n); });
    return names;
}

namespace
{

// Every hook of this node, each recorded in the state as soon as it exists (detach finds it
// after a crash).
void attach_hooks(Datapath &dp, const LoadOptions &lo, const Resolved &r, const std::string &dir,
                  XdpModeRequest xdp_mode, AttachReport &rep)
{
    InstanceState &st = rep.state;
    auto add = [&](Attachment a) {
        if (public_handoff_hook(a.hook))
            a.handoff = lo.handoff;
        st.attachments.push_back(std::move(a));
        save_state(dir, st); // recorded as soon as it exists, so detach finds it after a crash
    };
    auto spec = [&](const std::string &ifname, uint32_t ifindex, uint8_t hook, Prog p) {
        return AttachSpec{dir, ifname, ifindex, hook, dp.prog_fd(p), dp.prog_name(p)};
    };
    std::string note;
    // Order matters: the TC side must be in place before XDP starts handing packets to it.
    add(attach_tc(spec(r.self->mesh_if, r.mesh_ifindex, XI_HOOK_TC_MESH_INGRESS, Prog::MeshIngress),
                  true, &note));
    add(attach_tc(spec(r.self->mesh_if, r.mesh_ifindex, XI_HOOK_TC_MESH_EGRESS, Prog::MeshEgress),
                  false, &note));
    rep.notes.push_back(
        describe_guard(attach_guard(dp, dir, r.guard, st.attachments, add, &note), r.guard));
    if (r.self->is_edge()) {
        add(attach_tc(spec(r.self->public_if, r.public_ifindex, XI_HOOK_TC_PUBLIC_EGRESS,
                           Prog::TcPublicEgress),
                      false, &note));
        add(attach_tc(spec(r.self->public_if, r.public_ifindex, XI_HOOK_TC_PUBLIC_INGRESS,
                           Prog::TcPublicIngress),
                      true, &note));
        std::string warning;
        add(attach_xdp(
            spec(r.self->public_if, r.public_ifindex, XI_HOOK_XDP_PUBLIC, Prog::XdpPublic),
            xdp_mode, &warning));
        if (!warning.empty())
            rep.notes.push_back(warning);
    }
    if (!note.empty())
        rep.notes.push_back(note);
}

} // namespace

AttachReport attach_instance(const AttachOptions &o)
{
    std::string instance = o.instance.empty() ? o.node : o.instance;
    if (!valid_instance_name(instance))
        throw Error("invalid instance name '" + instance + "'", 0,
                    "use letters, digits, '-', '_' and '.' (at most 63)");
    Resolved r = resolve(o);
    PinLock lock(o.paths);
    std::string dir = o.paths.instance(instance);

    auto existing = load_state(dir);
    if (existing && o.replace)
        return replace_programs(o, r, dir, *existing);
    if (existing)
        throw Error(describe_attached(*existing), EEXIST,
                    "nothing changed; use `reload` to apply a new config, `attach --replace` to "
                    "upgrade the programs, or `detach` first");

    AttachReport rep;
    // Before anything changes: a hand-off this kernel cannot run is refused with nothing done.
    LoadOptions lo = load_options(o, r, dir);
    if (path_exists(dir)) {
        rep.notes.push_back("removed the leftovers of an interrupted attach in " + dir);
        remove_pins(dir, nullptr);
    }
    mkdir_p(dir);

    InstanceState &st = rep.state;
    st.instance = instance;
    st.node = o.node;
    st.netns = o.netns;
    st.attached_at = now_s();
    st.datapath_features = kDatapathFeatures;

    // Undo everything this call created if any step fails: no half-attached instance.
    AttachRollback rollback{dir, st};

    if (r.self->is_edge())
        for (auto &c : ensure_loose_rp_filter(r.self->mesh_if, o.fix_sysctl))
            rep.notes.push_back("set " + c.key + "=" + c.to + " (was " + c.from +
                                "): strict reverse-path filtering drops decapsulated packets");

    Datapath dp(lo);
    publish_next(dir, r.config, o.node, r.mesh_ifindex, st);

    attach_hooks(dp, lo, r, dir, o.xdp_mode, rep);
    rollback.done = true;
    rep.fleet = fleet_view(r.config);
    return rep;
}

FleetView fleet_view(const Config &c)
{
    return {c.failover, c.drain_timeout, c.nodes};
}

ReloadReport reload_instance(const ReloadOptions &o)
{
    std::string dir = o.paths.instance(o.instance);
    auto res = load_config(o.config_path);
    if (!res.errors.empty()) {
        // The running policy stays; the failure is recorded for status, metrics and health.
        PinLock lock(o.paths);
        if (auto st = load_state(dir)) {
            st->reloads_failed++;
            st->last_failure_at = now_s();
            st->last_error = res.errors[0].str();
            save_state(dir, *st);
        }
        throw ConfigErrors(res.errors);
    }
    const Config &config = *res.config;
    PinLock lock(o.paths);
    auto st = load_state(dir);
    if (!st)
        throw Error("instance '" + o.instance + "' is not attached", ENOENT,
                    "attach it first (xdp-ingress attach --config FILE)");
    auto fail = [&](const Error &e) {
        st->reloads_failed++;
        st->last_failure_at = now_s();
        st->last_error = e.full();
        save_state(dir, *st);
        return e;
    };
    const NodeCfg *self = config.find_node(st->node);
    if (!self)
        throw fail(Error("node '" + st->node + "' of instance '" + o.instance + "' is not in " +
                             o.config_path,
                         0, "a reload cannot rename the node: detach and attach instead"));
    // Programs stay where they are: a config that moves them needs detach + attach.
    for (const auto &a : st->attachments) {
        if (is_guard_hook(a.hook))
            continue; // follows the interfaces there are, not the config's mesh and public ones
        bool mesh = a.hook == XI_HOOK_TC_MESH_INGRESS || a.hook == XI_HOOK_TC_MESH_EGRESS;
        const std::string &want = mesh ? self->mesh_if : self->public_if;
        if (a.ifname != want)
            throw fail(Error("the config moves " + std::string(mesh ? "mesh" : "public") +
                                 " hooks of node " + st->node + " from " + a.ifname + " to '" +
                                 want + "'",
                             0, "interfaces cannot change on reload: detach and attach instead"));
    }
    // A fleet change needs programs that read previous owners (kDatapathFeatures).
    bool step = std::any_of(config.nodes.begin(), config.nodes.end(), [](const NodeCfg &n) {
        return n.state == NodeCfg::State::Joining || n.state == NodeCfg::State::Draining;
    });
    if (step && !st->has_feature("second-chance"))
        throw fail(Error("the config makes a fleet change (an edge joining or draining), which "
                         "the programs attached to instance '" +
                             o.instance + "' predate",
                         0,
                         "run `xdp-ingress attach --replace` with this version first; the "
                         "running policy stays"));
    if (self->is_edge() !=
        std::any_of(st->attachments.begin(), st->attachments.end(),
                    [](const Attachment &a) { return a.hook == XI_HOOK_XDP_PUBLIC; }))
        throw fail(Error("the config changes whether node " + st->node + " is an edge", 0,
                         "detach and attach instead"));
    uint32_t mesh_ifindex = interface_index(self->mesh_if);
    if (!mesh_ifindex)
        throw fail(Error("interface '" + self->mesh_if +
                             "' does not exist in this network "
                             "namespace",
                         ENODEV, "pass --netns NAME or fix the interface"));

    ReloadReport rep;
    rep.old_config_sha256 = st->config_sha256;
    rep.old_table_sha256 = st->table_sha256;
    rep.old_generation = st->generation;
    auto pub = publish_next(dir, config, st->node, mesh_ifindex, *st);
    st->reloads_ok++;
    st->reloaded_at = now_s();
    st->last_error.clear();
    save_state(dir, *st);
    rep.state = *st;
    rep.tables_reused = pub.tables_reused;
    rep.fill_ms = pub.fill_ms;
    rep.fleet = fleet_view(config);
    return rep;
}

void log_reload(const ReloadReport &r)
{
    const auto &s = r.state;
    spdlog::info("audit: reload instance={} node={} config={} config_sha256={}->{} "
                 "table_sha256={}->{} generation={}->{} tables_reused={} fill_ms={:.1f}",
                 s.instance, s.node, s.config_path, r.old_config_sha256.substr(0, 16),
                 s.config_sha256.substr(0, 16), r.old_table_sha256.substr(0, 16),
                 s.table_sha256.substr(0, 16), r.old_generation, s.generation, r.tables_reused,
                 r.fill_ms);
}

} // namespace xi
