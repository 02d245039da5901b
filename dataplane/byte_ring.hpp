#pragma once
// A bounded single-producer single-consumer ring of variable-length records in one
// byte buffer. Where spsc_ring gives every message a slot of the largest size, here a
// record takes what it needs (rounded up to a cache line), so the worker-to-worker
// handoff (handoff.hpp) holds thousands of 1500-byte frames in the memory that 64 fixed
// 64 KB slots took, and a 64 KB GSO super-packet still fits.
//
// Layout: each record starts on a 64-byte boundary with a 4-byte length, its bytes
// follow. A record never wraps: when it does not fit before the end of the buffer the
// producer writes a wrap mark there and starts the record at offset 0; the consumer
// skips the mark. Positions are 64-bit byte counts that only grow (no ABA, no wrap).
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace eg::dp {

class byte_ring {
public:
    static constexpr uint32_t k_align = 64;

    /// capacity_bytes is rounded up to a power of two of at least 4 KiB.
    explicit byte_ring(uint64_t capacity_bytes) {
        uint64_t c = 4096;
        while (c < capacity_bytes) {
            c <<= 1;
        }
        capacity_ = c;
        buf_.reset(new (std::align_val_t{k_align}) uint8_t[c]);
    }

    uint64_t capacity() const { return capacity_; }
    /// The largest record reserve() can ever take (then the ring must be empty).
    uint64_t max_record() const { return capacity_ - k_header; }

    /// Producer: room for a record of `len` bytes, or an empty span when the ring has
    /// not that much free (or len is 0 or larger than max_record()). Fill it, then
    /// commit(); a second reserve() before commit() replaces the first.
    std::span<uint8_t> reserve(uint32_t len) {
        if (len == 0 || len > max_record()) {
            return {};
        }
        const uint64_t need = round_up(k_header + uint64_t{len});
        const uint64_t head = head_.load(std::memory_order_relaxed);
        const uint64_t offset = head & (capacity_ - 1);
        const uint64_t skip = offset + need > capacity_ ? capacity_ - offset : 0;
        if (head + skip + need - tail_cache_ > capacity_) {
            tail_cache_ = tail_.load(std::memory_order_acquire);
            if (head + skip + need - tail_cache_ > capacity_) {
                return {};
            }
        }
        if (skip) {
            store_len(offset, k_wrap_mark);
        }
        const uint64_t at = (head + skip) & (capacity_ - 1);
        store_len(at, len);
        pending_ = skip + need;
        return {buf_.get() + at + k_header, len};
    }
    /// Producer: publishes the reserved record.
    void commit() {
        head_.store(head_.load(std::memory_order_relaxed) + pending_, std::memory_order_release);
        pending_ = 0;
    }

    /// Consumer: the oldest record, or an empty span when there is none. pop() when done.
    std::span<uint8_t> front() {
        uint64_t tail = tail_.load(std::memory_order_relaxed);
        if (tail == head_cache_) {
            head_cache_ = head_.load(std::memory_order_acquire);
            if (tail == head_cache_) {
                return {};
            }
        }
        uint64_t offset = tail & (capacity_ - 1);
        uint32_t len = load_len(offset);
        if (len == k_wrap_mark) {
            // The producer published the mark together with the record after it.
            tail += capacity_ - offset;
            tail_.store(tail, std::memory_order_release);
            offset = 0;
            len = load_len(0);
        }
        return {buf_.get() + offset + k_header, len};
    }
    /// Consumer: frees the record front() returned.
    void pop() {
        const uint64_t tail = tail_.load(std::memory_order_relaxed);
        const uint32_t len = load_len(tail & (capacity_ - 1));
        tail_.store(tail + round_up(k_header + uint64_t{len}), std::memory_order_release);
    }

    bool empty() const { return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire); }

private:
    static constexpr uint64_t k_header = 4;
    static constexpr uint32_t k_wrap_mark = 0xffffffffu;
    static uint64_t round_up(uint64_t n) { return (n + k_align - 1) & ~uint64_t{k_align - 1}; }
    void store_len(uint64_t offset, uint32_t len) { std::memcpy(buf_.get() + offset, &len, sizeof len); }
    uint32_t load_len(uint64_t offset) const {
        uint32_t len;
        std::memcpy(&len, buf_.get() + offset, sizeof len);
        return len;
    }

    struct aligned_delete {
        void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{k_align}); }
    };
    std::unique_ptr<uint8_t[], aligned_delete> buf_;
    uint64_t capacity_ = 0;
    uint64_t pending_ = 0;  // producer: bytes the reserved record (and any skip) take
    alignas(64) std::atomic<uint64_t> head_{0};
    uint64_t tail_cache_ = 0;  // producer's view of tail
    alignas(64) std::atomic<uint64_t> tail_{0};
    uint64_t head_cache_ = 0;  // consumer's view of head
};

}  // namespace eg::dp
