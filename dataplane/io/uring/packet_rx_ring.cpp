#include "dataplane/io/uring/packet_rx_ring.hpp"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "dataplane/io/uring/uring_queue.hpp"

namespace eg::dp {

namespace {

uint32_t round_up(uint32_t v, uint32_t to) { return (v + to - 1) / to * to; }

}  // namespace

packet_rx_ring::packet_rx_ring(int fd, uint32_t frames, uint32_t max_frame, buffer_pool& pool, uint16_t port_index,
                               io_stats& stats, const std::string& what)
    : pool_(pool), port_index_(port_index), stats_(stats) {
    int version = TPACKET_V2;
    if (::setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) {
        throw std::runtime_error(what + ": PACKET_VERSION TPACKET_V2: " + std::strerror(errno));
    }
    // Slot layout (kernel): tpacket2_hdr, sockaddr_ll, padding, virtio_net_hdr, frame.
    // 256 bytes of header room covers it with the MAC header aligned.
    const uint32_t page = static_cast<uint32_t>(::sysconf(_SC_PAGESIZE));
    frame_size_ = round_up(max_frame + 256, TPACKET_ALIGNMENT);
    per_block_ = std::max<uint32_t>(1, (128u << 10) / frame_size_);
    block_size_ = round_up(per_block_ * frame_size_, page);
    per_block_ = block_size_ / frame_size_;
    const uint32_t blocks = (std::max<uint32_t>(frames, 1) + per_block_ - 1) / per_block_;
    frames_ = blocks * per_block_;
    tpacket_req req{};
    req.tp_block_size = block_size_;
    req.tp_block_nr = blocks;
    req.tp_frame_size = frame_size_;
    req.tp_frame_nr = frames_;
    if (::setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) {
        throw std::runtime_error(what + ": PACKET_RX_RING (" + std::to_string(frames_) + " x " +
                                 std::to_string(frame_size_) + " bytes): " + std::strerror(errno));
    }
    map_len_ = size_t{block_size_} * blocks;
    void* m = ::mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (m == MAP_FAILED) {
        throw std::runtime_error(what + ": mmap of the receive ring: " + std::strerror(errno));
    }
    map_ = static_cast<uint8_t*>(m);
}

packet_rx_ring::~packet_rx_ring() {
    if (map_) {
        ::munmap(map_, map_len_);
    }
}

uint16_t packet_rx_ring::rx_burst(packet** out, uint16_t max) {
    uint16_t n = 0;
    uint64_t bytes = 0;
    while (n < max) {
        tpacket2_hdr* h = slot(next_);
        const uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
        if (!(status & TP_STATUS_USER)) {
            break;
        }
        const uint8_t* frame = reinterpret_cast<const uint8_t*>(h) + h->tp_mac;
        uint32_t len = h->tp_snaplen;
        // The kernel takes an offloaded 802.1Q tag out of the frame (skb vlan_tci);
        // put it back so the stages see the frame as it was on the wire.
        const bool tagged = (status & TP_STATUS_VLAN_VALID) != 0;
        const uint32_t room = len + (tagged ? 4u : 0u);
        packet* p = nullptr;
        if (h->tp_snaplen < h->tp_len || room > pool_.data_room()) [[unlikely]] {
            stats_.rx_truncated.add();
        } else if (!(p = pool_.alloc())) [[unlikely]] {
            stats_.rx_no_buffer.add();
            break;  // leave the slot for the next burst
        } else {
            offload_from_vnet_hdr(frame - k_vnet_hdr_len, p->offload);
            if (tagged && len >= 12) {
                std::memcpy(p->data, frame, 12);
                const uint16_t tpid = (status & TP_STATUS_VLAN_TPID_VALID) ? h->tp_vlan_tpid : 0x8100;
                p->data[12] = static_cast<uint8_t>(tpid >> 8);
                p->data[13] = static_cast<uint8_t>(tpid);
                p->data[14] = static_cast<uint8_t>(h->tp_vlan_tci >> 8);
                p->data[15] = static_cast<uint8_t>(h->tp_vlan_tci);
                std::memcpy(p->data + 16, frame + 12, len - 12);
                len += 4;
                if (p->offload.needs_csum) {
                    p->offload.csum_start = static_cast<uint16_t>(p->offload.csum_start + 4);
                }
                if (p->offload.hdr_len) {
                    p->offload.hdr_len = static_cast<uint16_t>(p->offload.hdr_len + 4);
                }
            } else {
                std::memcpy(p->data, frame, len);
            }
            p->len = len;
            p->in_port = port_index_;
            bytes += len;
            out[n++] = p;
        }
        __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        next_ = next_ + 1 == frames_ ? 0 : next_ + 1;
    }
    if (n) {
        stats_.rx_packets.add(n);
        stats_.rx_bytes.add(bytes);
    }
    return n;
}

}  // namespace eg::dp
