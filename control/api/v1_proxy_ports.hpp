#pragma once
// The proxy-port and probe endpoints (README "Admin API"):
//   GET    /v1/proxy-ports                    every assignment (and unmanaged VM ports)
//   POST   /v1/proxy-ports                    {organization_id} -> its port (assigned if new);
//                                             {organization_id, port} pins that port
//   DELETE /v1/proxy-ports/{organization_id}  gives the port up
//   GET    /v1/probes                         per probed port: health, latency, exit address
// Changes are applied to the data plane at once (a new snapshot) and answered once
// their record is durable in the lease store (a deferred response,
// proxy_ports_service::when_durable); 500 store_failed if the store failed first.
// Owner: the control thread.
#include <functional>
#include <vector>

#include "control/api/router.hpp"
#include "control/probes/probe_status.hpp"
#include "control/proxy_ports_service.hpp"

namespace eg::ctl::api {

struct proxy_port_sources {
    proxy_ports_service* service = nullptr;  ///< outlives the router
    /// The probes' state; empty function when [probes] is off.
    std::function<std::vector<probes::port_status>()> probes;
};

void add_v1_proxy_port_endpoints(router& r, proxy_port_sources sources);

/// The documents, separate for tests.
nlohmann::json proxy_ports_json(const proxy_ports_service& s);
nlohmann::json probes_json(const std::vector<probes::port_status>& ports, bool enabled);

}  // namespace eg::ctl::api
