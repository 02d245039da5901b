#pragma once
// The host exception path: a TAP device that connects the box's own kernel stack to the
// data plane (the control thread's probes, an operator's ssh), driven through io_uring
// in batches like af_packet_port (IORING_OP_READ/WRITE on the TAP fd).
//
// The device is created with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR (10-byte header) and
// brought up. Offloads are negotiated from the pool: TUN_F_CSUM always (the kernel
// hands us frames with needs_csum rather than computing checksums), and TUN_F_TSO4/6
// only when a pool buffer holds a 64 KiB super-packet; with smaller buffers the kernel
// segments before the TAP. Frames we write may carry needs_csum/GSO and the kernel
// completes them. With queues > 1 the device is multi-queue (IFF_MULTI_QUEUE) and each
// worker opens its own queue under the same name. The device lives as long as its
// queues (not persistent).
#include <memory>
#include <string>

#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/io/port_io.hpp"
#include "dataplane/io/uring/uring_queue.hpp"

namespace eg::dp {

struct tap_options {
    std::string name = "eg-host";  ///< TAP device name
    uint16_t port_index = 0;
    std::array<uint8_t, 6> mac{};  ///< the engine's own MAC on the TAP link (mac() returns it)
    uint32_t ring_entries = 256;
    uint32_t rx_buffers = 64;
    uint16_t queues = 1;           ///< workers with a queue on this device; > 1: IFF_MULTI_QUEUE
    uint32_t mtu = 0;              ///< set on the device when non-zero
};

class tap_port final : public port_io {
public:
    /// Creates (or, for another queue of a multi-queue device, attaches to) the TAP and
    /// brings it up. Throws std::runtime_error naming the device on failure.
    tap_port(const tap_options& opts, buffer_pool& pool);
    ~tap_port() override;

    const io_stats& stats() const { return queue_->stats(); }
    const std::string& name() const { return name_; }
    /// True when the ring runs single-issuer with deferred task work (kernel 6.1+).
    bool deferred_taskrun() const { return queue_->deferred_taskrun(); }
    /// True when TUN_F_TSO4/6 were negotiated (GSO super-packets may arrive).
    bool gso_enabled() const { return gso_; }

    // port_io
    uint16_t rx_burst(packet** out, uint16_t max) override { return queue_->rx_burst(out, max); }
    uint16_t tx_burst(packet** pkts, uint16_t n) override { return queue_->tx_burst(pkts, n); }
    void flush() override { queue_->flush(); }
    void release(packet** pkts, uint16_t n) override { pool_.free(pkts, n); }
    packet* alloc(uint32_t len) override { return len <= pool_.data_room() ? pool_.alloc() : nullptr; }
    int wait_fd() const override { return queue_->event_fd(); }
    std::array<uint8_t, 6> mac() const override { return mac_; }
    const char* backend_name() const override { return "tap"; }

private:
    buffer_pool& pool_;
    std::string name_;
    std::array<uint8_t, 6> mac_;
    int fd_ = -1;
    bool gso_ = false;
    std::unique_ptr<uring_queue> queue_;
};

std::unique_ptr<tap_port> open_tap_port(const tap_options& opts, buffer_pool& pool);

}  // namespace eg::dp
