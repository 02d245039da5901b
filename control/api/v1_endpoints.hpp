#pragma once
// The v1 read endpoints: GET /v1/info, /v1/stats, /v1/forwards, /v1/egress. They show
// the running config and the engine's counters; write endpoints (POST /v1/allocations,
// forwards at runtime, reload) are added beside them in the same router.
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
};

void add_v1_read_endpoints(router& r, v1_sources sources);

/// The JSON documents, separate for tests.
nlohmann::json info_json(const cfg::config& c, const std::string& version, uint64_t uptime_ms);
nlohmann::json stats_json(const metrics::gateway_stats& s);
nlohmann::json forwards_json(const cfg::config& c);
nlohmann::json egress_json(const cfg::config& c);

}  // namespace eg::ctl::api
