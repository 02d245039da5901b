#pragma once
// Packets that wait for a WireGuard session. A packet routed to a peer that has no
// usable keypair yet is copied here while the control thread runs the handshake, and
// sent once a keypair can carry it: as initiator when the keypair is installed, as
// responder when the initiator's first packet confirms it. Without this the packet
// that wakes an idle tunnel (the first ping, a TCP SYN, a DNS query) is lost and the
// application waits for its own retry (kernel send.c wg_packet_send_staged_packets;
// wireguard-go's staged queue).
//
// Fixed memory, allocated at construction: an arena of `capacity` entries of
// `entry_bytes` each, shared by the worker's peers. A peer holds at most k_per_peer
// (the kernel's MAX_STAGED_PACKETS); when it has that many, or the arena is full and
// it holds some, its oldest goes to make room, as in the kernel. Entries older than
// k_max_age (the whitepaper's REKEY_ATTEMPT_TIME, when the handshake gives up) are
// dropped when the peer's queue is next touched.
//
// Owner: the worker that owns the peer slots. No allocation after construction.
#include <cstdint>
#include <span>
#include <vector>

namespace eg::dp {

class wg_staging {
public:
    static constexpr uint32_t k_per_peer = 128;
    static constexpr uint64_t k_max_age_ns = 90'000'000'000ULL;

    wg_staging(uint32_t max_peers, uint32_t capacity, uint32_t entry_bytes);

    /// What stage() did with the packet, and how many older packets it dropped.
    struct outcome {
        bool staged = false;   ///< false: too big for an entry, or no room at all
        uint32_t evicted = 0;  ///< this peer's oldest, dropped to make room
        uint32_t expired = 0;  ///< this peer's entries older than k_max_age_ns
    };
    outcome stage(uint32_t slot, std::span<const uint8_t> packet, uint64_t now_ns);

    /// A keypair for `slot` can now send: its staged packets go at the next flush.
    void mark_ready(uint32_t slot);
    bool any_ready() const { return !ready_.empty(); }

    /// Calls send(slot, packet) for every staged packet of every ready slot, oldest
    /// first, and frees them. A slot's queue is detached before its packets are sent,
    /// so send may stage again (the keypair went away meanwhile). Packets older than
    /// k_max_age_ns are dropped instead and reported as expired(slot, count).
    template <class Send, class Expired>
    void flush(uint64_t now_ns, Send&& send, Expired&& expired);

    /// Drops every packet staged for `slot` (peer removed, keys wiped, handshake gave
    /// up); returns how many.
    uint32_t discard(uint32_t slot);

    uint32_t staged(uint32_t slot) const { return slot < queues_.size() ? queues_[slot].count : 0; }
    uint32_t free_entries() const { return free_count_; }

private:
    static constexpr uint32_t k_none = UINT32_MAX;
    struct entry_header {
        uint32_t next = k_none;
        uint32_t len = 0;
        uint64_t staged_ns = 0;
    };
    struct queue {
        uint32_t head = k_none, tail = k_none, count = 0;
        bool ready = false;
    };

    uint8_t* data(uint32_t e) { return arena_.data() + size_t{e} * entry_bytes_; }
    uint32_t pop_front(queue& q);
    void release(uint32_t e);
    uint32_t drop_expired(queue& q, uint64_t now_ns);

    uint32_t entry_bytes_;
    std::vector<entry_header> headers_;
    std::vector<uint8_t> arena_;
    std::vector<queue> queues_;
    std::vector<uint32_t> ready_;  ///< capacity reserved for every slot: no allocation
    uint32_t free_head_ = k_none;
    uint32_t free_count_ = 0;
};

template <class Send, class Expired>
void wg_staging::flush(uint64_t now_ns, Send&& send, Expired&& expired) {
    // Index loop: send() may mark another slot ready (push_back within the reserve).
    for (size_t i = 0; i < ready_.size(); ++i) {
        const uint32_t slot = ready_[i];
        queue& q = queues_[slot];
        q.ready = false;
        if (const uint32_t n = drop_expired(q, now_ns)) {
            expired(slot, n);
        }
        uint32_t e = q.head;
        q = queue{};  // detached: a packet staged again by send() starts a new queue
        while (e != k_none) {
            const uint32_t next = headers_[e].next;
            send(slot, std::span<const uint8_t>(data(e), headers_[e].len));
            release(e);
            e = next;
        }
    }
    ready_.clear();
}

}  // namespace eg::dp
