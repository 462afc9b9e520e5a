// The verbs. Each registers its subcommand and sets `run` when selected.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "attach.h"
#include "cli.h"
#include "handoff.h"
#include "instance.h"

namespace xi
{

using Runner = std::function<int()>;

void add_attach_command(CLI::App &app, Globals &g, Runner &run);
void add_detach_command(CLI::App &app, Globals &g, Runner &run);
void add_status_command(CLI::App &app, Globals &g, Runner &run);
void add_validate_command(CLI::App &app, Globals &g, Runner &run);
void add_owner_command(CLI::App &app, Globals &g, Runner &run);
void add_monitor_command(CLI::App &app, Globals &g, Runner &run);
void add_reload_command(CLI::App &app, Globals &g, Runner &run);
void add_health_command(CLI::App &app, Globals &g, Runner &run);
void add_serve_command(CLI::App &app, Globals &g, Runner &run);
void add_features_command(CLI::App &app, Globals &g, Runner &run);

// The options of the verbs that attach (attach, and serve for its first attach): -c, -n, -i,
// --netns, --xdp-mode, --handoff, declared and mapped to AttachOptions in one place.
struct AttachFlags {
    std::string config, node, instance, netns;
    std::string xdp_mode = "auto";
    std::string handoff = "auto";
};
void add_attach_flags(CLI::App *cmd, AttachFlags &f);
// After join_netns(f.netns): the node defaults to the hostname.
AttachOptions attach_options(const AttachFlags &f, const Globals &g);

} // namespace xi
