// Reading the datapath's per-CPU counters (summed over CPUs).
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <string>
#include <vector>

namespace xi
{

struct ReasonInfo {
    uint32_t number;
    const char *name;  // ENUM suffix, e.g. PASS_NOT_VIP
    const char *label; // metric label, e.g. pass_not_vip
    const char *description;
    bool drop;
};
const std::vector<ReasonInfo> &reasons();
const ReasonInfo *reason_info(uint32_t number);

struct HookInfo {
    uint32_t number;
    const char *name; // XDP_PUBLIC
    const char *kind; // xdp | tc
    const char *side; // public | mesh
    const char *direction;
};
const std::vector<HookInfo> &hooks();

struct CounterRow {
    uint32_t hook, reason;
    uint64_t packets;
};

int possible_cpus();
// Sum of a per-CPU u64 array element / of a per-CPU struct of u64s.
uint64_t percpu_sum(int map_fd, uint32_t key);
std::vector<uint64_t> percpu_sum_n(int map_fd, uint32_t key, size_t n_u64);

// Every element of a per-CPU array of n_u64 u64 counters, summed over CPUs: one batch syscall
// where the kernel supports it (10,000 rule counters in one read), element by element otherwise.
std::vector<std::vector<uint64_t>> percpu_array_sums(int map_fd, uint32_t entries, size_t n_u64);

// Non-zero (hook, reason) counters of xi_stats.
std::vector<CounterRow> read_reason_counters(int stats_fd);

// The same as a map (hook, reason) -> packets, for tests and benchmarks: subtract two snapshots
// to see what one run did, describe() it in a failure message.
using ReasonCounters = std::map<std::pair<uint32_t, uint32_t>, uint64_t>;
ReasonCounters reason_counters(int stats_fd);
ReasonCounters operator-(const ReasonCounters &after, const ReasonCounters &before);
// "XDP_PUBLIC/forward=4 TC_PUBLIC_INGRESS/local=1", or "(none)".
std::string describe(const ReasonCounters &c);

struct NodeCounters {
    uint32_t slot;
    uint64_t fwd_packets, fwd_bytes, decap_packets, decap_bytes;
};
std::vector<NodeCounters> read_node_counters(int node_stats_fd);

struct RuleCounters {
    uint32_t slot;
    uint64_t packets, bytes;
};
std::vector<RuleCounters> read_rule_counters(int rule_stats_fd,
                                             const std::vector<std::string> &names);

} // namespace xi
