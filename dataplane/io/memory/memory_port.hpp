#pragma once
// The `memory` backend: frames in memory, for tests and the pipeline benchmark.
//
// Three ways to feed and drain it:
//  - queued rx: push_rx() copies a frame into a pool buffer and queues it for rx_burst;
//  - replay rx: set_replay() installs template frames that rx_burst copies into fresh
//    pool buffers, cycling through them without end (the pipeline rewrites headers in
//    place, so every packet is a fresh copy), for benchmarks;
//  - tx is either captured (take_tx / take_tx_frames) or, in sink mode, counted and
//    released at once.
// Owner: one worker thread (the test thread); rx_burst/tx_burst never allocate except
// for tx capture, which copies frames into vectors (tests only; sink mode does not).
#include <cstdint>
#include <span>
#include <vector>

#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/io/port_io.hpp"

namespace eg::dp {

struct memory_port_options {
    uint16_t port_index = 0;
    std::array<uint8_t, 6> mac{0x02, 0, 0, 0, 0, 0x01};
    bool tx_sink = false;  ///< count and release transmitted frames instead of capturing
};

/// A transmitted frame as captured, with the offload state it was sent with.
struct memory_tx_frame {
    std::vector<uint8_t> bytes;
    offload_info offload;
};

class memory_port final : public port_io {
public:
    memory_port(const memory_port_options& opts, buffer_pool& pool);
    ~memory_port() override;

    /// Queues a copy of `frame` for rx_burst. False when the pool is empty, the frame is
    /// longer than a pool buffer holds, or the rx queue (pool-sized) is full.
    bool push_rx(std::span<const uint8_t> frame, offload_info offload = {});
    /// Frames queued by push_rx and not yet received.
    size_t rx_pending() const { return rx_count_; }

    /// Replay mode: rx_burst returns up to `max` copies per call, cycling through
    /// `templates`, for ever (an empty set turns replay off). Queued frames go first.
    void set_replay(std::vector<std::vector<uint8_t>> templates, std::vector<offload_info> offloads = {});

    /// Frames captured on tx since the last take (bytes only / with offload state).
    /// Both drain the same capture list.
    std::vector<std::vector<uint8_t>> take_tx();
    std::vector<memory_tx_frame> take_tx_frames();

    void set_tx_sink(bool sink) { tx_sink_ = sink; }
    const io_stats& stats() const { return stats_; }
    uint64_t rx_count() const { return stats_.rx_packets.get(); }
    uint64_t tx_count() const { return stats_.tx_packets.get(); }

    // port_io
    uint16_t rx_burst(packet** out, uint16_t max) override;
    uint16_t tx_burst(packet** pkts, uint16_t n) override;
    void release(packet** pkts, uint16_t n) override { pool_.free(pkts, n); }
    packet* alloc(uint32_t len) override;
    std::array<uint8_t, 6> mac() const override { return mac_; }
    const char* backend_name() const override { return "memory"; }

private:
    buffer_pool& pool_;
    uint16_t port_index_;
    std::array<uint8_t, 6> mac_;
    bool tx_sink_;
    // Queued rx: a fixed ring of pool descriptors (capacity = pool size).
    std::vector<packet*> rx_ring_;
    size_t rx_head_ = 0, rx_count_ = 0;
    // Replay templates, back to back in one vector.
    std::vector<uint8_t> replay_bytes_;
    struct replay_frame {
        size_t offset;
        uint32_t len;
        offload_info offload;
    };
    std::vector<replay_frame> replay_;
    size_t replay_next_ = 0;
    std::vector<memory_tx_frame> captured_;
    io_stats stats_;
};

}  // namespace eg::dp
