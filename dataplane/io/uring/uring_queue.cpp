#include <sys/syscall.h>
#include <unistd.h>
#include "dataplane/io/uring/uring_queue.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace eg::dp {

namespace {

constexpr uint64_t k_kind_rx = 0;
constexpr uint64_t k_kind_tx = 1;
constexpr uint8_t k_vnet_f_needs_csum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr uint8_t k_vnet_f_data_valid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID (receive)
constexpr uint8_t k_vnet_gso_ecn = 0x80;    // VIRTIO_NET_HDR_GSO_ECN

inline uint16_t load_le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
inline void store_le16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
}

}  // namespace

// struct virtio_net_hdr { u8 flags; u8 gso_type; le16 hdr_len; le16 gso_size;
//                         le16 csum_start; le16 csum_offset; }
void offload_from_vnet_hdr(const uint8_t* hdr, offload_info& off) {
    off.needs_csum = (hdr[0] & k_vnet_f_needs_csum) ? 1 : 0;
    off.csum_valid = (hdr[0] & k_vnet_f_data_valid) ? 1 : 0;
    off.gso_type = static_cast<uint8_t>(hdr[1] & ~k_vnet_gso_ecn);
    off.hdr_len = load_le16(hdr + 2);
    off.gso_size = load_le16(hdr + 4);
    off.csum_start = load_le16(hdr + 6);
    off.csum_offset = load_le16(hdr + 8);
}

void offload_to_vnet_hdr(const offload_info& off, uint8_t* hdr) {
    hdr[0] = off.needs_csum ? k_vnet_f_needs_csum : 0;
    hdr[1] = off.gso_type;
    store_le16(hdr + 2, off.hdr_len);
    store_le16(hdr + 4, off.gso_type ? off.gso_size : 0);
    store_le16(hdr + 6, off.needs_csum ? off.csum_start : 0);
    store_le16(hdr + 8, off.needs_csum ? off.csum_offset : 0);
}

uring_queue::uring_queue(int fd, fd_kind kind, uint32_t ring_entries, uint32_t rx_buffers, buffer_pool& pool,
                         uint16_t port_index, const std::string& what)
    : fd_(fd), kind_(kind), pool_(pool), port_index_(port_index) {
    if (ring_entries < 8)
        ring_entries = 8;
    if (rx_buffers > ring_entries)  // 0: a send-only queue
        throw std::runtime_error(what + ": rx_buffers must be between 0 and ring_entries (" +
                                 std::to_string(ring_entries) + ")");
    if (pool.headroom() < k_vnet_hdr_len)
        throw std::runtime_error(what + ": pool headroom too small for the vnet header");

    // Preferred: the worker is the only submitter and task work waits for it to enter
    // the kernel (no IPIs into a busy-polling worker); created disabled so the worker,
    // not the opening thread, becomes the submitter. Fallback: a plain ring, whose task
    // work interrupts the worker (correct, a little costlier).
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
                   IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
    params.cq_entries = 2 * ring_entries;
    int rc = io_uring_queue_init_params(ring_entries, &ring_, &params);
    if (rc == -EINVAL) {
        params = io_uring_params{};
        params.flags = IORING_SETUP_CQSIZE;
        params.cq_entries = 2 * ring_entries;
        rc = io_uring_queue_init_params(ring_entries, &ring_, &params);
    } else if (rc == 0) {
        deferred_ = true;
        disabled_ = true;
    }
    if (rc < 0)
        throw std::runtime_error(what + ": io_uring_queue_init(" + std::to_string(ring_entries) +
                                 ") failed: " + std::strerror(-rc) +
                                 (rc == -EPERM ? " (io_uring disabled by kernel.io_uring_disabled?)" : ""));

    event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd_ < 0 || (rc = io_uring_register_eventfd(&ring_, event_fd_)) < 0) {
        int err = event_fd_ < 0 ? errno : -rc;
        if (event_fd_ >= 0)
            ::close(event_fd_);
        io_uring_queue_exit(&ring_);
        throw std::runtime_error(what + ": eventfd for the ring: " + std::strerror(err));
    }

    rx_target_ = rx_buffers;
    // Every operation in flight owns one CQ slot: receives plus sends never exceed it.
    tx_limit_ = params.cq_entries - rx_target_;
    uint32_t nslots = rx_target_ + tx_limit_;
    slots_ = std::make_unique<packet*[]>(nslots);
    free_slots_ = std::make_unique<uint32_t[]>(nslots);
    for (uint32_t i = 0; i < nslots; ++i)
        free_slots_[i] = nslots - 1 - i;
    free_slot_top_ = nslots;
    pending_rx_ = std::make_unique<packet*[]>(rx_target_);
}

