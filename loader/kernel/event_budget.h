// The consumer side of the event rate limit (bpf/lib/events.h): the datapath spends a per-CPU
// budget of events and never reads a clock for it; whoever reads the ring buffer refills the
// budgets from the running generation's `events:` rate and burst (per CPU and bucket). Nobody
// reading means no refills and no events: the datapath then pays one array lookup per would-be
// event. Two consumers at once refill twice as fast (each gets every event it reads).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace xi
{

class EventBudget
{
public:
    explicit EventBudget(const std::string &instance_dir); // throws xi::Error naming the pin
    ~EventBudget();
    EventBudget(const EventBudget &) = delete;
    EventBudget &operator=(const EventBudget &) = delete;

    // Add rate x (time since the last refill) to every CPU's budget of both buckets, capped at
    // burst; the first call fills the budgets to burst. Call every ~100 ms.
    void refill();

    // No budget on any CPU. attach and attach --replace start from it: a release before this
    // scheme kept nanoseconds of credit in the same map, which would read as millions of events.
    static void clear(const std::string &instance_dir);

private:
    int tokens_ = -1, active_ = -1, config_ = -1;
    bool started_ = false;
    std::chrono::steady_clock::time_point last_;
    std::vector<double> carry_; // fractions of an event not yet granted, per CPU and bucket
};

} // namespace xi
