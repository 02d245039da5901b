#pragma once
// A bounded single-producer single-consumer ring of fixed-size slots, used for the
// punt (worker -> control) and inject (control -> worker) paths. Lock-free; the
// producer fills a slot in place and then publishes it.
#include <atomic>
#include <cstdint>
#include <memory>

namespace eg::dp {

template <class T>
class spsc_ring {
public:
    /// capacity is rounded up to a power of two.
    explicit spsc_ring(uint32_t capacity) {
        uint32_t c = 1;
        while (c < capacity) {
            c <<= 1;
        }
        mask_ = c - 1;
        slots_ = std::make_unique<T[]>(c);
    }

    /// Producer: a slot to fill, or nullptr when full. Call commit() after filling.
    T* reserve() {
        uint32_t head = head_.load(std::memory_order_relaxed);
        if (head - tail_cache_ > mask_) {
            tail_cache_ = tail_.load(std::memory_order_acquire);
            if (head - tail_cache_ > mask_) {
                return nullptr;
            }
        }
        return &slots_[head & mask_];
    }
    void commit() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

    /// Consumer: the oldest filled slot, or nullptr when empty. Call pop() when done.
    T* front() {
        uint32_t tail = tail_.load(std::memory_order_relaxed);
        if (tail == head_cache_) {
            head_cache_ = head_.load(std::memory_order_acquire);
            if (tail == head_cache_) {
                return nullptr;
            }
        }
        return &slots_[tail & mask_];
    }
    void pop() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

    bool empty() const {
        return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
    }

private:
    std::unique_ptr<T[]> slots_;
    uint32_t mask_ = 0;
    alignas(64) std::atomic<uint32_t> head_{0};
    uint32_t tail_cache_ = 0;  // producer's view of tail
    alignas(64) std::atomic<uint32_t> tail_{0};
    uint32_t head_cache_ = 0;  // consumer's view of head
};

}  // namespace eg::dp
