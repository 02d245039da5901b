#pragma once
// Longest-prefix-match table for IPv4 forwarding.
//
// Layout: a multibit trie with a 16-bit first stride and 8-bit strides after it
// (DIR-16-8-8) with controlled prefix expansion, as in rte_lpm but with a smaller root:
//   root:   2^16 entries of 4 bytes (256 KiB; stays in L2),
//   groups: 256-entry blocks of 4 bytes (1 KiB each), one per /16 or /24 that holds a
//           longer prefix.
// A lookup is one root read plus at most two dependent group reads. We picked 16-8-8
// over DIR-24-8 (rte_lpm's 64 MiB tbl24) by measurement (bench/lpm_microbench.cpp,
// 10k BGP-like routes, bursts of 32, both variants of this code on huge pages, each
// with its faster bulk loop): 16-8-8 ran at 129 M lookups/s against 111 M for DIR-24-8
// (basic_lpm4<24>, kept for that comparison) and 84 M for rte_lpm, with a quarter of the
// memory (about 10 MiB of groups, a 256 KiB root that stays in L2). On that machine a
// 260 MiB L3 holds even the 64 MiB tbl24, so DIR-24-8 only loses to its TLB and cache
// footprint there; on parts with a smaller L3 the gap grows. It also keeps a snapshot
// rebuild (two tables alive across an RCU grace period) cheap.
//
// Threads: the control thread builds a table (add/remove are cold, may allocate, not
// thread-safe); once published in a Snapshot it is immutable and any number of workers
// may call lookup/lookup_bulk concurrently (const, no allocation, no locks).
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace eg::dp {

/// Returned by lookups when no prefix (not even a default route) matches.
inline constexpr uint32_t k_lpm_no_route = 0xffffffff;
/// Next hops are stored in 24 bits; add() rejects anything at or above this.
inline constexpr uint32_t k_lpm_max_next_hop = (1u << 24) - 1;

namespace detail {

// One 32-bit table entry is either
//   k_lpm_no_route            nothing matches here,
//   0 .. k_lpm_max_next_hop   a next hop (lookup returns the entry as is),
//   k_entry_group | g         "look further in group g" (g < 2^24).
// Group 0 is a reserved all-no-route dummy so that branch-free lookups can always
// read *some* group.
inline constexpr uint32_t k_entry_kind_mask = 0xc0000000;
inline constexpr uint32_t k_entry_group = 0x40000000;
inline constexpr uint32_t k_entry_index_mask = 0x00ffffff;
inline constexpr uint32_t k_group_size = 256;

inline constexpr bool is_group(uint32_t e) { return (e & k_entry_kind_mask) == k_entry_group; }

/// Allocator for the lookup tables: blocks of 2 MiB and up are 2 MiB-aligned and
/// marked MADV_HUGEPAGE, so a table of tens of MiB costs a few TLB entries instead of
/// thousands (random lookups otherwise pay a page walk per level). Cold.
void* table_alloc(size_t bytes);
void table_free(void* p) noexcept;

template <class T>
struct table_allocator {
    using value_type = T;
    table_allocator() = default;
    template <class U>
    table_allocator(const table_allocator<U>&) noexcept {}
    T* allocate(size_t n) { return static_cast<T*>(table_alloc(n * sizeof(T))); }
    void deallocate(T* p, size_t) noexcept { table_free(p); }
    template <class U>
    bool operator==(const table_allocator<U>&) const noexcept { return true; }
};

/// The control-plane half shared by lpm4 and lpm6: a multibit trie over a big-endian
/// key of key_bits bits, first stride first_bits (a multiple of 8), then 8-bit
/// strides. Keeps the original rules so that a remove can restore the next shorter
/// covering prefix; every entry carries the depth of the rule it expands (in a shadow
/// array the lookups never touch). Owner: the control thread.
class stride_trie {
public:
    using key = std::array<uint8_t, 16>;

    stride_trie(unsigned key_bits, unsigned first_bits);

    /// Key is big-endian, only the first `depth` bits count (host bits are cleared).
    /// Replaces an equal prefix. False on depth > key_bits, next_hop > max, or group
    /// space exhausted (then nothing changed).
    bool add(const uint8_t* key_bytes, uint8_t depth, uint32_t next_hop);
    /// False if no such rule (then nothing changed).
    bool remove(const uint8_t* key_bytes, uint8_t depth);

    size_t rule_count() const { return rules_.size(); }
    size_t memory_bytes() const;
    size_t groups_in_use() const { return groups_.size() / k_group_size - 1 - free_.size(); }

    const uint32_t* root() const { return root_.data(); }
    const uint32_t* groups() const { return groups_.data(); }

private:
    struct slot {
        int64_t group;  // -1: the root
        uint32_t index;
    };

    unsigned level_of(uint8_t depth) const;
    unsigned level_end(unsigned level) const { return first_bits_ + 8 * level; }
    uint32_t index_at(const key& k, unsigned level) const;
    uint32_t& entry(int64_t g, uint32_t i) { return g < 0 ? root_[i] : groups_[size_t(g) * k_group_size + i]; }
    uint8_t& depth_of(int64_t g, uint32_t i) { return g < 0 ? root_depth_[i] : group_depth_[size_t(g) * k_group_size + i]; }
    uint32_t alloc_group(uint32_t fill, uint8_t fill_depth);
    void free_group(uint32_t g);
    void overwrite(int64_t g, uint32_t i, uint32_t next_hop, uint8_t depth);
    void restore(int64_t g, uint32_t i, unsigned level, uint8_t depth, uint32_t next_hop, uint8_t new_depth);
    bool try_collapse(int64_t g, uint32_t i, unsigned child_level);
    key masked(const uint8_t* key_bytes, uint8_t depth) const;

    unsigned key_bits_, first_bits_;
    std::vector<uint32_t, table_allocator<uint32_t>> root_;
    std::vector<uint8_t> root_depth_;
    std::vector<uint32_t, table_allocator<uint32_t>> groups_;  // group g is [g*256, g*256+256)
    std::vector<uint8_t> group_depth_;   // parallel to groups_
    std::vector<uint32_t> free_;         // freed group indices, reused first
    std::map<std::pair<key, uint8_t>, uint32_t> rules_;
};

}  // namespace detail

/// IPv4 LPM with a first stride of FirstBits (16: DIR-16-8-8, 24: DIR-24-8).
template <unsigned FirstBits>
class basic_lpm4 {
    static_assert(FirstBits % 8 == 0 && FirstBits >= 8 && FirstBits <= 24);

public:
    /// Cold: allocates the root (2^FirstBits entries).
    basic_lpm4() : trie_(32, FirstBits) {}

    /// prefix in host byte order, depth 0..32 (host bits ignored), next_hop <= 2^24-1.
    /// Replaces an equal prefix. Cold.
    bool add(uint32_t prefix, uint8_t depth, uint32_t next_hop) {
        uint8_t k[4];
        to_bytes(prefix, k);
        return trie_.add(k, depth, next_hop);
    }
    /// Removes exactly prefix/depth; addresses it covered fall back to the next
    /// shorter rule. Cold.
    bool remove(uint32_t prefix, uint8_t depth) {
        uint8_t k[4];
        to_bytes(prefix, k);
        return trie_.remove(k, depth);
    }

    /// addr in host byte order; k_lpm_no_route if nothing matches.
    uint32_t lookup(uint32_t addr) const {
        const uint32_t* groups = trie_.groups();
        uint32_t e = trie_.root()[addr >> (32 - FirstBits)];
        for (int shift = 32 - int(FirstBits) - 8; shift >= 0 && detail::is_group(e); shift -= 8)
            e = groups[((e & detail::k_entry_index_mask) << 8) | ((addr >> shift) & 0xff)];
        return e;
    }

    /// next_hops[i] = lookup(addrs[i]) for a burst. No allocation; any n.
    void lookup_bulk(const uint32_t* addrs, uint32_t* next_hops, uint32_t n) const {
        if constexpr (FirstBits >= 24) {
            // DIR-24-8: the root itself misses the cache; independent scalar lookups
            // already overlap those misses (measured faster than the two passes).
            for (uint32_t i = 0; i < n; ++i) next_hops[i] = lookup(addrs[i]);
            return;
        }
        const uint32_t* root = trie_.root();
        const uint32_t* groups = trie_.groups();
        // Pass 1: root entries (L2-resident) and a prefetch of each first group entry
        // (the dummy group for resolved ones), so that pass 2's dependent reads overlap
        // instead of queueing one by one.
        for (uint32_t i = 0; i < n; ++i) {
            const uint32_t e = root[addrs[i] >> (32 - FirstBits)];
            next_hops[i] = e;
            const uint32_t g = (e & detail::k_entry_index_mask) & (0u - uint32_t(detail::is_group(e)));
            __builtin_prefetch(&groups[(g << 8) | ((addrs[i] >> (24 - FirstBits)) & 0xff)]);
        }
        for (uint32_t i = 0; i < n; ++i) {
            uint32_t e = next_hops[i];
            for (int shift = 32 - int(FirstBits) - 8; shift >= 0 && detail::is_group(e); shift -= 8)
                e = groups[((e & detail::k_entry_index_mask) << 8) | ((addrs[i] >> shift) & 0xff)];
            next_hops[i] = e;
        }
    }

    size_t rule_count() const { return trie_.rule_count(); }
    /// Everything allocated: lookup tables, build-time depth shadow and rules.
    size_t memory_bytes() const { return trie_.memory_bytes(); }
    size_t groups_in_use() const { return trie_.groups_in_use(); }

private:
    static void to_bytes(uint32_t v, uint8_t* k) {
        k[0] = uint8_t(v >> 24);
        k[1] = uint8_t(v >> 16);
        k[2] = uint8_t(v >> 8);
        k[3] = uint8_t(v);
    }

    detail::stride_trie trie_;
};

/// The IPv4 forwarding table: DIR-16-8-8 (see the top of this file for why).
class lpm4 : public basic_lpm4<16> {
public:
    lpm4() = default;
};

}  // namespace eg::dp
