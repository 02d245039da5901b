#pragma once
// An immutable 64-bit key -> 32-bit value hash map for the snapshot's per-packet
// lookups (VM bindings, port forwards, dedicated addresses). Built once by the control
// thread, read by workers without locks: open addressing with linear probing in one
// array of 16-byte slots, at most half full, so a hit or a miss reads one cache line
// almost always. std::unordered_map would chase a node pointer per lookup.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace eg::dp {

class flat_map {
public:
    static constexpr uint32_t k_missing = 0xffffffff;

    /// Adds or replaces (building only; not thread-safe with readers).
    void insert(uint64_t key, uint32_t value) {
        if ((count_ + 1) * 2 > slots_.size()) {
            grow();
        }
        if (place(slots_, key, value)) {
            ++count_;
        }
    }

    /// The value of `key`, or k_missing.
    uint32_t find(uint64_t key) const {
        if (count_ == 0) {
            return k_missing;
        }
        const size_t mask = slots_.size() - 1;
        for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
            const slot& s = slots_[i];
            if (s.used == 0) {
                return k_missing;
            }
            if (s.key == key) {
                return s.value;
            }
        }
    }

    bool empty() const { return count_ == 0; }
    size_t size() const { return count_; }

private:
    struct slot {
        uint64_t key = 0;
        uint32_t value = 0;
        uint32_t used = 0;
    };
    static uint64_t mix(uint64_t k) {
        // One multiply, high bits folded down (Fibonacci hashing): every key bit reaches
        // the slot index, for ~4 instructions. The tables are built by us from config,
        // not by packets, so nothing needs a keyed hash.
        k *= 0x9e3779b97f4a7c15ULL;
        return k ^ (k >> 32);
    }
    /// True if a new slot was taken (false: replaced).
    static bool place(std::vector<slot>& slots, uint64_t key, uint32_t value) {
        const size_t mask = slots.size() - 1;
        for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
            slot& s = slots[i];
            if (s.used == 0) {
                s = slot{key, value, 1};
                return true;
            }
            if (s.key == key) {
                s.value = value;
                return false;
            }
        }
    }
    void grow() {
        std::vector<slot> bigger(std::max<size_t>(16, slots_.size() * 2));
        for (const slot& s : slots_) {
            if (s.used) {
                place(bigger, s.key, s.value);
            }
        }
        slots_.swap(bigger);
    }

    std::vector<slot> slots_;
    size_t count_ = 0;
};

}  // namespace eg::dp
