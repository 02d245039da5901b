#pragma once
// What a stage may touch besides the packet and the snapshot: the worker's counters,
// its punt ring to the control thread, the shared neighbour cache (read-only here),
// the time of the current burst and the ICMP error budget. Owner: one worker.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "dataplane/counters.hpp"
#include "dataplane/handoff.hpp"
#include "dataplane/neighbour_cache.hpp"
#include "dataplane/neighbour_table.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/spsc_ring.hpp"

namespace eg::dp {

inline constexpr uint32_t k_frame_message_max = 2048;

/// A frame crossing between a worker and the control thread (copied, never shared).
struct frame_message {
    enum kind_t : uint8_t {
        learn = 0,       ///< ARP/ND the control thread learns neighbours from
        unresolved = 1,  ///< to transmit on `port` once `next_hop` is resolved
        dhcp = 2,        ///< a DHCP/BOOTP request (UDP to port 67) received on `port`
        wireguard = 3,   ///< a WireGuard handshake message or cookie reply received on `port`
        wireguard_event = 4,  ///< data = a wg_event (wireguard_state.hpp), not a frame
        originate = 5,   ///< inject only: an IPv4 packet of ours (Ethernet header left blank) to route
    };
    uint16_t port = 0;  ///< receiving port (learn) or egress port (unresolved)
    uint16_t len = 0;
    kind_t kind = learn;
    bool next_hop_v6 = false;
    uint8_t next_hop[16] = {};  ///< unresolved: the address to resolve (IPv4: first 4)
    offload_info offload{};
    uint8_t data[k_frame_message_max];
};
using frame_ring = spsc_ring<frame_message>;

/// Token bucket limiting the ICMP errors one worker generates (RFC 1812 §4.3.2.8):
/// at most `rate` per second, with bursts of up to `rate`. Credit is kept in
/// token-nanoseconds so no fraction of a token is lost between calls.
class icmp_rate_limiter {
public:
    void set_rate(uint32_t per_second) {
        rate_ = per_second;
        credit_ = uint64_t{per_second} * k_ns;
    }
    bool allow(uint64_t now_ns) {
        // Elapsed time beyond one second cannot add more than a full bucket.
        const uint64_t elapsed = std::min<uint64_t>(now_ns - last_ns_, k_ns);
        last_ns_ = now_ns;
        credit_ = std::min<uint64_t>(credit_ + elapsed * rate_, uint64_t{rate_} * k_ns);
        if (credit_ < k_ns) {
            return false;
        }
        credit_ -= k_ns;
        return true;
    }

private:
    static constexpr uint64_t k_ns = 1'000'000'000;
    uint64_t rate_ = 1000;
    uint64_t credit_ = 1000 * k_ns;  ///< tokens x 1e9
    uint64_t last_ns_ = 0;
};

class nat44_state;
class wireguard_state;

struct worker_context {
    worker_counters& counters;
    frame_ring& punt;
    const neighbour_table& neighbours;
    uint64_t now_ns = 0;
    uint32_t now_s = 0;              ///< now_ns in whole seconds (session timestamps)
    nat44_state* nat = nullptr;      ///< this worker's NAT44 state; null when NAT is off
    handoff_links* handoff = nullptr; ///< to the other workers; null with one worker
    wireguard_state* wg = nullptr;   ///< this worker's WireGuard peers; null without tunnels
    icmp_rate_limiter icmp_limiter{};
    neighbour_cache next_hops{};     ///< MACs from `neighbours`, re-checked per use

    /// Drops p with reason r and counts it: every stage's drop goes through here.
    void drop(packet& p, drop_reason r) {
        p.drop(reason_index(r));
        counters.drop(r);
    }

    /// Next-hop MAC of IPv4 `addr` (host order) on `port`. False: not resolved yet.
    bool resolve4(uint16_t port, uint32_t addr, uint8_t mac_out[6]) {
        return next_hops.resolve4(neighbours, port, addr, mac_out);
    }
    /// Next-hop MAC of IPv6 `addr` (16 bytes) on `port`. False: not resolved yet.
    bool resolve6(uint16_t port, const uint8_t* addr, uint8_t mac_out[6]) {
        return next_hops.resolve6(neighbours, port, addr, mac_out);
    }

    /// This worker's index and the worker count (ownership of NAT state).
    uint32_t self() const { return handoff ? handoff->self : 0; }
    uint32_t workers() const { return handoff ? handoff->workers : 1; }

    /// Passes p to worker `to`, which owns its state (a copy; p is consumed here).
    /// False, with p dropped and counted, when the ring is full.
    bool hand_off(packet& p, uint32_t to) {
        handoff_ring* r = handoff->out[to];
        const std::span<uint8_t> m =
            p.len <= k_handoff_max && r ? r->reserve(static_cast<uint32_t>(sizeof(handoff_header) + p.len))
                                        : std::span<uint8_t>{};
        if (m.empty()) {
            drop(p, drop_reason::handoff_ring_full);
            return false;
        }
        const handoff_header h{p.in_port, p.offload};
        std::memcpy(m.data(), &h, sizeof h);
        std::memcpy(m.data() + sizeof h, p.data, p.len);
        r->commit();
        handoff->to_wake |= uint64_t{1} << (to & 63);
        p.verdict = k_verdict_consumed;
        counters.nat_handed_off.add();
        return true;
    }

    /// Copies the frame to the control thread for neighbour learning.
    bool punt_copy(const packet& p) { return punt_frame(p, frame_message::learn, p.in_port, false, nullptr); }

    /// Hands a DHCP request to the control thread's server.
    bool punt_dhcp(const packet& p) { return punt_frame(p, frame_message::dhcp, p.in_port, false, nullptr); }

    /// Hands a packet that waits for neighbour resolution to the control thread.
    bool punt_unresolved(const packet& p, uint16_t egress_port, bool v6, const uint8_t* next_hop) {
        return punt_frame(p, frame_message::unresolved, egress_port, v6, next_hop);
    }

    /// Copies the frame to the control thread. False (and counted) when it cannot.
    bool punt_frame(const packet& p, frame_message::kind_t kind, uint16_t port, bool v6, const uint8_t* next_hop) {
        if (p.len > k_frame_message_max) {
            counters.drop(drop_reason::punt_too_large);
            return false;
        }
        frame_message* m = punt.reserve();
        if (!m) {
            counters.drop(drop_reason::punt_ring_full);
            return false;
        }
        m->port = port;
        m->kind = kind;
        m->next_hop_v6 = v6;
        if (next_hop) {
            std::memcpy(m->next_hop, next_hop, v6 ? 16 : 4);
        }
        m->len = static_cast<uint16_t>(p.len);
        m->offload = p.offload;
        std::memcpy(m->data, p.data, p.len);
        punt.commit();
        counters.punted.add();
        return true;
    }
};

}  // namespace eg::dp
