// The verbs. Each registers its subcommand and sets `run` when selected.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "attach.h"
#include "cli.h"
#include "handoff.h"

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

// How the datapath is attached, for the verbs that attach (attach, serve): --xdp-mode and
// --handoff, declared and mapped in one place.
struct DatapathFlags {
    std::string xdp_mode = "auto";
    std::string handoff = "auto";
};
void add_datapath_flags(CLI::App *cmd, DatapathFlags &f);
XdpModeRequest xdp_mode_request(const DatapathFlags &f);
HandoffRequest handoff_request(const DatapathFlags &f);

} // namespace xi
