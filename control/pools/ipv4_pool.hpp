#pragma once
// One IPv4 address pool: a prefix from /30 to /8 whose addresses are handed to VMs.
//
// One bit per address in a free_bitmap (about 2 MiB for a /8) and nothing per
// address beyond it, so creating a pool costs the same for a /24 and a /8 (ISC's
// FLQ allocator needs 15 s or more to start with a /8 pool; see
// shared/reference/control-plane.md §1.4). allocate() takes the next free address
// after a rotating cursor: O(1) (one countr_zero per bitmap level), and an address
// just released is not handed out again until the cursor comes round, which keeps
// stale ARP caches and late packets for the old VM away from the new one.
//
// States of an address: excluded (never handed out: network, broadcast, gateway,
// configured ranges), free, in use (allocated or reserved), quarantined (declined:
// RFC 2131 §4.3.3, unavailable until a given time, then free again).
// Addresses are host byte order. Times are unix seconds. Owner: the control thread.
#include <cstdint>
#include <optional>
#include <queue>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "control/pools/free_bitmap.hpp"
#include "control/pools/pool_error.hpp"

namespace eg::ctl::pools {

/// An inclusive address range, host byte order.
struct ipv4_range {
    uint32_t first = 0;
    uint32_t last = 0;
    bool contains(uint32_t a) const { return a >= first && a <= last; }
};

class ipv4_pool {
public:
    struct options {
        bool exclude_network_and_broadcast = true;
        std::vector<uint32_t> excluded_addresses;  ///< e.g. the gateway
        std::vector<ipv4_range> excluded_ranges;   ///< clipped to the pool
    };
    enum class address_state { outside, excluded, free, in_use, quarantined };

    /// network/prefix_len with 8 <= prefix_len <= 30 and no host bits set; throws
    /// std::invalid_argument otherwise (pools are built while starting up or on a
    /// validated config change). Cost does not depend on the pool's size.
    ipv4_pool(uint32_t network, uint8_t prefix_len, const options& opts);
    ipv4_pool(uint32_t network, uint8_t prefix_len) : ipv4_pool(network, prefix_len, options{}) {}

    /// The next free address after the cursor, or nullopt when none is left.
    std::optional<uint32_t> allocate();
    /// Takes exactly `addr` (static reservations, replay of leases).
    std::error_code reserve(uint32_t addr);
    /// Gives back an address that is in use.
    std::error_code release(uint32_t addr);
    /// Makes `addr` (in use or free) unavailable until `until_s`; a later quarantine
    /// of the same address moves its end.
    std::error_code quarantine(uint32_t addr, uint64_t until_s);
    /// Frees every quarantined address whose time has come; returns how many.
    size_t reclaim_quarantine(uint64_t now_s);
    /// When the next quarantine ends (to arm a timer), if any address is quarantined.
    std::optional<uint64_t> next_quarantine_end() const;

    address_state state(uint32_t addr) const;
    bool contains(uint32_t addr) const { return addr - network_ < size_; }

    uint32_t network() const { return network_; }
    uint8_t prefix_len() const { return prefix_len_; }
    /// Addresses that can ever be handed out (size minus exclusions).
    uint64_t total() const { return size_ - excluded_; }
    uint64_t used() const { return used_; }
    uint64_t quarantined() const { return quarantine_.size(); }
    uint64_t available() const { return total() - used_ - quarantine_.size(); }
    size_t memory_bytes() const { return bits_.mapped_bytes(); }

private:
    bool is_excluded(uint32_t offset) const;

    uint32_t network_;
    uint8_t prefix_len_;
    uint64_t size_;
    uint64_t excluded_ = 0;
    uint64_t used_ = 0;
    uint64_t cursor_ = 0;
    free_bitmap bits_;                                   ///< set = not free
    std::vector<ipv4_range> exclusions_;                 ///< offsets, sorted, disjoint
    std::unordered_map<uint32_t, uint64_t> quarantine_;  ///< offset -> until_s
    using timed = std::pair<uint64_t, uint32_t>;         ///< (until_s, offset)
    std::priority_queue<timed, std::vector<timed>, std::greater<>> expiry_;  ///< lazy deletes
};

}  // namespace eg::ctl::pools
