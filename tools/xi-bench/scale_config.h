// Generated fleet configs for the benchmarks: any number of edges, identities, random
// non-overlapping prefixes and rules, valid by construction (the benchmark still runs them
// through the real parser and checks, and stops on any error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace xi::bench
{

struct ScaleSpec {
    size_t edges = 3;
    size_t backends = 2;
    size_t identities = 10; // generated ones, besides "edges" and "apps" (at least 6)
    size_t prefixes = 20;   // random identity prefixes: half IPv4 /24../32, half IPv6 /48../64
    size_t rules = 10;      // at least 2
    uint64_t seed = 1;
};

// A flow of the benchmark: addresses inside the identities it is meant to hit.
struct BenchFlow {
    std::string src, dst;
    uint16_t dport = 0;
};

struct ScaleConfig {
    std::string yaml;
    size_t prefixes = 0; // identity prefixes in the file (generated + the node ranges)
    size_t rules = 0;
    size_t identities = 0;
    std::string self_edge, self_backend; // node names to run as
    // Policy flows, one per family: allowed by a rule on the first role-pair probe (the source
    // prefix leaves the last address byte free, see xib_tc_wrap), denied by a rule, and
    // decided by the default after four role-pair probes that find nothing.
    BenchFlow allow4, allow6, deny4, deny6, dflt4, dflt6;
};

ScaleConfig make_scale_config(const ScaleSpec &s);

} // namespace xi::bench
