// reload: apply a new config to a running instance, atomically (docs/reload.md).
#include <iostream>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "error.h"
#include "instance.h"
#include "netns.h"
#include "state.h"

namespace xi
{

void add_reload_command(CLI::App &app, Globals &g, Runner &run)
{
    struct Opts {
        std::string config, node, instance, netns;
    };
    auto o = std::make_shared<Opts>();
    auto *cmd = app.add_subcommand("reload", "Apply a new config to a running instance");
    cmd->add_option("-c,--config", o->config, "Fleet config file (YAML)")->required();
    cmd->add_option("-n,--node", o->node, "Node name (default: hostname)");
    cmd->add_option("-i,--instance", o->instance, "Instance (default: the node name)");
    cmd->add_option("--netns", o->netns, "Network namespace (default: the one of the attach)");
    cmd->callback([&g, &run, o] {
        run = [&g, o] {
            std::string inst = !o->instance.empty() ? o->instance
                               : !o->node.empty()   ? o->node
                                                    : default_node_name();
            if (!valid_instance_name(inst))
                throw Error("invalid instance name '" + inst + "'");
            std::string ns = o->netns;
            if (ns.empty())
                if (auto st = load_state(g.paths.instance(inst)))
                    ns = st->netns;
            join_netns(ns);
            ReloadReport rep;
            try {
                rep = reload_instance({g.paths, o->config, inst});
            } catch (const ConfigErrors &e) {
                spdlog::warn("audit: reload instance={} config={} result=rejected errors={}", inst,
                             o->config, e.errors.size());
                throw;
            } catch (const Error &e) {
                spdlog::warn("audit: reload instance={} config={} result=failed error=\"{}\"", inst,
                             o->config, e.full());
                throw;
            }
            log_reload(rep);
            if (g.json)
                print_json(g, {{"instance", inst},
                               {"generation", rep.state.generation},
                               {"previous_generation", rep.old_generation},
                               {"config_sha256", rep.state.config_sha256},
                               {"table_sha256", rep.state.table_sha256},
                               {"tables_reused", rep.tables_reused},
                               {"fill_ms", rep.fill_ms}});
            else
                std::cout << "reloaded instance " << inst << ": generation " << rep.old_generation
                          << " -> " << rep.state.generation << " (config "
                          << rep.state.config_sha256.substr(0, 16) << ", " << rep.tables_reused
                          << " of 4 tables unchanged)\n";
            return 0;
        };
    });
}

} // namespace xi
