#pragma once
// Each VM's dedicated IPv6 address bound to its MAC and VM port: the part of the
// snapshot that
//   - routes the /128 straight to that VM (the binding is the neighbour entry: no
//     neighbour discovery, and no route needed when the /64 is routed to us rather than
//     on-link), and
//   - is IPv6 anti-spoofing on vm ports: a global source must be bound to the sender's
//     MAC on the port it came in on.
// Bindings come from [[vms]] ipv6 and from the admin API's allocations (their /128 out of
// [[dhcp.networks]] ipv6_prefix). Immutable once built by the control thread; workers
// look up by the whole 16-byte address with open addressing (at most half full, so a
// miss usually reads one slot).
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace eg::dp {

using mac_bytes = std::array<uint8_t, 6>;    // as in snapshot.hpp
using ipv6_bytes = std::array<uint8_t, 16>;

struct vm6_binding {
    ipv6_bytes addr{};
    mac_bytes mac{};
    uint16_t port = 0;
};

class vm6_bindings {
public:
    /// Adds a binding; one for an address already bound replaces it (building only).
    void add(const vm6_binding& b);

    /// The binding of `addr` (16 bytes), or nullptr.
    const vm6_binding* find(const uint8_t* addr) const {
        if (entries_.empty()) {
            return nullptr;
        }
        const size_t mask = slots_.size() - 1;
        for (size_t i = hash(addr) & mask;; i = (i + 1) & mask) {
            const uint32_t e = slots_[i];
            if (e == 0) {
                return nullptr;
            }
            if (std::memcmp(entries_[e - 1].addr.data(), addr, 16) == 0) {
                return &entries_[e - 1];
            }
        }
    }

    bool empty() const { return entries_.empty(); }
    size_t size() const { return entries_.size(); }
    const std::vector<vm6_binding>& entries() const { return entries_; }

private:
    static uint64_t hash(const uint8_t* addr) {
        uint64_t hi, lo;
        std::memcpy(&hi, addr, 8);
        std::memcpy(&lo, addr + 8, 8);
        // The interface identifiers differ, the /64s mostly do not: mix both halves, then
        // fold the high bits down (Fibonacci hashing, as flat_map does).
        uint64_t k = (lo ^ (hi * 0xff51afd7ed558ccdULL)) * 0x9e3779b97f4a7c15ULL;
        return k ^ (k >> 32);
    }
    void rehash(size_t slots);

    std::vector<vm6_binding> entries_;
    std::vector<uint32_t> slots_;  ///< index + 1 into entries_; 0 = empty
};

}  // namespace eg::dp
