// xdp-ingress: anycast flow steering over a WireGuard mesh, and micro-segmentation on it.
//   xdp-ingress [-j|--json] [-p|--pretty] [-v] VERB ...      (see `xdp-ingress help`)
#include <CLI/CLI.hpp>
#include <iostream>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "error.h"
#include "instance.h"

int main(int argc, char **argv)
{
    xi::Globals g;
    xi::Runner run;
    CLI::App app{"xdp-ingress: anycast flow steering and mesh micro-segmentation (XDP + TC)",
                 "xdp-ingress"};
    app.set_help_flag("-h,--help", "Show help (also: xdp-ingress help [VERB])");
    app.add_flag("-j,--json", g.json, "JSON output");
    app.add_flag("-p,--pretty", g.pretty, "Pretty-printed JSON (implies --json)");
    app.add_flag("-v,--verbose", g.verbose, "Debug output, including libbpf's messages");
    app.add_option("--bpffs", g.paths.bpffs, "BPF filesystem mount point")->capture_default_str();
    app.require_subcommand(1);
    app.fallthrough(); // global flags are accepted after the verb too

    xi::add_attach_command(app, g, run);
    xi::add_detach_command(app, g, run);
    xi::add_reload_command(app, g, run);
    xi::add_serve_command(app, g, run);
    xi::add_status_command(app, g, run);
    xi::add_validate_command(app, g, run);
    xi::add_owner_command(app, g, run);
    xi::add_monitor_command(app, g, run);
    xi::add_health_command(app, g, run);
    xi::add_features_command(app, g, run);
    auto *help = app.add_subcommand("help", "Show help for xdp-ingress or one verb");
    std::string help_verb;
    help->add_option("verb", help_verb, "Verb to explain");
    help->callback([&] {
        run = [&] {
            if (help_verb.empty()) {
                // app.help() would describe the selected subcommand, i.e. "help" itself.
                std::cout << app.get_formatter()->make_help(&app, "xdp-ingress",
                                                            CLI::AppFormatMode::Normal);
                return 0;
            }
            CLI::App *sub = nullptr;
            for (auto *c : app.get_subcommands([](CLI::App *) { return true; }))
                if (c->get_name() == help_verb)
                    sub = c;
            if (!sub) {
                std::cerr << "Error: unknown verb '" << help_verb << "'" << std::endl;
                return 2;
            }
            std::cout << sub->get_formatter()->make_help(sub, "xdp-ingress " + help_verb,
                                                         CLI::AppFormatMode::Normal);
            return 0;
        };
    });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        // Usage errors exit 2 (like bpftool and getopt tools), not CLI11's 100+ codes; a run
        // that failed exits 1. --help exits 0.
        return app.exit(e) == 0 ? 0 : 2;
    }
    if (g.pretty)
        g.json = true;
    xi::setup_logging(g.verbose);
    try {
        return run ? run() : 2;
    } catch (const xi::ConfigErrors &e) {
        for (const auto &err : e.errors)
            xi::print_error(g, err.str());
        return 1;
    } catch (const xi::Error &e) {
        xi::print_error(g, e.full());
        return 1;
    } catch (const std::exception &e) {
        xi::print_error(g, e.what());
        return 1;
    }
}
