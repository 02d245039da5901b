// Packets that wait for a WireGuard session (see wireguard_staging.hpp).
#include "dataplane/wireguard_staging.hpp"

#include <cstring>

namespace eg::dp {

wg_staging::wg_staging(uint32_t max_peers, uint32_t capacity, uint32_t entry_bytes)
    : entry_bytes_(entry_bytes),
      headers_(capacity),
      arena_(size_t{capacity} * entry_bytes),
      queues_(max_peers) {
    ready_.reserve(max_peers);
    for (uint32_t e = capacity; e-- > 0;) {
        release(e);
    }
}

void wg_staging::release(uint32_t e) {
    headers_[e].next = free_head_;
    free_head_ = e;
    ++free_count_;
}

uint32_t wg_staging::pop_front(queue& q) {
    const uint32_t e = q.head;
    q.head = headers_[e].next;
    if (q.head == k_none) {
        q.tail = k_none;
    }
    --q.count;
    return e;
}

uint32_t wg_staging::drop_expired(queue& q, uint64_t now_ns) {
    uint32_t n = 0;
    while (q.head != k_none && now_ns - headers_[q.head].staged_ns >= k_max_age_ns) {
        release(pop_front(q));
        ++n;
    }
    return n;
}

wg_staging::outcome wg_staging::stage(uint32_t slot, std::span<const uint8_t> packet, uint64_t now_ns) {
    outcome r;
    if (slot >= queues_.size() || packet.size() > entry_bytes_) {
        return r;
    }
    queue& q = queues_[slot];
    r.expired = drop_expired(q, now_ns);
    uint32_t e = k_none;
    if (q.count >= k_per_peer || (free_head_ == k_none && q.count > 0)) {
        e = pop_front(q);  // this peer's oldest makes room
        ++r.evicted;
    } else if (free_head_ != k_none) {
        e = free_head_;
        free_head_ = headers_[e].next;
        --free_count_;
    } else {
        return r;  // the arena is full of other peers' packets
    }
    std::memcpy(data(e), packet.data(), packet.size());
    headers_[e] = entry_header{k_none, static_cast<uint32_t>(packet.size()), now_ns};
    if (q.tail == k_none) {
        q.head = e;
    } else {
        headers_[q.tail].next = e;
    }
    q.tail = e;
    ++q.count;
    r.staged = true;
    return r;
}

void wg_staging::mark_ready(uint32_t slot) {
    if (slot < queues_.size() && queues_[slot].count > 0 && !queues_[slot].ready) {
        queues_[slot].ready = true;
        ready_.push_back(slot);
    }
}

uint32_t wg_staging::discard(uint32_t slot) {
    if (slot >= queues_.size()) {
        return 0;
    }
    queue& q = queues_[slot];
    const uint32_t n = q.count;
    while (q.head != k_none) {
        release(pop_front(q));
    }
    // A ready mark left behind finds an empty queue at the next flush: harmless.
    return n;
}

}  // namespace eg::dp
