#pragma once
// A worker's private cache of next-hop MACs in front of the shared neighbour_table.
//
// Why: the shared table's lookup (key build, hash, seqlock probe) cost ~60 instructions,
// and a burst of NATed replies goes to many VMs, so the one-entry memo this replaces
// missed on most inbound packets. Here a hit is a compare and one load.
//
// Direct-mapped, 256 entries of 40 bytes (10 KiB). Each entry keeps the table
// slot it was found in and that slot's sequence number (neighbour_ref): any write to
// the slot (new MAC, deletion, a rebuild moving entries) changes the number, so a
// cached MAC is used only while the shared entry is exactly as it was. Nothing needs
// resetting between bursts and a change is seen at the next packet.
#include <cstdint>
#include <cstring>

#include "dataplane/neighbour_table.hpp"

namespace eg::dp {

class neighbour_cache {
public:
    static constexpr uint32_t k_entries = 256;

    /// Next-hop MAC of IPv4 `addr` (host order) on `port`. False: not in the table.
    bool resolve4(const neighbour_table& t, uint16_t port, uint32_t addr, uint8_t mac_out[6]) {
        entry& e = entries_[index(port, addr, 0)];
        if (e.a0 == addr && e.port == port && e.kind == k_v4 && t.current(e.ref)) [[likely]] {
            std::memcpy(mac_out, e.mac, 6);
            return true;
        }
        return fill(t, e, neighbour_key::ipv4(port, addr), port, k_v4, addr, 0, mac_out);
    }

    /// Next-hop MAC of IPv6 `addr` (16 bytes) on `port`. False: not in the table.
    bool resolve6(const neighbour_table& t, uint16_t port, const uint8_t* addr, uint8_t mac_out[6]) {
        uint64_t a0, a1;
        std::memcpy(&a0, addr, 8);
        std::memcpy(&a1, addr + 8, 8);
        entry& e = entries_[index(port, a0, a1)];
        if (((e.a0 ^ a0) | (e.a1 ^ a1)) == 0 && e.port == port && e.kind == k_v6 && t.current(e.ref)) [[likely]] {
            std::memcpy(mac_out, e.mac, 6);
            return true;
        }
        return fill(t, e, neighbour_key::ipv6(port, addr), port, k_v6, a0, a1, mac_out);
    }

private:
    enum : uint8_t { k_empty = 0, k_v4 = 1, k_v6 = 2 };
    struct entry {
        uint64_t a0 = 0, a1 = 0;  // IPv4: a0 = the address (host order); IPv6: the 16 bytes
        neighbour_ref ref{};
        uint16_t port = 0;
        uint8_t kind = k_empty;
        uint8_t mac[6] = {};
    };

    static uint32_t index(uint16_t port, uint64_t a0, uint64_t a1) {
        // Multiply and take the top bits (Fibonacci hashing): sequential VM addresses
        // and the interface-identifier half of IPv6 addresses spread over all entries.
        const uint64_t h = (a0 ^ (a1 * 0xff51afd7ed558ccdULL) ^ (uint64_t{port} << 40)) * 0x9e3779b97f4a7c15ULL;
        return static_cast<uint32_t>(h >> 56);
    }
    static_assert(k_entries == 256, "index() takes the top 8 bits");

    static bool fill(const neighbour_table& t, entry& e, const neighbour_key& key, uint16_t port, uint8_t kind,
                     uint64_t a0, uint64_t a1, uint8_t mac_out[6]) {
        neighbour_ref ref;
        if (!t.lookup(key, mac_out, &ref)) {
            return false;
        }
        e.a0 = a0;
        e.a1 = a1;
        e.ref = ref;
        e.port = port;
        e.kind = kind;
        std::memcpy(e.mac, mac_out, 6);
        return true;
    }

    entry entries_[k_entries];
};

}  // namespace eg::dp
