#include "counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xi_reasons.h"
#include "xi_structs.h"

namespace xi
{

const std::vector<ReasonInfo> &reasons()
{
    static const std::vector<ReasonInfo> table = {
#define XI_REASON_ROW(num, name, label, desc) {num, #name, label, desc, num >= XI_DROP_BASE},
        XI_REASON_TABLE(XI_REASON_ROW)
#undef XI_REASON_ROW
    };
    return table;
}

const ReasonInfo *reason_info(uint32_t number)
{
    for (const auto &r : reasons())
        if (r.number == number)
            return &r;
    return nullptr;
}

const std::vector<HookInfo> &hooks()
{
    static const std::vector<HookInfo> table = {
#define XI_HOOK_ROW(num, name, kind, side, dir) {num, #name, kind, side, dir},
        XI_HOOK_TABLE(XI_HOOK_ROW)
#undef XI_HOOK_ROW
    };
    return table;
}

int possible_cpus()
{
    static int n = libbpf_num_possible_cpus();
    return n > 0 ? n : 1;
}

std::vector<uint64_t> percpu_sum_n(int map_fd, uint32_t key, size_t n_u64)
{
    std::vector<uint64_t> vals(possible_cpus() * n_u64);
    std::vector<uint64_t> sum(n_u64);
    if (bpf_map_lookup_elem(map_fd, &key, vals.data()) != 0)
        return sum;
    for (int cpu = 0; cpu < possible_cpus(); cpu++)
        for (size_t i = 0; i < n_u64; i++)
            sum[i] += vals[cpu * n_u64 + i];
    return sum;
}

uint64_t percpu_sum(int map_fd, uint32_t key)
{
    return percpu_sum_n(map_fd, key, 1)[0];
}

std::vector<CounterRow> read_reason_counters(int stats_fd)
{
    std::vector<CounterRow> rows;
    for (const auto &h : hooks())
        for (const auto &r : reasons()) {
            uint64_t v = percpu_sum(stats_fd, h.number * XI_REASON_SLOTS + r.number);
            if (v)
                rows.push_back({h.number, r.number, v});
        }
    return rows;
}

std::vector<NodeCounters> read_node_counters(int fd)
{
    std::vector<NodeCounters> out;
    for (uint32_t s = 0; s < XI_MAX_NODES; s++) {
        NodeCounters n{s, 0, 0, 0, 0};
        uint32_t base = s * XI_NODE_CTR_SLOTS;
        n.fwd_packets = percpu_sum(fd, base + XI_NODE_FWD_PACKETS);
        n.fwd_bytes = percpu_sum(fd, base + XI_NODE_FWD_BYTES);
        n.decap_packets = percpu_sum(fd, base + XI_NODE_DECAP_PACKETS);
        n.decap_bytes = percpu_sum(fd, base + XI_NODE_DECAP_BYTES);
        if (n.fwd_packets || n.decap_packets)
            out.push_back(n);
    }
    return out;
}

std::vector<RuleCounters> read_rule_counters(int fd, const std::vector<std::string> &names)
{
    std::vector<RuleCounters> out;
    for (uint32_t s = 0; s < names.size(); s++) {
        if (names[s].empty())
            continue;
        auto v = percpu_sum_n(fd, s, 2);
        out.push_back({s, v[0], v[1]});
    }
    return out;
}

} // namespace xi
