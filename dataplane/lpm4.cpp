// The build side of the LPM tables (cold; control thread only). See lpm4.hpp.
//
// Invariants the add/remove logic relies on:
//  - every non-group entry carries (next hop or k_lpm_no_route, depth of the rule it
//    expands; 0 when none);
//  - an entry at level l only holds rules of depth <= level_end(l), or is a group;
//    a group is folded back into its parent entry when its 256 entries are equal and
//    their depth fits the parent's level, so a rule of depth d always has the whole
//    path of groups down to level_of(d) while it exists.
#include "dataplane/lpm4.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace eg::dp::detail {

namespace {
constexpr uint32_t k_max_groups = k_entry_index_mask + 1;
constexpr size_t k_huge_page = size_t(2) << 20;
}  // namespace

void* table_alloc(size_t bytes) {
    if (bytes < k_huge_page) {
        void* p = std::malloc(bytes == 0 ? 1 : bytes);
        if (p == nullptr) throw std::bad_alloc();
        return p;
    }
    const size_t rounded = (bytes + k_huge_page - 1) & ~(k_huge_page - 1);
    void* p = std::aligned_alloc(k_huge_page, rounded);
    if (p == nullptr) throw std::bad_alloc();
    ::madvise(p, rounded, MADV_HUGEPAGE);  // a hint: without THP we keep 4 KiB pages
    return p;
}

void table_free(void* p) noexcept { std::free(p); }

stride_trie::stride_trie(unsigned key_bits, unsigned first_bits)
    : key_bits_(key_bits),
      first_bits_(first_bits),
      root_(size_t(1) << first_bits, k_lpm_no_route),
      root_depth_(size_t(1) << first_bits, 0),
      groups_(k_group_size, k_lpm_no_route),  // group 0: the reserved dummy
      group_depth_(k_group_size, 0) {}

unsigned stride_trie::level_of(uint8_t depth) const {
    return depth <= first_bits_ ? 0 : 1 + (depth - first_bits_ - 1) / 8;
}

uint32_t stride_trie::index_at(const key& k, unsigned level) const {
    if (level == 0) {
        uint32_t v = 0;
        for (unsigned b = 0; b < first_bits_ / 8; ++b) v = (v << 8) | k[b];
        return v;
    }
    return k[first_bits_ / 8 + level - 1];
}

stride_trie::key stride_trie::masked(const uint8_t* key_bytes, uint8_t depth) const {
    key k{};
    std::memcpy(k.data(), key_bytes, key_bits_ / 8);
    for (unsigned b = 0; b < 16; ++b) {
        const unsigned lo = b * 8;
        if (depth <= lo)
            k[b] = 0;
        else if (depth < lo + 8)
            k[b] &= uint8_t(0xff00 >> (depth - lo));
    }
    return k;
}

uint32_t stride_trie::alloc_group(uint32_t fill, uint8_t fill_depth) {
    uint32_t g;
    if (!free_.empty()) {
        g = free_.back();
        free_.pop_back();
    } else {
        g = uint32_t(groups_.size() / k_group_size);
        groups_.resize(groups_.size() + k_group_size);
        group_depth_.resize(group_depth_.size() + k_group_size);
    }
    std::fill_n(groups_.begin() + size_t(g) * k_group_size, k_group_size, fill);
    std::fill_n(group_depth_.begin() + size_t(g) * k_group_size, k_group_size, fill_depth);
    return g;
}

void stride_trie::free_group(uint32_t g) {
    std::fill_n(groups_.begin() + size_t(g) * k_group_size, k_group_size, k_lpm_no_route);
    std::fill_n(group_depth_.begin() + size_t(g) * k_group_size, k_group_size, uint8_t(0));
    free_.push_back(g);
}

bool stride_trie::add(const uint8_t* key_bytes, uint8_t depth, uint32_t next_hop) {
    if (depth > key_bits_ || next_hop > k_lpm_max_next_hop) return false;
    const key k = masked(key_bytes, depth);
    const unsigned target = level_of(depth);

    // Check group space up front so a failed add leaves the table untouched: the
    // walk below allocates at most one group per level above the target.
    const size_t groups_total = groups_.size() / k_group_size;
    if (free_.size() + (k_max_groups - groups_total) < target) return false;

    rules_[{k, depth}] = next_hop;

    int64_t g = -1;
    for (unsigned l = 0; l < target; ++l) {
        const uint32_t i = index_at(k, l);
        const uint32_t e = entry(g, i);
        if (is_group(e)) {
            g = e & k_entry_index_mask;
            continue;
        }
        const uint32_t ng = alloc_group(e, depth_of(g, i));  // may move groups_
        entry(g, i) = k_entry_group | ng;
        depth_of(g, i) = 0;
        g = ng;
    }
    const unsigned width = target == 0 ? first_bits_ : 8;
    const unsigned start = target == 0 ? 0 : level_end(target - 1);
    const uint32_t count = uint32_t(1) << (width - (depth - start));
    const uint32_t base = index_at(k, target);
    for (uint32_t i = base; i < base + count; ++i) overwrite(g, i, next_hop, depth);
    return true;
}

