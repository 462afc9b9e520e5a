// Prometheus metrics of one instance, read from the pinned maps at scrape time (nothing is
// cached: a scrape shows what the datapath counted up to that moment). Names follow the
// Prometheus conventions: counters end in _total, info metrics in _info, base units.
#pragma once

#include <memory>
#include <prometheus/collectable.h>
#include <string>
#include <vector>

#include "bpffs.h"

namespace xi
{

class DatapathCollector : public prometheus::Collectable
{
public:
    DatapathCollector(Paths paths, std::string instance);
    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    Paths paths_;
    std::string instance_;
};

// Every metric family name the collector can produce (dashboards and alerts are checked
// against it).
const std::vector<std::string> &metric_names();

// Render the metrics of an instance in the text exposition format (what /metrics serves).
std::string render_metrics(const Paths &paths, const std::string &instance);

} // namespace xi
