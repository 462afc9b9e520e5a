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

std::vector<std::vector<uint64_t>> percpu_array_sums(int map_fd, uint32_t entries, size_t n_u64)
{
    std::vector<std::vector<uint64_t>> out(entries, std::vector<uint64_t>(n_u64));
    size_t ncpu = possible_cpus();
    std::vector<uint32_t> keys(entries);
    std::vector<uint64_t> vals(size_t(entries) * ncpu * n_u64);
    uint32_t count = entries, out_batch = 0;
    LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);
    int rc =
        bpf_map_lookup_batch(map_fd, nullptr, &out_batch, keys.data(), vals.data(), &count, &opts);
    if (rc == 0 || (rc < 0 && errno == ENOENT && count > 0)) {
        for (uint32_t i = 0; i < count; i++) {
            uint32_t k = keys[i];
            if (k >= entries)
                continue;
            for (size_t cpu = 0; cpu < ncpu; cpu++)
                for (size_t j = 0; j < n_u64; j++)
                    out[k][j] += vals[(size_t(i) * ncpu + cpu) * n_u64 + j];
        }
        if (count == entries)
            return out;
    }
    for (uint32_t k = 0; k < entries; k++)
        out[k] = percpu_sum_n(map_fd, k, n_u64);
    return out;
}

std::vector<CounterRow> read_reason_counters(int stats_fd)
{
    std::vector<CounterRow> rows;
    auto all = percpu_array_sums(stats_fd, XI_HOOK_SLOTS * XI_REASON_SLOTS, 1);
    for (const auto &h : hooks())
        for (const auto &r : reasons()) {
            uint64_t v = all[h.number * XI_REASON_SLOTS + r.number][0];
            if (v)
                rows.push_back({h.number, r.number, v});
        }
    return rows;
}

std::vector<NodeCounters> read_node_counters(int fd)
{
    std::vector<NodeCounters> out;
    auto all = percpu_array_sums(fd, XI_MAX_NODES * XI_NODE_CTR_SLOTS, 1);
    for (uint32_t s = 0; s < XI_MAX_NODES; s++) {
        NodeCounters n{s, 0, 0, 0, 0};
        uint32_t base = s * XI_NODE_CTR_SLOTS;
        n.fwd_packets = all[base + XI_NODE_FWD_PACKETS][0];
        n.fwd_bytes = all[base + XI_NODE_FWD_BYTES][0];
        n.decap_packets = all[base + XI_NODE_DECAP_PACKETS][0];
        n.decap_bytes = all[base + XI_NODE_DECAP_BYTES][0];
        if (n.fwd_packets || n.decap_packets)
            out.push_back(n);
    }
    return out;
}

std::vector<RuleCounters> read_rule_counters(int fd, const std::vector<std::string> &names)
{
    std::vector<RuleCounters> out;
    auto all = percpu_array_sums(fd, XI_MAX_RULE_SLOTS, 2);
    for (uint32_t s = 0; s < names.size() && s < all.size(); s++) {
        if (names[s].empty())
            continue;
        out.push_back({s, all[s][0], all[s][1]});
    }
    return out;
}

ReasonCounters reason_counters(int stats_fd)
{
    ReasonCounters c;
    for (const auto &row : read_reason_counters(stats_fd))
        c[{row.hook, row.reason}] = row.packets;
    return c;
}

ReasonCounters operator-(const ReasonCounters &after, const ReasonCounters &before)
{
    ReasonCounters d;
    for (const auto &[k, v] : after) {
        auto it = before.find(k);
        uint64_t b = it == before.end() ? 0 : it->second;
        if (v != b)
            d[k] = v - b;
    }
    return d;
}

std::string describe(const ReasonCounters &c)
{
    std::string out;
    for (const auto &[k, v] : c) {
        const char *hook = "?";
        for (const auto &h : hooks())
            if (h.number == k.first)
                hook = h.name;
        const ReasonInfo *r = reason_info(k.second);
        out += (out.empty() ? "" : " ") + std::string(hook) + "/" + (r ? r->label : "?") + "=" +
               std::to_string(v);
    }
    return out.empty() ? "(none)" : out;
}

} // namespace xi
