// BPF_PROG_TEST_RUN fixture: a scratch instance (pins under /sys/fs/bpf/xdp-ingress/xitest-*)
// with every object loaded and a generation compiled from a YAML string published, so a test
// runs the real programs against the real tables on crafted packets and reads the counters.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "compile.h"
#include "counters.h"
#include "datapath.h"
#include "packet.h"
#include "publish.h"

namespace xi::test
{

struct RunResult {
    int retval = -1;
    Bytes out;         // the packet after the program (XDP: without the metadata area)
    Bytes meta;        // XDP metadata area in front of the packet (XDP only)
    uint32_t mark = 0; // skb->mark after the program (TC only)
};

// BPF_PROG_TEST_RUN itself failed (the syscall, not the program's verdict): errno in err.
// EINVAL is the kernel refusing the input before any program ran.
struct TestRunError : std::runtime_error {
    int err;
    TestRunError(const std::string &what, int e) : std::runtime_error(what), err(e) {}
};

// (hook, reason) -> packets (kernel/counters.h): subtract two snapshots, describe() the delta.
using Counters = ReasonCounters;

struct FixtureOptions {
    bool mesh = true;    // load the mesh objects (steering tests need only the edge's)
    bool mesh_l2 = true; // their L2 entries (skb test_run always builds an Ethernet frame)
    uint8_t handoff = XI_HANDOFF_TC; // xdp_public's hand-off (XI_HANDOFF_*)
    bool mark_fails = false;         // ... and its test switch
};

class DatapathFixture
{
public:
    explicit DatapathFixture(const std::string &config_yaml, const std::string &node,
                             FixtureOptions o = {});
    ~DatapathFixture();
    DatapathFixture(const DatapathFixture &) = delete;
    DatapathFixture &operator=(const DatapathFixture &) = delete;

    // Compile and publish another generation (a reload). Throws on config errors.
    void publish(const std::string &config_yaml, const std::string &node);

    RunResult run_xdp(const Bytes &pkt);
    // mark: skb->mark going in (the metadata guard's input); RunResult::mark: coming out.
    RunResult run_tc(Prog p, const Bytes &pkt, uint32_t gso_size = 0, uint32_t mark = 0);
    // Average ns per run over `repeat` runs of the same input (benchmarks).
    double time_prog(Prog p, const Bytes &pkt, uint32_t repeat);

    Counters counters() const;
    const GenContent &gen() const { return gen_; }
    Datapath &datapath() { return *dp_; }
    const std::string &pin_dir() const { return dir_; }
    int map_fd(const std::string &name) const { return dp_->map_fd(name); }
    uint16_t node_slot(const std::string &name) const;

private:
    void cleanup(); // unpin everything, remove the directory
    std::string dir_;
    std::unique_ptr<Datapath> dp_;
    std::unique_ptr<GenMaps> maps_;
    GenContent gen_;
};

} // namespace xi::test
