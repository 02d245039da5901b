#pragma once
// The v1 allocation endpoints (README "Admin API"):
//
//   POST   /v1/allocations            {vps_id, organization_id, mac[, network]} -> 201 (200 if it existed)
//   GET    /v1/allocations            {"allocations": [...]}
//   GET    /v1/allocations/{vps_id}   one allocation, 404 when unknown
//   DELETE /v1/allocations/{vps_id}   frees it, 200 with what it was, 404 when unknown
//   GET    /v1/leases                 the DHCP leases: {"leases": [...]}
//
// Writes reply only once the lease store has them on disk (a deferred response,
// dhcp_service::when_durable). Errors: 400 bad input, 404 unknown, 409 conflict (the
// vps_id with another MAC/organization/network, a MAC already placed, no DHCP
// configured), 507 pool exhausted, 500 store failure.
// Owner: the control thread.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "control/api/router.hpp"
#include "control/dhcp_service.hpp"

namespace eg::ctl::api {

/// `dhcp` may be null (no [dhcp]): lists are empty and POST is a 409.
void add_v1_allocation_endpoints(router& r, dhcp_service* dhcp);

/// The JSON documents, separate for tests.
nlohmann::json allocation_json(const leases::lease& rec, const allocations::network* net, uint64_t now_s);
nlohmann::json leases_json(const dhcp_service& dhcp, uint64_t now_s);

}  // namespace eg::ctl::api
