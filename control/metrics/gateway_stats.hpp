#pragma once
// What the control plane reports about the running engine: the workers' counters
// summed, per port, plus the control thread's own figures. Built by
// gateway::stats() on the control thread; shown by GET /v1/stats and the Prometheus
// exposer. Plain values: a copy can be handed to any thread.
#include <cstdint>
#include <string>
#include <vector>

#include "control/probes/probe_status.hpp"

namespace eg::ctl::metrics {

struct port_stats {
    std::string name;  ///< the [[ports]] name; "host" for the host TAP
    uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
};

/// One WireGuard peer as the metrics show it (control/wireguard_service status).
struct wireguard_peer_stats {
    std::string tunnel, peer;  ///< tunnel name, peer name
    uint64_t rx_bytes = 0, tx_bytes = 0, handshakes = 0;
    double last_handshake_age_s = -1;  ///< -1: never
    bool healthy = false;
    uint64_t drop_not_allowed = 0, drop_replayed = 0, drop_auth = 0, drop_no_keypair = 0;
};

/// The handshake side of all tunnels.
struct wireguard_handshake_stats {
    uint64_t initiations_received = 0, responses_received = 0, cookie_replies_received = 0;
    uint64_t initiations_sent = 0, responses_sent = 0, cookie_replies_sent = 0, completed = 0;
    uint64_t invalid_mac1 = 0, rate_limited = 0, unknown_peer = 0, rejected = 0, malformed = 0;
};

/// One DHCP network's address pool (its configured ranges).
struct pool_stats {
    std::string network;              ///< "192.168.100.0/24"
    std::string port;                 ///< the vm port serving it
    std::vector<std::string> ranges;  ///< "first-last"
    uint64_t total = 0, used = 0, available = 0, quarantined = 0;
};

struct gateway_stats {
    std::vector<port_stats> ports;
    std::vector<uint64_t> drops_by_reason;  ///< indexed by dp::drop_reason (index 0 "none" unused)
    uint64_t forwarded_ipv4 = 0, forwarded_ipv6 = 0;
    uint64_t punted = 0;         ///< frames the workers sent to the control thread
    uint64_t to_host = 0;        ///< frames the workers sent to the host TAP
    uint64_t backend_drops = 0;  ///< frames lost before the engine saw them (all ports)
    uint64_t nat_sessions_active = 0, nat_sessions_created = 0, nat_sessions_expired = 0, nat_translated = 0;
    uint64_t neighbours = 0;     ///< entries in the neighbour resolver
    uint64_t uptime_ms = 0;
    bool wireguard = false;  ///< tunnels configured: the two below are meaningful
    std::vector<wireguard_peer_stats> wireguard_peers;
    wireguard_handshake_stats wireguard_handshakes;
    std::vector<probes::port_status> probes;  ///< proxy-port probes ([probes]); empty when off
    std::vector<pool_stats> pools;    ///< DHCP networks
    uint64_t vms_configured = 0;      ///< [[vms]]
    uint64_t vms_runtime = 0;         ///< admitted at runtime (leases, allocations)
    uint64_t vm_capacity = 0;         ///< nat.max_vms
    uint64_t allocations = 0;         ///< API allocations
};

}  // namespace eg::ctl::metrics
