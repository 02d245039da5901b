#pragma once
// Runtime WireGuard peers (POST /v1/wireguard/peers) kept in the lease store, so they
// survive restarts like the other runtime changes (docs/lease-store.md: a kv record per
// peer, namespace "wireguard_peers", key = the peer's public key in base64, value = JSON
// with what recreates it: tunnel, name, allowed_ips, routes, idle_timeout_s,
// persistent_keepalive_s, preshared_key when it has one). A private key the gateway
// generated for the client is never stored: it is handed out once, in the answer's
// wg-quick text. The pre-shared key is (the peer needs it after a restart; without the
// client's private key it lets nobody in).
//
// Adds and removes go through here: the peer is changed in the service at once and its
// record appended to the store; the returned ticket says when that is durable (the admin
// API answers only then). At start-up, once the config's peers exist, the stored peers
// are added again; one whose tunnel is gone, whose key is now a config peer's or whose
// allowed IPs now clash is dropped from the store with a log line. Without a store (no
// state directory) runtime peers live in memory only, as before.
// Owner: the control thread.
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "control/leases/lease_store.hpp"
#include "control/wireguard_service.hpp"

namespace eg::ctl {

inline constexpr std::string_view k_wireguard_peer_namespace = "wireguard_peers";

/// The record of a runtime peer (its public key is the record's key, not in here).
nlohmann::json wireguard_peer_record(const wireguard_new_peer& np);
/// The peer a record describes, with `key` as its public key; nullopt and `why` when the
/// record is not one.
std::optional<wireguard_new_peer> parse_wireguard_peer_record(std::string_view key, const nlohmann::json& j,
                                                              std::string& why);

/// What a reload to `routes` would break: one line per allowed IP of a runtime peer (one
/// of `peers` that is not in `config_tunnels`) that equals one of the routes' prefixes.
/// Such a peer works until the next restart and is then dropped, so the reload is
/// refused instead (as for the runtime forwards and egress policies).
std::vector<std::string> runtime_peer_route_clashes(const std::vector<wireguard_peer_status>& peers,
                                                    const std::vector<cfg::wireguard_config>& config_tunnels,
                                                    const std::vector<cfg::route_config>& routes);

class wireguard_peer_records {
public:
    using log_fn = std::function<void(std::string_view)>;

    /// `store` may be null (no state directory): peers are then kept in memory only.
    wireguard_peer_records(wireguard_service& service, leases::lease_store* store, log_fn log);

    struct added {
        wireguard_add_result r;
        leases::ticket t = 0;  ///< durable from this ticket on (0: nothing was written)
        std::error_code ec;    ///< the store refused the record: the peer was taken out again
    };
    added add(const wireguard_new_peer& np, uint64_t now_ns);

    struct removed {
        bool found = false;
        leases::ticket t = 0;
        std::error_code ec;  ///< the peer is gone but its record could not be erased
    };
    removed remove(const cfg::wg_key& key);

    /// An ephemeral peer the service removed for idleness: its record goes too (nobody
    /// waits for that to be durable; at worst it comes back once and expires again).
    void forget(const cfg::wg_key& key);

    /// Adds the stored peers to the service (after the config's peers) without publishing
    /// a snapshot (the caller publishes once); drops those that no longer fit `tunnels`.
    /// Returns how many were restored.
    size_t restore(const std::vector<cfg::wireguard_config>& tunnels, uint64_t now_ns);

    bool persistent() const { return store_ != nullptr; }

private:
    void log(const std::string& line) const;

    wireguard_service& service_;
    leases::lease_store* store_;
    log_fn log_;
};

}  // namespace eg::ctl
