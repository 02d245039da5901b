#pragma once
// A bitmap of n slots (bit set = taken) with summary levels above it, so "first free
// slot at or after i" costs one countr_zero per level instead of a scan: level k+1
// has a bit per word of level k, set when that word is full. A /8 pool (2^24 slots)
// has four levels: 2 MiB + 32 KiB + 512 B + 8 B, i.e. about 1.02 bits per slot.
//
// The memory is anonymous mmap: the kernel hands out zero pages on first touch, and
// zero means free at every level, so construction does not depend on n (only the
// padding past n in the last word of each level is written). Owner: one thread.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace eg::ctl::pools {

class free_bitmap {
public:
    static constexpr uint64_t npos = ~uint64_t{0};

    /// n >= 1 slots, all free. Throws std::bad_alloc if the mapping fails.
    explicit free_bitmap(uint64_t n);
    ~free_bitmap();
    free_bitmap(const free_bitmap&) = delete;
    free_bitmap& operator=(const free_bitmap&) = delete;

    uint64_t size() const { return n_; }
    bool test(uint64_t i) const { return (level_[0][i >> 6] >> (i & 63)) & 1; }
    /// Marks slot i taken / free (idempotent). Precondition: i < size().
    void set(uint64_t i);
    void clear(uint64_t i);
    /// Marks [lo, hi] taken, a whole word at a time (exclusions of large ranges).
    void set_range(uint64_t lo, uint64_t hi);
    /// The first free slot >= from, or npos. from may be >= size().
    uint64_t find_free_from(uint64_t from) const;
    /// Bytes of address space mapped for all levels.
    size_t mapped_bytes() const { return mapped_; }

private:
    void set_word_full(size_t level, uint64_t word);
    uint64_t descend(size_t level, uint64_t word) const;

    uint64_t n_;
    void* base_ = nullptr;
    size_t mapped_ = 0;
    std::vector<uint64_t*> level_;     ///< level_[0] = slots; level_.back() has one word
    std::vector<uint64_t> words_;      ///< words per level
};

}  // namespace eg::ctl::pools
