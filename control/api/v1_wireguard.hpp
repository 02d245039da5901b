#pragma once
// The v1 WireGuard endpoints: GET /v1/wireguard (tunnels: public key, listen socket,
// handshake counters), GET /v1/wireguard/peers (`wg show`-like status and health per
// peer), POST /v1/wireguard/peers (add; without a public key the gateway makes the
// client's keypair and answers with a wg-quick config) and DELETE
// /v1/wireguard/peers/{public_key} (base64, percent-encoded or URL-safe).
// Owner: the control thread (handlers call the service directly).
#include <nlohmann/json.hpp>

#include "control/api/router.hpp"
#include "control/wireguard_service.hpp"

namespace eg::ctl::api {

/// `service` outlives the router.
void add_v1_wireguard_endpoints(router& r, wireguard_service* service,
                                const std::vector<cfg::wireguard_config>* tunnels);

nlohmann::json wireguard_peers_json(const std::vector<wireguard_peer_status>& peers);

/// The body of POST /v1/wireguard/peers as a request to the service; throws api_error 400.
wireguard_new_peer parse_new_peer(const request& r);
/// A public key from a path segment: standard base64 (percent-encoded or not) or the
/// URL-safe alphabet; throws api_error 400.
cfg::wg_key key_from_path(const std::string& segment);

}  // namespace eg::ctl::api
