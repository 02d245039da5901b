#pragma once
// The v1 read endpoints: GET /v1/info, /v1/stats. They show the running config and the
// engine's counters; the other endpoints (allocations, forwards and egress in
// v1_runtime_policies, reload) are added beside them in the same router.
// Owner: the control thread (handlers read `config` and call `stats` there).
#include <functional>
#include <string>

#include "config/config.hpp"
#include "control/api/router.hpp"
#include "control/metrics/gateway_stats.hpp"

namespace eg::ctl::api {

struct v1_sources {
    const cfg::config* config = nullptr;             ///< outlives the router
    std::function<metrics::gateway_stats()> stats;   ///< control thread
    std::function<uint64_t()> uptime_ms;             ///< cheap: /v1/info must not sum counters
    std::string version;
    /// Moves with every applied reload: cached documents of the config are rebuilt.
    std::function<uint64_t()> config_generation;
};

void add_v1_read_endpoints(router& r, v1_sources sources);

/// The JSON documents, separate for tests.
nlohmann::json info_json(const cfg::config& c, const std::string& version, uint64_t uptime_ms);
nlohmann::json stats_json(const metrics::gateway_stats& s);

}  // namespace eg::ctl::api
