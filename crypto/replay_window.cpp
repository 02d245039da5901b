// RFC 6479-style sliding window (see replay_window.hpp).
#include "crypto/replay_window.hpp"

namespace eg::crypto {

bool replay_window::would_accept(uint64_t counter, uint64_t limit) const {
    if (counter >= limit) return false;
    if (counter > last_) return true;
    if (last_ - counter > k_window) return false;
    const uint64_t block = (counter / k_block_bits) % k_blocks;
    return !((ring_[block] >> (counter % k_block_bits)) & 1);
}

bool replay_window::check_and_update(uint64_t counter, uint64_t limit) {
    if (counter >= limit) return false;
    const uint64_t block = counter / k_block_bits;
    if (counter > last_) {
        // Slide forward: clear the blocks between the old top block and the new one
        // (at most the whole ring), so their bits read as "not seen".
        const uint64_t current = last_ / k_block_bits;
        uint64_t diff = block - current;
        if (diff > k_blocks) diff = k_blocks;
        for (uint64_t i = current + 1; i <= current + diff; ++i) ring_[i % k_blocks] = 0;
        last_ = counter;
    } else if (last_ - counter > k_window) {
        return false;  // too old: its block may already hold newer counters
    }
    uint64_t& word = ring_[block % k_blocks];
    const uint64_t bit = uint64_t{1} << (counter % k_block_bits);
    const bool fresh = !(word & bit);
    word |= bit;
    return fresh;
}

void replay_window::reset() {
    last_ = 0;
    ring_.fill(0);
}

}  // namespace eg::crypto
