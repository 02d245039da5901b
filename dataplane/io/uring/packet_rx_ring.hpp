#pragma once
// The receive side of an AF_PACKET socket as a memory-mapped TPACKET_V2 ring.
//
// The kernel copies each frame (with its virtio_net_hdr, PACKET_VNET_HDR) into the next
// free ring slot from the softirq that delivers it; the worker walks the ring in user
// space, copies each frame into a pool buffer and hands the slot back. No system call
// and no io_uring request per packet: measured against io_uring RECV (one request, one
// poll arm and one task-work run per packet), see af_packet_port.hpp.
// Owner: one worker thread.
#include <linux/if_packet.h>

#include <cstdint>
#include <string>

#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/packet.hpp"

namespace eg::dp {

class packet_rx_ring {
public:
    /// Sets up the ring on `fd` (a bound AF_PACKET socket with PACKET_VNET_HDR already
    /// set): `frames` slots, each able to hold `max_frame` bytes of frame. Throws
    /// std::runtime_error naming `what` on failure (startup only).
    packet_rx_ring(int fd, uint32_t frames, uint32_t max_frame, buffer_pool& pool, uint16_t port_index,
                   io_stats& stats, const std::string& what);
    ~packet_rx_ring();
    packet_rx_ring(const packet_rx_ring&) = delete;
    packet_rx_ring& operator=(const packet_rx_ring&) = delete;

    /// Copies up to `max` waiting frames into pool packets. Never blocks.
    uint16_t rx_burst(packet** out, uint16_t max);

private:
    tpacket2_hdr* slot(uint32_t i) const {
        return reinterpret_cast<tpacket2_hdr*>(map_ + (i / per_block_) * block_size_ + (i % per_block_) * frame_size_);
    }

    uint8_t* map_ = nullptr;
    size_t map_len_ = 0;
    uint32_t frame_size_ = 0, block_size_ = 0, per_block_ = 0, frames_ = 0;
    uint32_t next_ = 0;  ///< the slot the kernel fills next, in ring order
    buffer_pool& pool_;
    uint16_t port_index_;
    io_stats& stats_;
};

}  // namespace eg::dp
