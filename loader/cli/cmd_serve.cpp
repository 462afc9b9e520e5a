// serve: run as the agent (systemd unit, Kubernetes DaemonSet).
#include "commands.h"
#include "error.h"
#include "instance.h"
#include "netns.h"
#include "serve.h"

namespace xi
{

void add_serve_command(CLI::App &app, Globals &g, Runner &run)
{
    struct Opts {
        std::string config, node, instance, netns, addr = "127.0.0.1:9470";
        DatapathFlags dp;
        bool detach_on_exit = false;
        double poll = 2.0;
    };
    auto o = std::make_shared<Opts>();
    auto *cmd = app.add_subcommand(
        "serve", "Agent: attach if needed, export metrics and /healthz, reload on change");
    cmd->add_option("-c,--config", o->config, "Fleet config file (YAML)")->required();
    cmd->add_option("-n,--node", o->node, "This node's name (default: hostname)");
    cmd->add_option("-i,--instance", o->instance, "Instance (default: the node name)");
    cmd->add_option("--netns", o->netns, "Network namespace to run in");
    cmd->add_option("--metrics-addr", o->addr, "Listen address for /metrics and /healthz")
        ->capture_default_str();
    add_datapath_flags(cmd, o->dp); // used for the first attach
    cmd->add_flag("--detach-on-exit", o->detach_on_exit, "Detach on SIGTERM (default: leave)");
    cmd->add_option("--poll-interval", o->poll, "Seconds between content checks of the config")
        ->check(CLI::Range(0.1, 3600.0));
    cmd->callback([&g, &run, o] {
        run = [&g, o] {
            join_netns(o->netns);
            ServeOptions s;
            s.paths = g.paths;
            s.config_path = o->config;
            s.node = o->node.empty() ? default_node_name() : o->node;
            s.instance = o->instance;
            s.netns = o->netns;
            s.metrics_addr = o->addr;
            s.xdp_mode = xdp_mode_request(o->dp);
            s.handoff = handoff_request(o->dp);
            s.detach_on_exit = o->detach_on_exit;
            s.poll_interval_s = o->poll;
            return serve(s);
        };
    });
}

} // namespace xi