uring_queue::~uring_queue() {
    // Closing the ring cancels every request still in flight; none touches its buffer
    // afterwards, so those packets go back to the pool (which outlives its ports).
    io_uring_queue_exit(&ring_);
    if (event_fd_ >= 0)
        ::close(event_fd_);
    uint32_t nslots = rx_target_ + tx_limit_;
    for (uint32_t i = 0; i < nslots; ++i)
        if (slots_[i])
            pool_.free(slots_[i]);
    for (; pending_count_ > 0; --pending_count_, pending_head_ = (pending_head_ + 1) % rx_target_)
        pool_.free(pending_rx_[pending_head_]);
}

[[gnu::cold]] void uring_queue::start() {
    started_ = true;
    if (disabled_) {
        // The calling (worker) thread becomes the ring's only submitter.
        // liburing 2.3 declares io_uring_enable_rings but its .so does not export it,
        // so register the enable directly.
        ::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
        disabled_ = false;
    }
    arm_rx();
    submit();
}

void uring_queue::arm_rx() {
    const uint32_t room = pool_.data_room() + k_vnet_hdr_len;
    // Receives in flight plus completed-but-undelivered never exceed rx_target_, which
    // bounds pending_rx_.
    while (rx_inflight_ + pending_count_ < rx_target_) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (!sqe) {
            submit();
            sqe = io_uring_get_sqe(&ring_);
            if (!sqe)
                return;
        }
        packet* p = pool_.alloc();
        if (!p) {
            // Left unarmed; the next rx_burst tries again once packets were freed.
            stats_.rx_no_buffer.add();
            return;
        }
        uint8_t* start = p->data - k_vnet_hdr_len;
        if (kind_ == fd_kind::socket)
            io_uring_prep_recv(sqe, fd_, start, room, MSG_TRUNC);
        else
            io_uring_prep_read(sqe, fd_, start, room, static_cast<uint64_t>(-1));
        io_uring_sqe_set_data64(sqe, k_kind_rx << 32 | take_slot(p));
        ++rx_inflight_;
        ++unsubmitted_;
    }
}

void uring_queue::submit() {
    if (unsubmitted_ == 0)
        return;
    int rc = io_uring_submit(&ring_);
    if (rc >= 0)
        unsubmitted_ -= static_cast<uint32_t>(rc) > unsubmitted_ ? unsubmitted_ : static_cast<uint32_t>(rc);
}

void uring_queue::complete_rx(packet* p, int res, packet** out, uint16_t max, uint16_t& got) {
    --rx_inflight_;
    if (res < 0) {
        // -ECANCELED only at teardown; anything else is counted and the slot re-armed.
        stats_.rx_errors.add();
        pool_.free(p);
        return;
    }
    const uint32_t n = static_cast<uint32_t>(res);
    if (n > pool_.data_room() + k_vnet_hdr_len) {  // MSG_TRUNC reports the full length
        stats_.rx_truncated.add();
        pool_.free(p);
        return;
    }
    if (n <= k_vnet_hdr_len) {  // a vnet header and no frame: nothing to deliver
        stats_.rx_errors.add();
        pool_.free(p);
        return;
    }
    offload_from_vnet_hdr(p->data - k_vnet_hdr_len, p->offload);
    p->len = n - k_vnet_hdr_len;
    p->in_port = port_index_;
    if (got < max)
        out[got++] = p;
    else
        pending_rx_[(pending_head_ + pending_count_++) % rx_target_] = p;
}

