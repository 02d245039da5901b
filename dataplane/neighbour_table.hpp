#pragma once
// IPv4/IPv6 neighbour (ARP/ND) cache shared by all workers.
//
// Single writer (the control thread, which learns from punted ARP/NA packets and
// ages entries), many lock-free readers (workers, per packet). Open addressing with
// linear probing; each slot is guarded by a sequence counter (seqlock) so a reader
// never sees a half-written entry: it retries on an odd or changed sequence.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

namespace eg::dp {

struct neighbour_key {
    uint16_t port = 0;
    bool v6 = false;
    std::array<uint8_t, 16> addr{};  ///< IPv4 in the first 4 bytes (network order)

    static neighbour_key ipv4(uint16_t port, uint32_t addr_host_order);
    static neighbour_key ipv6(uint16_t port, const uint8_t* addr);
    bool operator==(const neighbour_key&) const = default;
};

class neighbour_table {
public:
    /// capacity is rounded up to a power of two; the table holds at most 3/4 of it.
    explicit neighbour_table(uint32_t capacity);

    /// Worker side, lock-free. Writes the MAC and returns true when the entry exists.
    bool lookup(const neighbour_key& key, uint8_t mac_out[6]) const;

    /// Control thread only. Inserts or updates; false when the table is full.
    bool set(const neighbour_key& key, const std::array<uint8_t, 6>& mac);
    /// Control thread only. Removes the entry if present.
    void erase(const neighbour_key& key);
    /// Control thread only.
    uint32_t size() const { return size_; }

private:
    enum : uint8_t { k_empty = 0, k_used = 1, k_deleted = 2 };
    struct alignas(32) slot {
        std::atomic<uint32_t> seq{0};
        uint8_t state = k_empty;
        uint8_t v6 = 0;
        uint16_t port = 0;
        uint8_t mac[6] = {};
        uint8_t addr[16] = {};
    };
    uint32_t hash(const neighbour_key& key) const;
    bool matches(const slot& s, const neighbour_key& key) const;
    void rebuild();
    void write_slot(slot& s, uint8_t state, const neighbour_key& key, const uint8_t* mac);

    std::unique_ptr<slot[]> slots_;
    uint32_t mask_ = 0;
    uint32_t size_ = 0;
    uint32_t used_or_deleted_ = 0;
};

}  // namespace eg::dp
