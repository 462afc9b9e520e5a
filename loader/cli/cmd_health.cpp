// health: the data-plane verdict as an exit code (0 healthy or degraded, 1 unhealthy; with
// --strict a degraded edge is 1 too), and metrics: the Prometheus text of one instance.
#include <iostream>

#include "commands.h"
#include "health.h"
#include "instance.h"
#include "metrics.h"

namespace xi
{

void add_health_command(CLI::App &app, Globals &g, Runner &run)
{
    struct Opts {
        std::string instance;
        bool strict = false;
    };
    auto o = std::make_shared<Opts>();
    auto *cmd = app.add_subcommand("health", "Data-plane health as an exit code (BGP checks)");
    cmd->add_option("-i,--instance", o->instance, "Instance (default: the hostname)");
    cmd->add_flag("--strict", o->strict, "A rejected last reload counts as unhealthy");
    cmd->callback([&g, &run, o] {
        run = [&g, o] {
            std::string inst = o->instance.empty() ? default_node_name() : o->instance;
            auto h = check_health(g.paths, inst);
            if (g.json)
                print_json(g, h.json());
            else
                std::cout << h.summary << "\n";
            return withdraw_route(h, o->strict) ? 1 : 0;
        };
    });

    auto inst = std::make_shared<std::string>();
    auto *m = app.add_subcommand("metrics", "Print the Prometheus metrics of an instance");
    m->add_option("-i,--instance", *inst, "Instance (default: the hostname)");
    m->callback([&g, &run, inst] {
        run = [&g, inst] {
            std::cout << render_metrics(g.paths, inst->empty() ? default_node_name() : *inst);
            return 0;
        };
    });
}

} // namespace xi
