#pragma once
// Longest-prefix-match table for IPv6 forwarding.
//
// Layout: the same multibit trie as lpm4 (detail::stride_trie, see lpm4.hpp) over a
// 128-bit key: a 16-bit first stride (root of 2^16 entries, 256 KiB) and
// fourteen 8-bit strides after it, with controlled prefix expansion; the original rules
// are kept so a remove re-expands the next shorter covering prefix. A lookup is one
// root read plus one dependent 1 KiB-group read per 8 bits of the longest prefix under
// the address beyond /16: a /48 costs 5 reads, a /64 7, a /128 host route 15. The root
// is 16 bits rather than rte_lpm6's 24 (a 64 MiB tbl24) because a gateway's IPv6 table
// is a few aggregates plus per-VM /128s, and the small root stays in L2. Measured in
// bench/lpm_microbench.cpp (10k routes, 20% of them /128): a 16-bit root (12-13 M
// lookups/s) and a 24-bit one (11-15 M) are within the noise of each other, the 24-bit
// one at twice the memory (160 vs 80 MiB); rte_lpm6 ran at 7.6-8.8 M.
//
// Threads: built by the control thread (add/remove cold, may allocate, not
// thread-safe); once published, immutable and read by any number of workers at once.
#include <cstddef>
#include <cstdint>

#include "dataplane/lpm4.hpp"

namespace eg::dp {

template <unsigned FirstBits>
class basic_lpm6 {
    static_assert(FirstBits % 8 == 0 && FirstBits >= 8 && FirstBits <= 24);

public:
    /// Cold: allocates the root (2^FirstBits entries).
    basic_lpm6() : trie_(128, FirstBits) {}

    /// prefix in network byte order, depth 0..128 (host bits ignored),
    /// next_hop <= 2^24-1. Replaces an equal prefix. Cold.
    bool add(const uint8_t prefix[16], uint8_t depth, uint32_t next_hop) {
        return trie_.add(prefix, depth, next_hop);
    }
    /// Removes exactly prefix/depth; addresses it covered fall back to the next
    /// shorter rule. Cold.
    bool remove(const uint8_t prefix[16], uint8_t depth) { return trie_.remove(prefix, depth); }

    /// addr in network byte order; k_lpm_no_route if nothing matches.
    uint32_t lookup(const uint8_t addr[16]) const {
        const uint32_t* groups = trie_.groups();
        uint32_t e = trie_.root()[root_index(addr)];
        for (unsigned b = FirstBits / 8; b < 16 && detail::is_group(e); ++b)
            e = groups[((e & detail::k_entry_index_mask) << 8) | addr[b]];
        return e;
    }

    /// next_hops[i] = lookup(addrs[i]) for a burst. No allocation; any n.
    void lookup_bulk(const uint8_t* const* addrs, uint32_t* next_hops, uint32_t n) const {
        const uint32_t* root = trie_.root();
        const uint32_t* groups = trie_.groups();
        // Pass 1: root entries and a prefetch of each first group entry (the dummy
        // group for resolved ones); pass 2 walks the rest, overlapping across addresses.
        for (uint32_t i = 0; i < n; ++i) {
            const uint32_t e = root[root_index(addrs[i])];
            next_hops[i] = e;
            const uint32_t g = (e & detail::k_entry_index_mask) & (0u - uint32_t(detail::is_group(e)));
            __builtin_prefetch(&groups[(g << 8) | addrs[i][FirstBits / 8]]);
        }
        for (uint32_t i = 0; i < n; ++i) {
            uint32_t e = next_hops[i];
            const uint8_t* a = addrs[i];
            for (unsigned b = FirstBits / 8; b < 16 && detail::is_group(e); ++b)
                e = groups[((e & detail::k_entry_index_mask) << 8) | a[b]];
            next_hops[i] = e;
        }
    }

    size_t rule_count() const { return trie_.rule_count(); }
    /// Everything allocated: lookup tables, build-time depth shadow and rules.
    size_t memory_bytes() const { return trie_.memory_bytes(); }
    size_t groups_in_use() const { return trie_.groups_in_use(); }

private:
    static uint32_t root_index(const uint8_t* a) {
        uint32_t v = 0;
        for (unsigned b = 0; b < FirstBits / 8; ++b) v = (v << 8) | a[b];
        return v;
    }

    detail::stride_trie trie_;
};

/// The IPv6 forwarding table: 16-bit root, then 8-bit strides.
class lpm6 : public basic_lpm6<16> {
public:
    lpm6() = default;
};

}  // namespace eg::dp
