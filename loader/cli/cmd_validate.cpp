// validate FILE...: the same parsing, checks and compilation as attach/reload, no kernel.
#include <iostream>

#include "commands.h"
#include "compile.h"
#include "config.h"
#include "error.h"

namespace xi
{

void add_validate_command(CLI::App &app, Globals &g, Runner &run)
{
    auto files = std::make_shared<std::vector<std::string>>();
    auto *cmd = app.add_subcommand("validate", "Check config files without touching the kernel");
    cmd->add_option("files", *files, "Config files")->required();
    cmd->callback([&g, &run, files] {
        run = [&g, files] {
            nlohmann::json out = nlohmann::json::array();
            bool all_ok = true;
            for (const auto &f : *files) {
                auto res = load_config(f);
                if (res.config) {
                    // Compile, as each node will: catches what only the compiler sees
                    // (e.g. Maglev on this membership). Once: every table is the same for
                    // every node (only the node's own slot, MTU and edge flag differ), and
                    // compiling per node made validate 80x slower on an 80-node fleet.
                    try {
                        CompileInput in;
                        in.config = &*res.config;
                        in.node = res.config->nodes.front().name;
                        in.fallback = false; // follows from the table: nothing to check
                        compile_generation(in);
                    } catch (const Error &e) {
                        res.errors.push_back({f, {}, e.full()});
                    }
                }
                nlohmann::json errs = nlohmann::json::array();
                for (const auto &e : res.errors) {
                    errs.push_back(
                        {{"line", e.pos.line}, {"column", e.pos.col}, {"message", e.msg}});
                    if (!g.json)
                        std::cerr << e.str() << "\n";
                }
                bool ok = res.errors.empty();
                all_ok = all_ok && ok;
                nlohmann::json j = {{"file", f}, {"valid", ok}, {"errors", errs}};
                if (ok) {
                    const auto &c = *res.config;
                    j["sha256"] = c.sha256;
                    j["nodes"] = c.nodes.size();
                    j["vips"] = c.vips.size();
                    j["identities"] = c.identities.size();
                    j["rules"] = c.rules.size();
                    if (!g.json)
                        std::cout << f << ": valid (" << c.nodes.size() << " nodes, "
                                  << c.vips.size() << " vips, " << c.identities.size()
                                  << " identities, " << c.rules.size() << " rules; sha256 "
                                  << c.sha256.substr(0, 16) << ")\n";
                }
                out.push_back(j);
            }
            if (g.json)
                print_json(g, out);
            return all_ok ? 0 : 1;
        };
    });
}

} // namespace xi
