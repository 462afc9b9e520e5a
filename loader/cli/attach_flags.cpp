// The options of attach and serve, declared and mapped in one place.
#include "commands.h"

namespace xi
{

void add_attach_flags(CLI::App *cmd, AttachFlags &f)
{
    // A missing file is a failed run (exit 1) naming the file, as in validate and owner.
    cmd->add_option("-c,--config", f.config, "Fleet config file (YAML)")->required();
    cmd->add_option("-n,--node", f.node, "This node's name in the config (default: hostname)");
    cmd->add_option("-i,--instance", f.instance, "Pin directory name (default: the node name)");
    cmd->add_option("--netns", f.netns, "Run in this network namespace (pins stay visible)");
    cmd->add_option("--xdp-mode", f.xdp_mode, "auto: native, else generic with a warning")
        ->check(CLI::IsMember({"auto", "native", "generic"}))
        ->capture_default_str();
    cmd->add_option("--handoff", f.handoff,
                    "How the steering decision reaches TC on the public interface: tc (TC "
                    "decides), xdp-mark (XDP decides, marks in XDP metadata), auto (probe)")
        ->check(CLI::IsMember({"auto", "xdp-mark", "tc"}))
        ->capture_default_str();
}

AttachOptions attach_options(const AttachFlags &f, const Globals &g)
{
    AttachOptions a;
    a.paths = g.paths;
    a.config_path = f.config;
    a.node = f.node.empty() ? default_node_name() : f.node;
    a.instance = f.instance;
    a.netns = f.netns;
    a.xdp_mode = f.xdp_mode == "native"    ? XdpModeRequest::Native
                 : f.xdp_mode == "generic" ? XdpModeRequest::Generic
                                           : XdpModeRequest::Auto;
    a.handoff = parse_handoff(f.handoff).value_or(HandoffRequest::Auto);
    return a;
}

} // namespace xi
