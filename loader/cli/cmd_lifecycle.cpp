// attach, detach, status.
#include <iostream>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "error.h"
#include "instance.h"
#include "netns.h"
#include "state.h"
#include "status.h"
#include "xi_reasons.h"

namespace xi
{

namespace
{

std::string instance_or_node(const std::string &instance, const std::string &node)
{
    if (!instance.empty())
        return instance;
    return node.empty() ? default_node_name() : node;
}

nlohmann::json config_errors_json(const ConfigErrors &e)
{
    nlohmann::json arr = nlohmann::json::array();
    for (const auto &err : e.errors)
        arr.push_back({{"file", err.file},
                       {"line", err.pos.line},
                       {"column", err.pos.col},
                       {"message", err.msg}});
    return {{"error", "invalid config"}, {"errors", arr}};
}

} // namespace

void add_attach_command(CLI::App &app, Globals &g, Runner &run)
{
    struct Opts {
        AttachFlags attach;
        bool replace = false, no_sysctl = false;
    };
    auto o = std::make_shared<Opts>();
    auto *cmd = app.add_subcommand("attach", "Load, pin and attach the datapath for this node");
    add_attach_flags(cmd, o->attach);
    cmd->add_flag("--replace", o->replace,
                  "Upgrade the programs of an attached instance in place (atomic)");
    cmd->add_flag("--no-sysctl", o->no_sysctl,
                  "Refuse instead of setting the sysctls the datapath needs");
    cmd->callback([&g, &run, o] {
        run = [&g, o] {
            join_netns(o->attach.netns);
            AttachOptions a = attach_options(o->attach, g);
            a.replace = o->replace;
            a.fix_sysctl = !o->no_sysctl;
            AttachReport rep;
            try {
                rep = attach_instance(a);
            } catch (const ConfigErrors &e) {
                if (!g.json)
                    throw;
                print_json(g, config_errors_json(e));
                return 1;
            }
            for (const auto &n : rep.notes)
                spdlog::warn("{}", n);
            const auto &s = rep.state;
            spdlog::info("audit: {} instance={} node={} config={} config_sha256={} "
                         "table_sha256={} generation={}",
                         rep.replaced ? "replace" : "attach", s.instance, s.node, s.config_path,
                         s.config_sha256, s.table_sha256, s.generation);
            if (g.json) {
                nlohmann::json j = instance_status(g.paths, s.instance);
                j["notes"] = rep.notes;
                print_json(g, j);
            } else {
                std::cout << (rep.replaced ? "replaced programs of" : "attached") << " instance "
                          << s.instance << " (generation " << s.generation << ")\n";
                for (const auto &at : s.attachments)
                    std::cout << "  " << at.prog_name << " on " << at.ifname
                              << (at.hook == XI_HOOK_TC_PUBLIC_INGRESS
                                      ? std::string(" (hand-off ") + handoff_name(at.handoff) + ")"
                                      : std::string())
                              << "\n";
            }
            return 0;
        };
    });
}

void add_detach_command(CLI::App &app, Globals &g, Runner &run)
{
    struct Opts {
        std::string node, instance, netns;
        bool all = false;
    };
    auto o = std::make_shared<Opts>();
    auto *cmd = app.add_subcommand("detach", "Detach the programs and remove every pin");
    cmd->add_option("-n,--node", o->node, "Node name (default: hostname)");
    cmd->add_option("-i,--instance", o->instance, "Instance (default: the node name)");
    cmd->add_option("--netns", o->netns, "Network namespace (default: the one recorded at attach)");
    cmd->add_flag("--all", o->all, "Detach every instance");
    cmd->callback([&g, &run, o] {
        run = [&g, o] {
            std::vector<std::string> targets;
            if (o->all)
                targets = list_instances(g.paths);
            else
                targets.push_back(instance_or_node(o->instance, o->node));
            nlohmann::json out = nlohmann::json::array();
            for (const auto &inst : targets) {
                if (!valid_instance_name(inst))
                    throw Error("invalid instance name '" + inst + "'");
                // clsact filters are per network namespace: go where the attach happened.
                std::string ns = o->netns;
                bool filters_reachable = true;
                if (ns.empty())
                    if (auto st = load_state(g.paths.instance(inst)))
                        ns = st->netns;
                if (o->netns.empty() && !ns.empty() && !netns_exists(ns)) {
                    // Deleted after the attach: its interfaces went with it, but pinned links
                    // and maps remain and must still be removed; refusing would strand them.
                    spdlog::warn("network namespace '{}' of instance {} no longer exists: "
                                 "removing its links and pins from here",
                                 ns, inst);
                    ns.clear();
                    filters_reachable = false;
                }
                join_netns(ns);
                auto rep = detach_instance(g.paths, inst, filters_reachable);
                if (rep.was_attached)
                    spdlog::info("audit: detach instance={} removed={}", inst, rep.removed.size());
                out.push_back({{"instance", inst},
                               {"was_attached", rep.was_attached},
                               {"detached", rep.removed}});
                if (!g.json)
                    std::cout << (rep.was_attached ? "detached instance "
                                                   : "nothing attached for "
                                                     "instance ")
                              << inst << "\n";
            }
            if (g.json)
                print_json(g, out);
            return 0;
        };
    });
}

void add_status_command(CLI::App &app, Globals &g, Runner &run)
{
    struct Opts {
        std::string instance;
    };
    auto o = std::make_shared<Opts>();
    auto *cmd = app.add_subcommand("status", "Show instances, attachments, generation, counters");
    cmd->add_option("-i,--instance", o->instance, "Only this instance (default: all)");
    cmd->callback([&g, &run, o] {
        run = [&g, o] {
            if (!o->instance.empty())
                g.paths.instance(o->instance); // a bad name is the first thing to hear about
            require_bpffs(g.paths);
            nlohmann::json all = nlohmann::json::array();
            std::vector<std::string> names =
                o->instance.empty() ? list_instances(g.paths) : std::vector{o->instance};
            for (const auto &inst : names) {
                if (!path_exists(g.paths.instance(inst)))
                    throw Error("no instance '" + inst + "' under " + g.paths.root(), ENOENT,
                                "see `xdp-ingress status` for the attached ones");
                try {
                    all.push_back(instance_status(g.paths, inst));
                } catch (const std::exception &e) {
                    // One broken instance must not hide the others.
                    all.push_back({{"instance", inst}, {"state", "error"}, {"error", e.what()}});
                }
            }
            if (g.json)
                print_json(g, o->instance.empty() ? all : all[0]);
            else
                std::cout << render_status(all);
            return 0;
        };
    });
}

} // namespace xi
