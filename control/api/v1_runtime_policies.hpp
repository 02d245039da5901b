#pragma once
// The v1 port-forward and egress-policy endpoints (README "Runtime forwards and
// egress policies"):
//
//   GET    /v1/forwards                                 config and runtime forwards, each with its source
//   POST   /v1/forwards        {protocol, public_address, port, to[, to_port]}  -> 201 (200 if it existed)
//   DELETE /v1/forwards/{protocol}/{public_address}/{port}   a runtime forward; a config one is a 409
//   GET    /v1/egress                                   every [[vms]] entry's effective policy, and the
//                                                       allocations' runtime ones
//   POST   /v1/egress          {vm, egress[, public_address][, proxy_port][, proxy_force]} -> 201/200
//   DELETE /v1/egress/{vm}                              back to the config's policy (or masquerade)
//
// A change is applied to the data plane at once (a new snapshot) and answered once
// the lease store has it on disk. Errors: 400 bad input, 404 unknown, 409 conflict
// or not configured (no NAT, no store, port_block), 500 store failure.
// Owner: the control thread.
#include <functional>
#include <nlohmann/json.hpp>
#include <system_error>

#include "control/api/router.hpp"
#include "control/runtime_policy_service.hpp"

namespace eg::ctl::api {

struct runtime_policy_sources {
    runtime_policy_service* service = nullptr;    ///< outlives the router
    const cfg::config* config = nullptr;          ///< the running config (replaced by a reload)
    std::function<allocation_lookup()> lookup;    ///< allocations and proxy ports, now
    std::function<void()> publish;                ///< builds and publishes a snapshot
    /// Calls done once ticket t is durable (or with the store's error).
    std::function<void(leases::ticket t, std::function<void(std::error_code)> done)> when_durable;
};

void add_v1_runtime_policy_endpoints(router& r, runtime_policy_sources sources);

/// The JSON documents, separate for tests.
nlohmann::json forwards_json(const cfg::config& c, const runtime_policies& rt);
nlohmann::json egress_json(const cfg::config& c, const runtime_policies& rt, const allocation_lookup& a);

}  // namespace eg::ctl::api