void uring_queue::complete_tx(packet* p, int res) {
    --tx_inflight_;
    if (res >= 0) {
        stats_.tx_packets.add();
        stats_.tx_bytes.add(p->len);
    } else if (res == -ENOBUFS || res == -EAGAIN) {
        stats_.tx_dropped.add();  // the device queue was full: a drop, not a fault
    } else {
        stats_.tx_errors.add();
    }
    pool_.free(p);
}

void uring_queue::reap(packet** out, uint16_t max, uint16_t& got) {
    // Drains the whole CQ: receives beyond `max` (or reaped by flush) wait in pending_rx_.
    io_uring_cqe* cqes[k_max_burst];
    for (;;) {
        unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, k_max_burst);
        if (n == 0)
            return;
        for (unsigned i = 0; i < n; ++i) {
            uint64_t ud = io_uring_cqe_get_data64(cqes[i]);
            packet* p = put_slot(static_cast<uint32_t>(ud));
            if ((ud >> 32) == k_kind_rx)
                complete_rx(p, cqes[i]->res, out, max, got);
            else
                complete_tx(p, cqes[i]->res);
        }
        io_uring_cq_advance(&ring_, n);
    }
}

void uring_queue::get_events_if_pending() {
    // With deferred task work, completions wait until we enter the kernel; the ring's
    // flags say when there is any, so an idle poll costs no system call.
    if (io_uring_cq_ready(&ring_) == 0 &&
        (IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)))
        io_uring_get_events(&ring_);
}

uint16_t uring_queue::rx_burst(packet** out, uint16_t max) {
    if (!started_) [[unlikely]]
        start();
    uint16_t got = 0;
    while (got < max && pending_count_ > 0) {
        out[got++] = pending_rx_[pending_head_];
        pending_head_ = pending_head_ + 1 == rx_target_ ? 0 : pending_head_ + 1;
        --pending_count_;
    }
    get_events_if_pending();
    reap(out, max, got);
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < got; ++i)
        bytes += out[i]->len;
    stats_.rx_packets.add(got);
    stats_.rx_bytes.add(bytes);
    if (rx_inflight_ + pending_count_ < rx_target_) {
        arm_rx();
        submit();
    }
    return got;
}
uint16_t uring_queue::tx_burst(packet** pkts, uint16_t n) {
    if (!started_) [[unlikely]]
        start();
    uint16_t taken = 0;
    for (; taken < n; ++taken) {
        packet* p = pkts[taken];
        if (tx_inflight_ == tx_limit_ || !pool_.owns(p))
            break;  // full (the caller drops and counts), or not our buffer to hand over
        if (p->headroom() < k_vnet_hdr_len) [[unlikely]] {
            stats_.tx_errors.add();
            pool_.free(p);
            continue;
        }
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (!sqe) {
            // More queued than the SQ holds between flushes: push those out now.
            submit();
            sqe = io_uring_get_sqe(&ring_);
            if (!sqe)
                break;
        }
        uint8_t* start = p->data - k_vnet_hdr_len;
        offload_to_vnet_hdr(p->offload, start);
        if (kind_ == fd_kind::socket)
            io_uring_prep_send(sqe, tx_fd_ >= 0 ? tx_fd_ : fd_, start, p->len + k_vnet_hdr_len, 0);
        else
            io_uring_prep_write(sqe, fd_, start, p->len + k_vnet_hdr_len, static_cast<uint64_t>(-1));
        io_uring_sqe_set_data64(sqe, k_kind_tx << 32 | take_slot(p));
        ++tx_inflight_;
        ++unsubmitted_;
    }
    return taken;
}

void uring_queue::flush() {
    if (!started_) [[unlikely]]
        start();
    submit();
    // Send completions free their packets: reap them here too, so a port that only
    // transmits never runs out of in-flight room (receives wait in pending_rx_).
    if (tx_inflight_ > 0) {
        get_events_if_pending();
        uint16_t none = 0;
        reap(nullptr, 0, none);
    }
}

}  // namespace eg::dp
