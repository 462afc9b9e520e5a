// Loading the BPF objects: open -> (rodata) -> pin paths -> load. Maps are pinned by name in the
// instance directory; an object loaded later (another hook, a restarted loader, an upgrade)
// reuses the pinned maps instead of creating new ones, so all hooks share one set of tables
// and counters survive.
#pragma once

#include <memory>
#include <string>

#include "xi_structs.h"

namespace xi
{

enum class Prog {
    XdpPublic,
    TcPublicIngress,
    TcPublicEgress,
    MeshIngress,
    MeshEgress,
    // The metadata guard (bpf/lib/guard.h), loaded with the mesh objects: both entries, as the
    // interfaces it goes on have an Ethernet header or not.
    GuardIngressL2,
    GuardIngressL3,
    GuardEgressL2,
    GuardEgressL3,
};
// The guard program for one hook (XI_HOOK_TC_GUARD_*) on an interface with or without Ethernet.
Prog guard_prog(bool ingress, bool l2);

struct LoadOptions {
    std::string pin_dir;
    bool edge = true;                // load the public-interface objects
    bool mesh_l2 = false;            // mesh interface has an Ethernet header (else the L3 entries)
    uint8_t handoff = XI_HANDOFF_TC; // XI_HANDOFF_*: xdp_public's .rodata (handoff.h)
    bool test_mark_fails = false;    // tests: every XDP mark fails as without metadata room
    bool mesh = true; // load the mesh objects (tests of the public side alone leave them out)
};

class Datapath
{
public:
    explicit Datapath(const LoadOptions &opts); // throws xi::Error naming the object and errno
    ~Datapath();
    Datapath(const Datapath &) = delete;
    Datapath &operator=(const Datapath &) = delete;

    int prog_fd(Prog p) const; // -1 if not loaded
    std::string prog_name(Prog p) const;
    int map_fd(const std::string &name) const; // throws if no object has it

private:
    struct Objects;
    std::unique_ptr<Objects> o_;
};

// Pin directory content names created by the objects (every map we pin).
bool is_datapath_map_name(const std::string &name);

} // namespace xi
