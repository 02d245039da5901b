#pragma once
// Per-worker counters. The owning worker increments with plain (non-locked) adds on
// its own cache lines; the control thread reads them with relaxed loads and sums.
#include <array>
#include <atomic>
#include <cstdint>

#include "dataplane/drop_reasons.hpp"

namespace eg::dp {

inline constexpr uint16_t k_max_ports = 16;

/// A counter written by exactly one thread and read by others. `add` compiles to a
/// plain load/add/store (no lock prefix): only the owner writes.
class counter {
public:
    void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

struct port_counters {
    counter rx_packets, rx_bytes, tx_packets, tx_bytes;
};

/// Everything one worker counts. Owner: that worker; readers: the control thread.
struct alignas(64) worker_counters {
    std::array<counter, k_drop_reason_count> drops{};
    std::array<port_counters, k_max_ports> ports{};
    counter punted, injected, bursts, idle_sleeps;
    counter arp_replies_sent, nd_adverts_sent, echo_replies_sent, icmp_errors_sent;
    counter forwarded_ipv4, forwarded_ipv6, to_host, fragments_sent;
    counter nat_sessions_created, nat_sessions_expired, nat_translated, nat_events_lost, nat_handed_off;
    counter wg_encrypted, wg_decrypted, wg_keepalives_received, wg_handshakes_punted, wg_staged;

    void drop(drop_reason r) { drops[reason_index(r)].add(); }
};

}  // namespace eg::dp
