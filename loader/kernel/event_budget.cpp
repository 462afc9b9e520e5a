#include "event_budget.h"

#include <algorithm>
#include <bpf/bpf.h>
#include <ctime>
#include <unistd.h>

#include "counters.h"
#include "error.h"
#include "xi_structs.h"
#include "xi_names.h"

namespace xi
{

namespace
{
constexpr uint32_t kBuckets = 2; // bpf/lib/events.h: XI_EV_BUCKET_DENY, XI_EV_BUCKET_STEER

int open_pin(const std::string &dir, const char *name)
{
    std::string path = dir + "/" + name;
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0)
        throw Error("cannot open " + path, errno, "is the instance attached? (xdp-ingress status)");
    return fd;
}
} // namespace

EventBudget::EventBudget(const std::string &dir)
{
    try {
        tokens_ = open_pin(dir, XI_MAP_EVENT_TOKENS);
        active_ = open_pin(dir, XI_MAP_ACTIVE);
        config_ = open_pin(dir, XI_MAP_GEN_CONFIG);
    } catch (...) {
        for (int fd : {tokens_, active_, config_})
            if (fd >= 0)
                close(fd);
        throw;
    }
    carry_.assign(static_cast<size_t>(possible_cpus()) * kBuckets, 0.0);
}

EventBudget::~EventBudget()
{
    for (int fd : {tokens_, active_, config_})
        if (fd >= 0)
            close(fd);
}

void EventBudget::refill()
{
    uint32_t zero = 0;
    xi_active a{};
    xi_gen_config cfg{};
    if (bpf_map_lookup_elem(active_, &zero, &a) != 0 || a.slot >= XI_GEN_SLOTS ||
        bpf_map_lookup_elem(config_, &a.slot, &cfg) != 0)
        return; // nothing published yet: nothing to grant
    auto now = std::chrono::steady_clock::now();
    double secs = started_ ? std::chrono::duration<double>(now - last_).count() : 0;
    if (started_ && secs < 0.05)
        return; // called after every batch of events: refill at most every 50 ms
    last_ = now;
    const uint64_t burst = std::max<uint32_t>(cfg.events_burst, 1);
    const size_t ncpu = carry_.size() / kBuckets;
    std::vector<xi_tokens> per_cpu(ncpu);
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    for (uint32_t b = 0; b < kBuckets; b++) {
        if (bpf_map_lookup_elem(tokens_, &b, per_cpu.data()) != 0)
            continue;
        for (size_t c = 0; c < ncpu; c++) {
            double &carry = carry_[b * ncpu + c];
            uint64_t add;
            if (!cfg.events_per_sec) {
                add = 0;
                carry = 0;
                per_cpu[c].tokens = 0; // events off: take back what is left
            } else if (!started_) {
                add = burst;
            } else {
                carry += cfg.events_per_sec * secs;
                add = static_cast<uint64_t>(carry);
                carry -= static_cast<double>(add);
            }
            per_cpu[c].tokens = std::min<uint64_t>(burst, per_cpu[c].tokens + add);
            per_cpu[c].last_ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
        }
        // A CPU may spend a token between the read and this write: it gets it back. At most
        // one event per CPU and refill over the rate, never a lost budget.
        bpf_map_update_elem(tokens_, &b, per_cpu.data(), BPF_ANY);
    }
    started_ = true;
}

void EventBudget::clear(const std::string &dir)
{
    int fd = open_pin(dir, XI_MAP_EVENT_TOKENS);
    std::vector<xi_tokens> zeros(static_cast<size_t>(possible_cpus()));
    for (uint32_t b = 0; b < kBuckets; b++) {
        if (bpf_map_update_elem(fd, &b, zeros.data(), BPF_ANY) != 0) {
            int err = errno;
            close(fd);
            throw Error(dir + "/xi_event_tokens: cannot reset the event budget", err);
        }
    }
    close(fd);
}

} // namespace xi
