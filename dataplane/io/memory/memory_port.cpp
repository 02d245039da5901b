#include "dataplane/io/memory/memory_port.hpp"

#include <stdexcept>
#include <string>

namespace eg::dp {

memory_port::memory_port(const memory_port_options& opts, buffer_pool& pool)
    : pool_(pool), port_index_(opts.port_index), mac_(opts.mac), tx_sink_(opts.tx_sink),
      rx_ring_(pool.capacity(), nullptr) {}

memory_port::~memory_port() {
    // Queued frames go back to the pool, which outlives its ports.
    while (rx_count_ > 0) {
        pool_.free(rx_ring_[rx_head_]);
        rx_head_ = (rx_head_ + 1) % rx_ring_.size();
        --rx_count_;
    }
}

bool memory_port::push_rx(std::span<const uint8_t> frame, offload_info offload) {
    if (frame.size() > pool_.data_room() || rx_count_ == rx_ring_.size())
        return false;
    packet* p = pool_.alloc();
    if (!p)
        return false;
    std::memcpy(p->data, frame.data(), frame.size());
    p->len = static_cast<uint32_t>(frame.size());
    p->offload = offload;
    rx_ring_[(rx_head_ + rx_count_) % rx_ring_.size()] = p;
    ++rx_count_;
    return true;
}

void memory_port::set_replay(std::vector<std::vector<uint8_t>> templates, std::vector<offload_info> offloads) {
    replay_bytes_.clear();
    replay_.clear();
    replay_next_ = 0;
    for (size_t i = 0; i < templates.size(); ++i) {
        if (templates[i].size() > pool_.data_room())
            throw std::invalid_argument("memory_port: replay template " + std::to_string(i) + " (" +
                                        std::to_string(templates[i].size()) + " bytes) exceeds the pool's data room");
        replay_.push_back({replay_bytes_.size(), static_cast<uint32_t>(templates[i].size()),
                           i < offloads.size() ? offloads[i] : offload_info{}});
        replay_bytes_.insert(replay_bytes_.end(), templates[i].begin(), templates[i].end());
        // Each template starts on a 64-byte boundary and is padded to one, for
        // rx_burst's block copy.
        replay_bytes_.resize((replay_bytes_.size() + 63) & ~size_t{63}, 0);
    }
}

namespace {
/// Copies `len` bytes in whole 64-byte blocks: a fixed-size copy the compiler inlines as
/// a few vector moves, where a memcpy call with a variable length costs more than the
/// 64-byte frame it copies. Both sides have room for the rounding (see set_replay and
/// buffer_pool's 64-byte data room).
inline void copy_blocks64(uint8_t* dst, const uint8_t* src, uint32_t len) {
    for (uint32_t off = 0; off < len; off += 64)
        __builtin_memcpy(dst + off, src + off, 64);
}
}  // namespace

uint16_t memory_port::rx_burst(packet** out, uint16_t max) {
    uint16_t n = 0;
    uint64_t bytes = 0;
    while (n < max && rx_count_ > 0) {
        packet* p = rx_ring_[rx_head_];
        rx_head_ = rx_head_ + 1 == rx_ring_.size() ? 0 : rx_head_ + 1;
        --rx_count_;
        p->in_port = port_index_;
        bytes += p->len;
        out[n++] = p;
    }
    if (n < max && !replay_.empty()) {
        const uint32_t got = pool_.alloc_bulk(out + n, static_cast<uint32_t>(max - n));
        const replay_frame* frames = replay_.data();
        const size_t frame_count = replay_.size();
        const uint8_t* templates = replay_bytes_.data();
        size_t next = replay_next_;
        for (uint32_t i = 0; i < got; ++i) {
            const replay_frame& t = frames[next];
            next = next + 1 == frame_count ? 0 : next + 1;
            packet* p = out[n + i];
            copy_blocks64(p->data, templates + t.offset, t.len);
            p->len = t.len;
            p->offload = t.offload;
            p->in_port = port_index_;
            bytes += t.len;
        }
        replay_next_ = next;
        n = static_cast<uint16_t>(n + got);
    }
    stats_.rx_packets.add(n);
    stats_.rx_bytes.add(bytes);
    return n;
}

uint16_t memory_port::tx_burst(packet** pkts, uint16_t n) {
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n; ++i) {
        // Only this pool's descriptors can be taken (and freed); the caller keeps the rest.
        if (!pool_.owns(pkts[i])) [[unlikely]] {
            n = i;
            break;
        }
        bytes += pkts[i]->len;
    }
    if (!tx_sink_) [[unlikely]]
        for (uint16_t i = 0; i < n; ++i)
            captured_.push_back({std::vector<uint8_t>(pkts[i]->data, pkts[i]->data + pkts[i]->len), pkts[i]->offload});
    pool_.free(pkts, n);
    stats_.tx_packets.add(n);
    stats_.tx_bytes.add(bytes);
    return n;
}

packet* memory_port::alloc(uint32_t len) {
    if (len > pool_.data_room())
        return nullptr;
    return pool_.alloc();
}

std::vector<std::vector<uint8_t>> memory_port::take_tx() {
    std::vector<std::vector<uint8_t>> out;
    out.reserve(captured_.size());
    for (auto& f : captured_)
        out.push_back(std::move(f.bytes));
    captured_.clear();
    return out;
}

std::vector<memory_tx_frame> memory_port::take_tx_frames() {
    std::vector<memory_tx_frame> out;
    out.swap(captured_);
    return out;
}

}  // namespace eg::dp
