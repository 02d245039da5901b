#pragma once
// POST /v1/reload (README "Admin API"): re-reads the config file edgegated was started
// with, validates it whole, and applies what may change at runtime
// (control/config_reload) with a new snapshot; or changes nothing:
//   200 {"reloaded": true, "applied": [...], "generation": N}
//   400 invalid_config: the file does not validate; error.errors lists every problem
//   409 needs_restart: error.changed names the parts that need a restart
//   409 conflict: a runtime forward or egress policy would clash with the new file
// The body must be empty or {}.
// Owner: the control thread.
#include <functional>
#include <string>
#include <vector>

#include "control/api/router.hpp"

namespace eg::ctl::api {

struct reload_outcome {
    enum class kind { applied, invalid, needs_restart, conflict } result = kind::applied;
    std::vector<std::string> lines;  ///< applied: what changed; else the problems
    uint64_t generation = 0;         ///< applied: the config generation now
};

void add_v1_reload_endpoint(router& r, std::function<reload_outcome()> reload);

}  // namespace eg::ctl::api
