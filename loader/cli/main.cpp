// xdp-ingress: anycast flow steering over a WireGuard mesh, and micro-segmentation on it.
//   xdp-ingress [-j|--json] [-p|--pretty] [-v] VERB ...      (see `xdp-ingress help`)
#include <CLI/CLI.hpp>
#include <iostream>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "error.h"
#include "instance.h"
#include "xi_version.h"

namespace
{

// CLI11's text, or for a word where the verb goes, which verbs there are.
std::string usage_error(CLI::App &app, int argc, char **argv, const std::string &what)
{
    std::vector<std::string> verbs;
    for (auto *c : app.get_subcommands([](CLI::App *) { return true; }))
        verbs.push_back(c->get_name());
    bool have_verb = false;
    std::string first_word;
    for (int i = 1; i < argc && first_word.empty(); i++) {
        std::string a = argv[i];
        if (a == "--bpffs") {
            i++;
            continue;
        }
        if (!a.empty() && a[0] != '-')
            first_word = a;
    }
    for (const auto &v : verbs)
        have_verb = have_verb || v == first_word;
    std::string list;
    for (const auto &v : verbs)
        list += (list.empty() ? "" : ", ") + v;
    if (!first_word.empty() && !have_verb)
        return "unknown verb '" + first_word + "' (verbs: " + list + ")";
    if (first_word.empty())
        return "no verb given (verbs: " + list + ")";
    return what + " (see xdp-ingress help " + first_word + ")";
}

// `help [VERB]`: the whole usage, or one verb's.
void add_help_command(CLI::App &app, xi::Runner &run, std::string &help_verb)
{
    auto *help = app.add_subcommand("help", "Show help for xdp-ingress or one verb");
    help->add_option("verb", help_verb, "Verb to explain");
    help->callback([&app, &run, &help_verb] {
        run = [&app, &help_verb] {
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
}

// Usage errors exit 2 (like bpftool and getopt tools), not CLI11's 100+ codes; a run that
// failed exits 1. They read like every other error, in JSON with -j: the flags are looked up
// by hand, since parsing them is what failed.
int usage_error_exit(CLI::App &app, xi::Globals &g, int argc, char **argv, const CLI::ParseError &e)
{
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "-j" || a == "--json" || a == "-p" || a == "--pretty")
            g.json = true;
        g.pretty = g.pretty || a == "-p" || a == "--pretty";
    }
    xi::print_error(g, usage_error(app, argc, argv, e.what()));
    return 2;
}

} // namespace

int main(int argc, char **argv)
{
    xi::Globals g;
    xi::Runner run;
    CLI::App app{"xdp-ingress: anycast flow steering and mesh micro-segmentation (XDP + TC)",
                 "xdp-ingress"};
    app.set_help_flag("-h,--help", "Show help (also: xdp-ingress help [VERB])");
    app.set_version_flag("-V,--version", "xdp-ingress " XI_VERSION,
                         "Show the version (git describe)");
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
    std::string help_verb;
    add_help_command(app, run, help_verb);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp &e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp &e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion &e) {
        return app.exit(e);
    } catch (const CLI::ParseError &e) {
        return usage_error_exit(app, g, argc, argv, e);
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