// Puts rule (next_hop, depth) into entry i of table g and, through groups, into every
// entry below it, except where a longer rule already sits.
void stride_trie::overwrite(int64_t g, uint32_t i, uint32_t next_hop, uint8_t depth) {
    const uint32_t e = entry(g, i);
    if (is_group(e)) {
        const size_t c = size_t(e & k_entry_index_mask) * k_group_size;
        for (uint32_t j = 0; j < k_group_size; ++j) {
            // Inline the common leaf case; recurse only into nested groups.
            if (is_group(groups_[c + j]))
                overwrite(int64_t(c / k_group_size), j, next_hop, depth);
            else if (group_depth_[c + j] <= depth) {
                groups_[c + j] = next_hop;
                group_depth_[c + j] = depth;
            }
        }
        return;
    }
    if (depth_of(g, i) <= depth) {
        entry(g, i) = next_hop;
        depth_of(g, i) = depth;
    }
}

bool stride_trie::remove(const uint8_t* key_bytes, uint8_t depth) {
    if (depth > key_bits_) return false;
    const key k = masked(key_bytes, depth);
    const auto it = rules_.find({k, depth});
    if (it == rules_.end()) return false;
    rules_.erase(it);

    // The rule that takes over: the longest remaining one covering this prefix.
    uint32_t next_hop = k_lpm_no_route;
    uint8_t new_depth = 0;
    for (int d = int(depth) - 1; d >= 0; --d) {
        const auto r = rules_.find({masked(k.data(), uint8_t(d)), uint8_t(d)});
        if (r != rules_.end()) {
            next_hop = r->second;
            new_depth = uint8_t(d);
            break;
        }
    }

    const unsigned target = level_of(depth);
    slot path[17];
    int64_t g = -1;
    for (unsigned l = 0; l < target; ++l) {
        const uint32_t i = index_at(k, l);
        path[l] = {g, i};
        g = entry(g, i) & k_entry_index_mask;  // a group by the invariant above
    }
    const unsigned width = target == 0 ? first_bits_ : 8;
    const unsigned start = target == 0 ? 0 : level_end(target - 1);
    const uint32_t count = uint32_t(1) << (width - (depth - start));
    const uint32_t base = index_at(k, target);
    for (uint32_t i = base; i < base + count; ++i) restore(g, i, target, depth, next_hop, new_depth);
    for (unsigned l = target; l >= 1; --l)
        if (!try_collapse(path[l - 1].group, path[l - 1].index, l)) break;
    return true;
}

// Replaces the removed rule (depth `depth`) by (next_hop, new_depth) in entry i of
// table g (at `level`) and below it, then folds groups that became uniform.
void stride_trie::restore(int64_t g, uint32_t i, unsigned level, uint8_t depth, uint32_t next_hop,
                          uint8_t new_depth) {
    const uint32_t e = entry(g, i);
    if (is_group(e)) {
        const uint32_t c = e & k_entry_index_mask;
        for (uint32_t j = 0; j < k_group_size; ++j) restore(c, j, level + 1, depth, next_hop, new_depth);
        try_collapse(g, i, level + 1);
        return;
    }
    if (depth_of(g, i) == depth) {
        entry(g, i) = next_hop;
        depth_of(g, i) = new_depth;
    }
}

// Folds the group behind entry i of table g (the group is at child_level) into that
// entry if all its entries are one rule short enough for the parent's level.
bool stride_trie::try_collapse(int64_t g, uint32_t i, unsigned child_level) {
    const uint32_t e = entry(g, i);
    if (!is_group(e)) return false;
    const uint32_t c = e & k_entry_index_mask;
    const uint32_t* ce = groups_.data() + size_t(c) * k_group_size;
    const uint8_t* cd = group_depth_.data() + size_t(c) * k_group_size;
    if (is_group(ce[0]) || cd[0] > level_end(child_level - 1)) return false;
    for (uint32_t j = 1; j < k_group_size; ++j)
        if (ce[j] != ce[0] || cd[j] != cd[0]) return false;
    const uint32_t v = ce[0];
    const uint8_t d = cd[0];
    entry(g, i) = v;
    depth_of(g, i) = d;
    free_group(c);
    return true;
}

size_t stride_trie::memory_bytes() const {
    // Rules: a map node is roughly the value plus three pointers and a colour.
    constexpr size_t rule_node = sizeof(std::pair<const std::pair<key, uint8_t>, uint32_t>) + 32;
    return root_.capacity() * sizeof(uint32_t) + root_depth_.capacity() +
           groups_.capacity() * sizeof(uint32_t) + group_depth_.capacity() +
           free_.capacity() * sizeof(uint32_t) + rules_.size() * rule_node;
}

}  // namespace eg::dp::detail
