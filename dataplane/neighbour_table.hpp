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

/// Where lookup() found an entry, and that slot's sequence number then: while the
/// number is unchanged nothing was written to the slot since, so a worker may keep the
/// MAC it got (neighbour_cache) and re-check it with one load (neighbour_table::current).
struct neighbour_ref {
    uint32_t slot = 0;
    uint32_t seq = 0;
};

class neighbour_table {
public:
    /// capacity is rounded up to a power of two; the table holds at most 3/4 of it.
    explicit neighbour_table(uint32_t capacity);

    /// Worker side, lock-free. Writes the MAC and returns true when the entry exists;
    /// then *ref (if not null) says where, for current().
    bool lookup(const neighbour_key& key, uint8_t mac_out[6], neighbour_ref* ref = nullptr) const;

    /// Worker side: true while the entry lookup() returned with `ref` is unchanged (not
    /// updated, deleted, moved or being written). One acquire load.
    bool current(neighbour_ref ref) const { return slots_[ref.slot].seq.load(std::memory_order_acquire) == ref.seq; }

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
