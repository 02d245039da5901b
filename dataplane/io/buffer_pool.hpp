#pragma once
// A worker-local pool of packet descriptors and their buffers, shared by every
// non-DPDK port of one worker (memory, pcap, uring AF_PACKET and TAP): a packet received
// on port A can be transmitted on port B and freed by B, because all of them take from
// and give back to the same pool.
//
// Owner: one worker thread. No locks, no allocation after construction: every buffer
// is carved out of one mmap'd region at startup, and alloc/free are O(1) pushes and
// pops on a stack of free descriptors.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "dataplane/counters.hpp"
#include "dataplane/packet.hpp"

namespace eg::dp {

/// Room in front of the frame: stages prepend headers (VLAN, IP-in-UDP, WireGuard) and
/// the uring backends put the 10-byte virtio_net_hdr just before `data`.
inline constexpr uint32_t k_min_headroom = 128;

struct buffer_pool_options {
    uint32_t count = 4096;         ///< descriptors (and buffers) in the pool
    uint32_t buffer_size = 2048;   ///< bytes per buffer, headroom included; rounded up to 64
    uint32_t headroom = k_min_headroom;  ///< at least k_min_headroom; rounded up to 64
};

/// Counters of one pool-backed port (memory, pcap, uring). Owner: the port's worker;
/// readers: the control thread (relaxed loads).
struct io_stats {
    counter rx_packets, rx_bytes, tx_packets, tx_bytes;
    counter rx_errors;     ///< failed receive completions (re-armed)
    counter rx_truncated;  ///< frames longer than a pool buffer (dropped)
    counter rx_no_buffer;  ///< receive slots left unarmed because the pool was empty
    counter tx_dropped;    ///< the kernel refused the frame (ENOBUFS: queue full)
    counter tx_errors;     ///< other send failures, or no headroom for the vnet header
};

class buffer_pool {
public:
    /// Throws std::invalid_argument for impossible sizes and std::bad_alloc (or
    /// std::system_error) when the memory cannot be had. Startup only.
    explicit buffer_pool(const buffer_pool_options& opts);
    ~buffer_pool();
    buffer_pool(const buffer_pool&) = delete;
    buffer_pool& operator=(const buffer_pool&) = delete;

    /// A fresh descriptor: data = buf + headroom, len 0, verdict none, offload zeroed,
    /// backend_ref = this pool. nullptr when the pool is empty.
    packet* alloc() {
        if (free_top_ == 0) [[unlikely]]
            return nullptr;
        packet* p = free_[--free_top_];
        reset(p);
        return p;
    }

    /// Up to `n` fresh descriptors into `out`; returns how many.
    uint32_t alloc_bulk(packet** out, uint32_t n) {
        // Locals, not members, in the loop: the descriptor stores in reset() could alias
        // the members for the compiler, which would reload them for every packet.
        uint32_t top = free_top_;
        if (n > top)
            n = top;
        packet* const* stack = free_.get();
        for (uint32_t i = 0; i < n; ++i) {
            packet* p = stack[--top];
            reset(p);
            out[i] = p;
        }
        free_top_ = top;
        return n;
    }

    /// Gives a descriptor back. Precondition: it came from this pool and is not free.
    void free(packet* p) { free_[free_top_++] = p; }
    void free(packet** pkts, uint32_t n) {
        packet** stack = free_.get() + free_top_;
        for (uint32_t i = 0; i < n; ++i)
            stack[i] = pkts[i];
        free_top_ += n;
    }

    /// True if `p` is one of this pool's descriptors (backend_ref is set on alloc).
    bool owns(const packet* p) const { return p->backend_ref == this; }

    uint32_t capacity() const { return count_; }
    uint32_t available() const { return free_top_; }
    uint32_t buffer_size() const { return buffer_size_; }
    uint32_t headroom() const { return headroom_; }
    /// Largest frame a fresh buffer holds (buffer_size - headroom).
    uint32_t data_room() const { return buffer_size_ - headroom_; }

private:
    void reset(packet* p) {
        uint8_t* buf = p->buf;
        *p = packet{};
        p->buf = buf;
        p->buf_size = buffer_size_;
        p->data = buf + headroom_;
        p->backend_ref = this;
    }

    uint32_t count_ = 0;
    uint32_t buffer_size_ = 0;
    uint32_t headroom_ = 0;
    uint32_t free_top_ = 0;
    std::unique_ptr<packet[]> packets_;
    std::unique_ptr<packet*[]> free_;
    void* memory_ = nullptr;  ///< count_ * buffer_size_ bytes, page aligned
    size_t memory_bytes_ = 0;
};

}  // namespace eg::dp
