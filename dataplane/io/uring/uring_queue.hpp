#pragma once
// The io_uring batching engine behind the `uring` backends (AF_PACKET socket, TAP fd):
// one ring per port queue, `rx_buffers` receive operations kept in flight into pool
// buffers, sends queued by tx_burst and submitted together by flush().
//
// Every buffer carries a 10-byte virtio_net_hdr just before the frame (in headroom):
// the kernel writes it on receive (PACKET_VNET_HDR / IFF_VNET_HDR) and reads it on
// send, so checksum-offloaded frames and GSO super-packets pass intact; it is
// converted to and from packet::offload.
//
// Owner: one worker thread. The ring is created disabled and single-issuer with
// deferred task work where the kernel allows (6.1+): the thread that first calls
// rx_burst/tx_burst/flush becomes its only submitter, so ports can be opened by the
// startup thread and then driven by a worker. Completions are reaped without blocking;
// the kernel enters only when the ring says task work is pending, and an eventfd
// (wait_fd) is signalled when work arrives, so an idle worker can sleep in epoll.
#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/io/buffer_pool.hpp"

namespace eg::dp {

inline constexpr uint32_t k_vnet_hdr_len = 10;  ///< sizeof(struct virtio_net_hdr)

/// virtio_net_hdr (little-endian fields, as the kernel uses them on x86/arm64) to and
/// from offload_info. The ECN bit of gso_type is dropped on receive.
void offload_from_vnet_hdr(const uint8_t* hdr, offload_info& off);
void offload_to_vnet_hdr(const offload_info& off, uint8_t* hdr);

class uring_queue {
public:
    enum class fd_kind : uint8_t {
        socket,  ///< IORING_OP_RECV (MSG_TRUNC: oversize frames are detected) / SEND
        file,    ///< IORING_OP_READ / WRITE (TAP character device)
    };

    /// `fd` stays owned by the caller and must outlive the queue. Throws
    /// std::runtime_error (naming `what`) when the ring cannot be set up.
    uring_queue(int fd, fd_kind kind, uint32_t ring_entries, uint32_t rx_buffers, buffer_pool& pool,
                uint16_t port_index, const std::string& what);
    /// Sends go to `fd` unless a separate transmit descriptor is set here (the
    /// af_packet port uses a send-only socket, see af_packet_port.hpp).
    void set_tx_fd(int fd) { tx_fd_ = fd; }
    ~uring_queue();
    uring_queue(const uring_queue&) = delete;
    uring_queue& operator=(const uring_queue&) = delete;

    uint16_t rx_burst(packet** out, uint16_t max);
    uint16_t tx_burst(packet** pkts, uint16_t n);
    void flush();
    int event_fd() const { return event_fd_; }
    const io_stats& stats() const { return stats_; }
    /// For a receive path outside the ring (af_packet_port's mmap ring) to count into
    /// the same statistics; used from the owning worker only.
    io_stats& shared_stats() { return stats_; }
    /// True when the kernel accepted single-issuer + deferred task work.
    bool deferred_taskrun() const { return deferred_; }

private:
    void start();
    void arm_rx();
    void reap(packet** out, uint16_t max, uint16_t& got);
    void get_events_if_pending();
    void complete_rx(packet* p, int res, packet** out, uint16_t max, uint16_t& got);
    void complete_tx(packet* p, int res);
    void submit();
    uint32_t take_slot(packet* p) {
        uint32_t s = free_slots_[--free_slot_top_];
        slots_[s] = p;
        return s;
    }
    packet* put_slot(uint32_t s) {
        packet* p = slots_[s];
        slots_[s] = nullptr;
        free_slots_[free_slot_top_++] = s;
        return p;
    }

    io_uring ring_{};
    int fd_;
    int tx_fd_ = -1;  ///< -1: send on fd_
    fd_kind kind_;
    buffer_pool& pool_;
    uint16_t port_index_;
    int event_fd_ = -1;
    bool started_ = false;
    bool deferred_ = false;
    bool disabled_ = false;
    uint32_t rx_target_;       ///< receive operations to keep in flight
    uint32_t rx_inflight_ = 0;
    uint32_t tx_limit_;        ///< sends queued or in flight, at most (CQ never overflows)
    uint32_t tx_inflight_ = 0;
    uint32_t unsubmitted_ = 0; ///< SQEs prepared since the last submit
    // Packets owned by the kernel, by slot (user_data = kind << 32 | slot), so that a
    // closing port can hand them back to the pool. Sized once: rx_target_ + tx_limit_.
    std::unique_ptr<packet*[]> slots_;
    std::unique_ptr<uint32_t[]> free_slots_;
    uint32_t free_slot_top_ = 0;
    // Received frames not yet handed out (reaped by flush, or beyond rx_burst's max).
    std::unique_ptr<packet*[]> pending_rx_;
    uint32_t pending_head_ = 0, pending_count_ = 0;
    io_stats stats_;
};

}  // namespace eg::dp
