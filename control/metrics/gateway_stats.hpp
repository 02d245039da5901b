#pragma once
// What the control plane reports about the running engine: the workers' counters
// summed, per port, plus the control thread's own figures. Built by
// gateway::stats() on the control thread; shown by GET /v1/stats and the Prometheus
// exposer. Plain values: a copy can be handed to any thread.
#include <cstdint>
#include <string>
#include <utility>
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

/// The DHCP server's counters (control/dhcp/server.hpp counts them) and its lease
/// store's (control/leases), for edgegate_dhcp_* and edgegate_lease_store_*.
struct dhcp_stats {
    /// Messages received, by type (every one that parsed and named a network).
    uint64_t rx_discover = 0, rx_request = 0, rx_decline = 0, rx_release = 0, rx_inform = 0;
    /// Replies made, by type (ACKs include INFORM's; an ACK held for the journal counts
    /// when made: those that never leave are in drops as persist_failed/held_queue_full).
    uint64_t tx_offer = 0, tx_ack = 0, tx_nak = 0;
    uint64_t request_selecting = 0, request_init_reboot = 0, request_renewing = 0, request_rebinding = 0;
    uint64_t allocations = 0;     ///< bindings that handed a client an address it did not hold
    uint64_t bindings = 0;        ///< every binding ACKed or held for its ACK (new and extended)
    uint64_t releases = 0;        ///< RELEASEs that ended the sender's binding
    uint64_t declines = 0;        ///< DECLINEs that quarantined an address
    uint64_t pool_exhausted = 0;  ///< DISCOVERs left without an OFFER: no free address
    uint64_t leases_active = 0;   ///< bindings bound and not expired now
    uint64_t replies_held = 0;    ///< ACKs waiting for their lease to be durable now
    std::vector<std::pair<std::string, uint64_t>> drops;  ///< reason -> messages dropped unanswered
};

struct lease_store_stats {
    uint64_t journal_bytes = 0;   ///< size of the journal now appended to
    uint64_t written_bytes = 0;   ///< journal bytes written since start
    uint64_t records = 0;         ///< records appended since start
    uint64_t compactions = 0, compaction_failures = 0;
    std::vector<double> fsync_bounds_s;   ///< histogram bucket upper bounds (+Inf not listed)
    std::vector<uint64_t> fsync_buckets;  ///< per bucket, not cumulative; one more than the bounds
    double fsync_seconds = 0;             ///< sum of the fdatasync latencies
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
    bool dhcp = false;                ///< [dhcp] configured: the two below are meaningful
    dhcp_stats dhcp_counters;
    lease_store_stats lease_store;
};

}  // namespace eg::ctl::metrics
