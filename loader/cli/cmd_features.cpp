// features: what this kernel lets the datapath do, asked the way attach asks (probe programs),
// so an operator or a test harness knows before attaching which hand-offs can run here.
#include <iostream>

#include "commands.h"
#include "handoff.h"

namespace xi
{

void add_features_command(CLI::App &app, Globals &g, Runner &run)
{
    auto *cmd = app.add_subcommand("features", "Which hand-offs this kernel can run (probed)");
    cmd->callback([&g, &run] {
        run = [&g] {
            const HelperProbe &p = probe_xdp_meta();
            const char *meta = p.result == HelperProbe::Result::Available ? "available"
                               : p.result == HelperProbe::Result::Refused ? "refused"
                                                                          : "unknown";
            uint8_t auto_choice = choose_handoff(HandoffRequest::Auto, "the public interface", p);
            std::vector<std::string> handoffs{"tc"};
            if (p.result == HelperProbe::Result::Available)
                handoffs.push_back("xdp-mark");
            if (g.json) {
                nlohmann::json j = {{"handoffs", handoffs},
                                    {"auto", handoff_name(auto_choice)},
                                    {"xdp_adjust_meta", meta}};
                if (!p.verifier.empty())
                    j["verifier"] = p.verifier;
                if (p.err)
                    j["errno"] = p.err;
                print_json(g, j);
                return 0;
            }
            std::cout << "hand-offs:";
            for (const auto &h : handoffs)
                std::cout << " " << h;
            std::cout << " (auto: " << handoff_name(auto_choice) << ")\n";
            std::cout << "bpf_xdp_adjust_meta in XDP programs: " << meta;
            if (!p.verifier.empty())
                std::cout << " (\"" << p.verifier << "\")";
            else if (p.err)
                std::cout << " (" << std::strerror(p.err) << ")";
            std::cout << "\n";
            return 0;
        };
    });
}

} // namespace xi
