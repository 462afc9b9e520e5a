// The verbs. Each registers its subcommand and sets `run` when selected.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "cli.h"

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

struct ReloadReport;
void log_reload(const ReloadReport &r); // the audit line

} // namespace xi
