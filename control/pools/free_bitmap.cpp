#include "control/pools/free_bitmap.hpp"

#include <sys/mman.h>

#include <bit>
#include <new>

namespace eg::ctl::pools {

namespace {
constexpr uint64_t k_full = ~uint64_t{0};
}

free_bitmap::free_bitmap(uint64_t n) : n_(n ? n : 1) {
    // Words per level until one word summarises everything below.
    uint64_t bits = n_;
    for (;;) {
        const uint64_t w = (bits + 63) / 64;
        words_.push_back(w);
        if (w == 1) break;
        bits = w;
    }
    uint64_t total_words = 0;
    for (uint64_t w : words_) total_words += w;
    mapped_ = static_cast<size_t>(total_words * sizeof(uint64_t));
    base_ = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base_ == MAP_FAILED) {
        base_ = nullptr;
        throw std::bad_alloc();
    }
    auto* p = static_cast<uint64_t*>(base_);
    for (uint64_t w : words_) {
        level_.push_back(p);
        p += w;
    }
    // Padding: bits past the last real slot (or past the last real word of the level
    // below) read as taken so searches never return them.
    bits = n_;
    for (size_t l = 0; l < level_.size(); ++l) {
        const uint64_t used = bits & 63;
        if (used != 0) {
            level_[l][words_[l] - 1] |= k_full << used;
        }
        bits = words_[l];
    }
    // A last word made full by padding alone must be marked full above it too.
    for (size_t l = 0; l + 1 < level_.size(); ++l) {
        if (level_[l][words_[l] - 1] == k_full) set_word_full(l, words_[l] - 1);
    }
}

free_bitmap::~free_bitmap() {
    if (base_) ::munmap(base_, mapped_);
}

void free_bitmap::set_word_full(size_t level, uint64_t word) {
    // Word `word` of `level` just became full: record it in the levels above.
    for (size_t l = level + 1; l < level_.size(); ++l) {
        uint64_t& w = level_[l][word >> 6];
        w |= uint64_t{1} << (word & 63);
        if (w != k_full) return;
        word >>= 6;
    }
}

void free_bitmap::set(uint64_t i) {
    uint64_t& w = level_[0][i >> 6];
    w |= uint64_t{1} << (i & 63);
    if (w == k_full) set_word_full(0, i >> 6);
}

void free_bitmap::clear(uint64_t i) {
    for (size_t l = 0; l < level_.size(); ++l) {
        uint64_t& w = level_[l][i >> 6];
        const bool was_full = w == k_full;
        w &= ~(uint64_t{1} << (i & 63));
        if (!was_full) return;  // the levels above already say "not full"
        i >>= 6;
    }
}

void free_bitmap::set_range(uint64_t lo, uint64_t hi) {
    if (hi >= n_) hi = n_ - 1;
    while (lo <= hi && (lo & 63) != 0) set(lo++);
    while (lo + 63 <= hi) {
        const uint64_t word = lo >> 6;
        if (level_[0][word] != k_full) {
            level_[0][word] = k_full;
            set_word_full(0, word);
        }
        lo += 64;
    }
    while (lo <= hi) set(lo++);
}

uint64_t free_bitmap::descend(size_t level, uint64_t word) const {
    // Word `word` of `level` is known to be non-full: follow its first zero bit down.
    for (;;) {
        const uint64_t idx = (word << 6) + static_cast<uint64_t>(std::countr_zero(~level_[level][word]));
        if (level == 0) return idx;
        --level;
        word = idx;
    }
}

uint64_t free_bitmap::find_free_from(uint64_t from) const {
    if (from >= n_) return npos;
    // Climb while the current word has nothing free at or after `pos`; a zero bit at
    // level l > 0 names a non-full word of level l-1, which descend() follows down.
    uint64_t pos = from;
    for (size_t l = 0;; ++l) {
        const uint64_t word = pos >> 6;
        if (word >= words_[l]) return npos;
        const uint64_t avail = ~level_[l][word] & (k_full << (pos & 63));
        if (avail) {
            const uint64_t idx = (word << 6) + static_cast<uint64_t>(std::countr_zero(avail));
            return l == 0 ? idx : descend(l - 1, idx);
        }
        if (l + 1 == level_.size()) return npos;
        pos = word + 1;  // the next word of level l is bit word+1 of level l+1
    }
}

}  // namespace eg::ctl::pools
