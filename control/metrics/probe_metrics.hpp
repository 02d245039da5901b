#pragma once
// The proxy-port probes as Prometheus families: a latency histogram and the health
// state per probed port (README "Metrics"). Appended to families() by the collector.
#include <prometheus/metric_family.h>
#include <vector>

#include "control/probes/probe_status.hpp"

namespace eg::ctl::metrics {

void append_probe_families(std::vector<prometheus::MetricFamily>& out, const std::vector<probes::port_status>& ports);

}  // namespace eg::ctl::metrics
