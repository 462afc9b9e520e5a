// The lifecycle of an instance: attach (load, publish the first generation, attach hooks),
// detach, status. Each is one call the CLI verbs and `serve` share.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "attach.h"
#include "bpffs.h"
#include "config.h"
#include "handoff.h"
#include "state.h"

namespace xi
{

// A config that does not validate: every error, each file:line:col: reason.
class ConfigErrors : public std::runtime_error
{
public:
    explicit ConfigErrors(std::vector<ConfigError> errs)
        : std::runtime_error("invalid config"), errors(std::move(errs))
    {
    }
    std::vector<ConfigError> errors;
};

struct AttachOptions {
    Paths paths;
    std::string config_path;
    std::string node;     // this node's name in the config
    std::string instance; // pin directory name; defaults to node
    std::string netns;    // recorded; the CLI has already joined it
    XdpModeRequest xdp_mode = XdpModeRequest::Auto;
    HandoffRequest handoff = HandoffRequest::Auto;
    // Tests: every XDP mark fails at run time, as on a driver without metadata room (also
    // with XI_TEST_MARK_FAILS=1 in the environment, for the binary).
    bool test_mark_fails = false;
    bool replace = false;   // upgrade the programs of an attached instance in place
    bool fix_sysctl = true; // set rp_filter (else refuse naming the sysctl)
};

// What serve's sibling prober needs of the config just applied (issue #14), so that it probes
// exactly the fleet the datapath runs, without parsing the file again.
struct FleetView {
    Config::Failover failover;
    uint32_t drain_timeout = 0;
    std::vector<NodeCfg> nodes;
};
FleetView fleet_view(const Config &c);

struct AttachReport {
    InstanceState state;
    std::vector<std::string> notes; // fallbacks taken, sysctls changed: one sentence each
    bool replaced = false;
    FleetView fleet;
};

AttachReport attach_instance(const AttachOptions &o);

struct ReloadOptions {
    Paths paths;
    std::string config_path;
    std::string instance;
};

struct ReloadReport {
    InstanceState state; // after the reload
    std::string old_config_sha256, old_table_sha256;
    uint64_t old_generation = 0;
    int tables_reused = 0; // of the four swapped tables
    double fill_ms = 0;
    FleetView fleet;
};

// Validate, compile, publish into the inactive slot, flip. A bad file changes nothing (throws
// ConfigErrors after recording the failure); so does a config that would move the programs.
ReloadReport reload_instance(const ReloadOptions &o);
void log_reload(const ReloadReport &r); // the audit line (reload verb and serve's reloads)

struct DetachReport {
    bool was_attached = false;
    std::vector<std::string> removed; // what was taken off, for the log
};
// tc_filters_reachable = false: the instance's network namespace is gone, and with it the
// interfaces its clsact filters were on; only links (namespace-independent) and pins remain.
DetachReport detach_instance(const Paths &p, const std::string &instance,
                             bool tc_filters_reachable = true);

// Instances with a pin directory, sorted.
std::vector<std::string> list_instances(const Paths &p);

std::string default_node_name(); // the hostname

} // namespace xi
