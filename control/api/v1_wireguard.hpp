#pragma once
// The v1 WireGuard endpoints: GET /v1/wireguard (tunnels: public key, listen socket,
// handshake counters), GET /v1/wireguard/peers (`wg show`-like status and health per
// peer), POST /v1/wireguard/peers (add; without a public key the gateway makes the
// client's keypair and answers with a wg-quick config) and DELETE
// /v1/wireguard/peers/{public_key} (base64, percent-encoded or URL-safe).
// Adds and deletes are kept in the lease store (control/wireguard_peer_records.hpp) and
// answered once that is durable; without a store they are answered at once.
// Owner: the control thread (handlers call the service directly).
#include <nlohmann/json.hpp>

#include "control/api/response.hpp"
#include "control/api/router.hpp"
#include "control/wireguard_peer_records.hpp"
#include "control/wireguard_service.hpp"

namespace eg::ctl::api {

struct wireguard_sources {
    wireguard_service* service = nullptr;        ///< reads; outlives the router
    wireguard_peer_records* records = nullptr;   ///< adds and deletes; outlives the router
    const std::vector<cfg::wireguard_config>* tunnels = nullptr;
    /// Calls done once a lease-store ticket is durable (or with the store's error).
    durability_wait when_durable;
};

void add_v1_wireguard_endpoints(router& r, wireguard_sources sources);

nlohmann::json wireguard_peers_json(const std::vector<wireguard_peer_status>& peers);

/// The body of POST /v1/wireguard/peers as a request to the service; throws api_error 400.
wireguard_new_peer parse_new_peer(const request& r);
/// A public key from a path segment: standard base64 (percent-encoded or not) or the
/// URL-safe alphabet; throws api_error 400.
cfg::wg_key key_from_path(const std::string& segment);

}  // namespace eg::ctl::api
