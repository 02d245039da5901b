#pragma once
// ARP/ND resolution on the control thread: learns neighbours from punted ARP/NA/NS/RS
// frames into the shared neighbour_table, holds packets that wait for resolution in
// a bounded queue per neighbour, retransmits requests, expires entries that stop
// answering and refreshes live ones before they expire (unicast probe).
// Sans-I/O: time comes in as an argument, frames go out through `send`.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <vector>

#include "config/config.hpp"
#include "dataplane/neighbour_table.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::ctl {

class neighbour_resolver {
public:
    using send_fn = std::function<void(uint16_t port, std::span<const uint8_t> frame, const dp::offload_info&)>;

    neighbour_resolver(dp::neighbour_table& table, const cfg::neighbour_config& cfg, send_fn send);

    /// A frame a worker punted (learn or unresolved).
    void on_punted(const dp::frame_message& m, const dp::snapshot& s, uint64_t now_ms);
    /// Periodic work (every ~100 ms): retransmissions, expiry, refresh.
    void on_tick(const dp::snapshot& s, uint64_t now_ms);

    struct stats {
        uint64_t learned = 0, requests_sent = 0, resolved = 0, failed = 0, queued = 0, queue_drops = 0,
                 released = 0, expired = 0, table_full = 0;
    };
    const stats& counters() const { return stats_; }
    size_t entries() const { return entries_.size(); }

private:
    struct pending_frame {
        std::vector<uint8_t> data;
        dp::offload_info offload;
    };
    struct entry {
        bool resolved = false;
        dp::mac_bytes mac{};
        uint64_t confirmed_ms = 0;   ///< last time we heard from it
        uint64_t last_probe_ms = 0;
        uint32_t probes = 0;         ///< sent since the last confirmation
        std::vector<pending_frame> queue;
    };
    using key = std::tuple<uint16_t, bool, std::array<uint8_t, 16>>;

    void learn(const dp::snapshot& s, uint16_t port, bool v6, const uint8_t* addr, const dp::mac_bytes& mac,
               uint64_t now_ms, bool only_if_known);
    void probe(const dp::snapshot& s, const key& k, entry& e, uint64_t now_ms);
    void release_queue(entry& e, uint16_t port);

    dp::neighbour_table& table_;
    cfg::neighbour_config cfg_;
    send_fn send_;
    std::map<key, entry> entries_;
    stats stats_;
};

}  // namespace eg::ctl
