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
        AttachFlags attach; // for the first attach, when the instance is not attached yet
        std::string addr = "127.0.0.1:9470";
        bool detach_on_exit = false;
        double poll = 2.0;
    };
    auto o = std::make_shared<Opts>();
    auto *cmd = app.add_subcommand(
        "serve", "Agent: attach if needed, export metrics and /healthz, reload on change");
    add_attach_flags(cmd, o->attach);
    cmd->add_option("--metrics-addr", o->addr, "Listen address for /metrics and /healthz")
        ->capture_default_str();
    cmd->add_flag("--detach-on-exit", o->detach_on_exit, "Detach on SIGTERM (default: leave)");
    cmd->add_option("--poll-interval", o->poll, "Seconds between content checks of the config")
        ->check(CLI::Range(0.1, 3600.0));
    cmd->callback([&g, &run, o] {
        run = [&g, o] {
            join_netns(o->attach.netns);
            ServeOptions s;
            s.attach = attach_options(o->attach, g);
            s.metrics_addr = o->addr;
            s.detach_on_exit = o->detach_on_exit;
            s.poll_interval_s = o->poll;
            return serve(s);
        };
    });
}

} // namespace xi
