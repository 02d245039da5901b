#pragma once
// The `uring` backend on a kernel interface: an AF_PACKET SOCK_RAW socket bound to the
// interface, driven through io_uring in batches (see uring_queue.hpp).
//
// The socket runs with PACKET_VNET_HDR, so a frame a local socket sent over veth or
// virtio arrives as the kernel holds it — L4 checksum not yet filled in
// (offload.needs_csum) or a TCP/UDP super-packet (offload.gso_type) — and is sent on
// with the same header, the kernel completing checksum and segmentation. No
// `ethtool -K tx off` is needed anywhere (see reference/baselines.md §6.4). Our own
// transmissions are not looped back (PACKET_IGNORE_OUTGOING); the interface is put in
// promiscuous mode; several workers sharing one interface each open a port with the
// same fanout_workers > 1 and the kernel spreads flows over them (PACKET_FANOUT_HASH,
// group id = ifindex).
//
// Frames longer than the pool's data room (super-packets into small buffers) are
// counted as rx_truncated and dropped: give ports that face local TCP traffic pools of
// 64 KiB + headroom buffers.
#include <memory>
#include <string>

#include "dataplane/io/buffer_pool.hpp"
#include "dataplane/io/port_io.hpp"
#include "dataplane/io/uring/packet_rx_ring.hpp"
#include "dataplane/io/uring/uring_queue.hpp"

namespace eg::dp {

struct af_packet_options {
    std::string interface;        ///< kernel interface name, e.g. "eth1"
    uint16_t port_index = 0;      ///< index of the port in the snapshot (packet::in_port)
    uint32_t ring_entries = 256;  ///< io_uring SQ size (CQ is twice that)
    uint32_t rx_buffers = 64;     ///< receives kept in flight, <= ring_entries
    uint16_t fanout_workers = 1;  ///< workers sharing the interface; > 1 joins a fanout group
};

class af_packet_port final : public port_io {
public:
    /// Opens and configures the socket and ring. Throws std::runtime_error naming the
    /// interface when it does not exist, privileges are missing (CAP_NET_RAW and
    /// CAP_NET_ADMIN) or the pool's buffers cannot hold an MTU-sized frame.
    af_packet_port(const af_packet_options& opts, buffer_pool& pool);
    ~af_packet_port() override;

    const io_stats& stats() const { return queue_->stats(); }
    int ifindex() const { return ifindex_; }
    /// True when the ring runs single-issuer with deferred task work (kernel 6.1+).
    bool deferred_taskrun() const { return queue_->deferred_taskrun(); }

    // port_io
    uint16_t rx_burst(packet** out, uint16_t max) override { return rx_ring_->rx_burst(out, max); }
    uint16_t tx_burst(packet** pkts, uint16_t n) override { return queue_->tx_burst(pkts, n); }
    void flush() override { queue_->flush(); }
    void release(packet** pkts, uint16_t n) override { pool_.free(pkts, n); }
    packet* alloc(uint32_t len) override { return len <= pool_.data_room() ? pool_.alloc() : nullptr; }
    /// The receiving socket: readable (EPOLLIN) while the ring holds frames, so the
    /// worker watches it only while it sleeps (wait_fd_is_level); never read() it
    /// (frames are taken from the ring).
    int wait_fd() const override { return fd_; }
    bool wait_fd_is_level() const override { return true; }
    std::array<uint8_t, 6> mac() const override { return mac_; }
    const char* backend_name() const override { return "uring"; }
    /// PACKET_STATISTICS tp_drops: frames the socket's receive queue had no room for
    /// (the kernel resets the counter on each read).
    uint64_t take_backend_drops() override;

private:
    buffer_pool& pool_;
    int fd_ = -1;
    int tx_fd_ = -1;  ///< send-only socket on the same interface
    int ifindex_ = 0;
    std::array<uint8_t, 6> mac_{};
    std::unique_ptr<uring_queue> queue_;       ///< sends
    std::unique_ptr<packet_rx_ring> rx_ring_;  ///< receives
};

std::unique_ptr<af_packet_port> open_af_packet_port(const af_packet_options& opts, buffer_pool& pool);

}  // namespace eg::dp
