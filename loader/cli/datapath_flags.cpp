// --xdp-mode and --handoff, shared by attach and serve.
#include "commands.h"

namespace xi
{

void add_datapath_flags(CLI::App *cmd, DatapathFlags &f)
{
    cmd->add_option("--xdp-mode", f.xdp_mode, "auto: native, else generic with a warning")
        ->check(CLI::IsMember({"auto", "native", "generic"}))
        ->capture_default_str();
    cmd->add_option("--handoff", f.handoff,
                    "How the steering decision reaches TC on the public interface: tc (TC "
                    "decides), xdp-mark (XDP decides, marks in XDP metadata), auto (probe)")
        ->check(CLI::IsMember({"auto", "xdp-mark", "tc"}))
        ->capture_default_str();
}

XdpModeRequest xdp_mode_request(const DatapathFlags &f)
{
    if (f.xdp_mode == "native")
        return XdpModeRequest::Native;
    if (f.xdp_mode == "generic")
        return XdpModeRequest::Generic;
    return XdpModeRequest::Auto;
}

HandoffRequest handoff_request(const DatapathFlags &f)
{
    return parse_handoff(f.handoff).value_or(HandoffRequest::Auto);
}

} // namespace xi
