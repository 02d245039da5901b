#pragma once
// The Prometheus view of the gateway: a prometheus::Collectable that, on each scrape,
// fetches one gateway_stats and turns it into metric families. Nothing is counted
// here, so metrics cost nothing per packet: the workers' counters are the source.
//
// Collect() runs on the exposer's civetweb thread. It never touches gateway state
// itself: `fetch` is the gateway's own thread-safe path (it posts to the control
// thread and waits, bounded), and what comes back is a plain copy.
#include <functional>
#include <optional>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <string>
#include <vector>

#include "control/metrics/gateway_stats.hpp"

namespace eg::ctl::metrics {

struct build_info {
    std::string name;     ///< gateway.name
    std::string version;
};

/// The metric families for one set of stats (edgegate_* names, see README "Metrics").
std::vector<prometheus::MetricFamily> families(const gateway_stats& s, const build_info& info);
/// Only edgegate_info: what a scrape shows when the stats could not be fetched.
std::vector<prometheus::MetricFamily> info_family(const build_info& info);

class collector : public prometheus::Collectable {
public:
    using fetch_fn = std::function<std::optional<gateway_stats>()>;
    collector(fetch_fn fetch, build_info info) : fetch_(std::move(fetch)), info_(std::move(info)) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    fetch_fn fetch_;
    build_info info_;
};

}  // namespace eg::ctl::metrics
