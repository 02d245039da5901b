#pragma once
// Receive-side replay protection (RFC 6479 bitmap of 64-bit blocks; kernel
// receive.c counter_validate, wireguard-go replay/replay.go): 128 blocks = 8192 bits,
// of which one block is the slack that lets the window slide by whole blocks, so a
// counter up to 8128 behind the greatest seen is still accepted once. Run only after
// the packet authenticated (whitepaper §5.4.6), or forged counters could move the window.
// Owner: the thread that decrypts for this keypair. Allocation-free, O(1) amortised.
#include <array>
#include <cstdint>

#include "crypto/constants.hpp"

namespace eg::crypto {

class replay_window {
public:
    static constexpr uint32_t k_block_bits = 64;
    static constexpr uint32_t k_blocks = 128;
    static constexpr uint64_t k_window = (k_blocks - 1) * k_block_bits;  ///< 8128

    /// True (and the counter marked seen) when counter is below limit, not older than
    /// the window and not seen before.
    bool check_and_update(uint64_t counter, uint64_t limit = k_reject_after_messages);
    /// The same test without marking, for a cheap pre-check before decryption.
    bool would_accept(uint64_t counter, uint64_t limit = k_reject_after_messages) const;
    void reset();
    uint64_t greatest() const { return last_; }

private:
    uint64_t last_ = 0;  ///< greatest accepted counter (0 before any)
    std::array<uint64_t, k_blocks> ring_{};
};

}  // namespace eg::crypto
