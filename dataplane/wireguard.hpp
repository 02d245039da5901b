#pragma once
// The WireGuard data path on the workers (handshakes run on the control thread):
//  - receive: UDP to a tunnel's listen socket (IPv4, or IPv6). Data messages (type 4) are authenticated
//    and decrypted in place by the owner of their receiver index, replay-checked, the
//    endpoint follows the peer (roaming), and the inner packet must come from the
//    peer's allowed IPs; it is then routed like any packet. Handshake messages and
//    cookie replies are punted to the control thread.
//  - send: a packet routed to a peer (next_hop::wg_peer) is encrypted in place on the
//    peer's current keypair, wrapped in IPv4/UDP or IPv6/UDP to the peer's endpoint
//    (wg_endpoint.hpp: either family, as the peer last came from) and routed.
//    Without a keypair that can send, it waits in the peer's staging queue
//    (wireguard_staging.hpp) while the control thread runs the handshake.
// Ownership: peer slot s belongs to worker s % workers; a packet at another worker is
// handed over (handoff.hpp) before anything is changed. See docs/wireguard.md.
#include <cstdint>
#include <span>

#include "dataplane/headers.hpp"
#include "dataplane/io/port_io.hpp"
#include "dataplane/ipv4_fragment.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/wireguard_state.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::dp {

/// The tunnel whose listen socket a validated IPv4 packet is addressed to (UDP, our
/// address and port), else k_no_wg_tunnel. Cheap: called in the parse loop.
uint16_t wireguard_listener(const packet& p, const snapshot& s);
/// The same for a classified IPv6 packet (UDP right after the fixed header).
uint16_t wireguard_listener6(const packet& p, const snapshot& s);

enum class wg_rx : uint8_t {
    consumed,  ///< punted, handed over, a keepalive, or dropped (counted)
    inner4,    ///< p now holds the decrypted IPv4 packet, validated and ready to route
    inner6,    ///< p now holds the decrypted IPv6 packet, checked and ready to route
};
/// Receives one message for tunnel t (p: validated IPv4 or classified IPv6 to its
/// listen socket, as wireguard_listener/wireguard_listener6 found it).
wg_rx wireguard_receive(packet& p, const snapshot& s, worker_context& w, uint16_t t);

/// True if this worker owns peer `slot`; otherwise p is handed to the owner (or
/// dropped and counted when it cannot be) and false is returned.
bool wireguard_at_owner(packet& p, worker_context& w, uint32_t slot);

/// Encrypts the IP packet at p.l3() (TTL/hop limit already handled, it fits the
/// tunnel MTU) for peer `slot` and routes the outer packet. At the owner only.
void wireguard_send(packet& p, const snapshot& s, worker_context& w, uint32_t slot);

/// After forwarding's checks (TTL/hop limit decremented, tunnel MTU respected): a GSO
/// super-packet is marked for the worker to segment first (k_verdict_tunnel_segments),
/// anything else is sent at once.
void wireguard_forward(packet& p, const snapshot& s, worker_context& w, uint32_t slot);

/// Encrypts and routes a packet that waited in the staging queue (`ip`, the inner
/// packet as wireguard_send left it), copied into the empty buffer p.
void wireguard_send_staged(packet& p, const snapshot& s, worker_context& w, uint32_t slot,
                           std::span<const uint8_t> ip);

/// Counts what a peer's staging queue dropped: its oldest to make room (evicted), or
/// packets that waited longer than a handshake may take (expired). Both are the peer's
/// no_keypair drops too.
void wireguard_count_staging_losses(worker_context& w, uint32_t slot, uint32_t evicted, uint32_t expired);

/// Sends the staged packets of every peer whose keypair became usable: alloc(len)
/// gives an empty buffer (nullptr: none left), place(p) takes the packet afterwards
/// (routed, or dropped and counted). Cheap when nothing is ready.
template <class Alloc, class Place>
void wireguard_flush_staged(const snapshot& s, worker_context& w, Alloc&& alloc, Place&& place) {
    if (w.wg == nullptr || !w.wg->staging().any_ready()) [[likely]] {
        return;
    }
    w.wg->staging().flush(
        w.now_ns,
        [&](uint32_t slot, std::span<const uint8_t> ip) {
            packet* p = alloc(static_cast<uint32_t>(eth::header_len + ip.size()));
            if (p == nullptr) [[unlikely]] {
                wg_peer_telemetry::bump(w.wg->telemetry(slot).drop_no_keypair);
                w.counters.drop(drop_reason::wg_no_room);
                return;
            }
            wireguard_send_staged(*p, s, w, slot, ip);
            place(p);
        },
        [&](uint32_t slot, uint32_t n) { wireguard_count_staging_losses(w, slot, 0, n); });
}

/// For k_verdict_tunnel_fragments: cuts p (IPv4 without DF, larger than the tunnel
/// MTU of peer p.nat_ref, TTL already decremented) into fragments that fit the tunnel,
/// with buffers from `buffers` (RFC 791), and sends each to the peer; place(f) takes
/// every fragment afterwards. p itself stays with the caller.
template <class Place>
void wireguard_send_fragments(packet& p, const snapshot& s, worker_context& w, port_io& buffers, Place&& place) {
    const uint32_t slot = p.nat_ref;
    packet* frags[k_max_burst];
    const uint32_t mtu = slot < s.wg.peer_tunnel.size() && s.wg.peer_tunnel[slot] != k_no_wg_tunnel
                             ? s.wg.tunnels[s.wg.peer_tunnel[slot]].mtu
                             : 0;
    drop_reason why = drop_reason::ipv4_fragmentation_failed;
    const uint32_t n = mtu ? fragment_ipv4(p, mtu, buffers, frags, k_max_burst, why) : 0;
    if (n == 0) [[unlikely]] {
        w.counters.drop(why);
        return;
    }
    w.counters.fragments_sent.add(n);
    for (uint32_t i = 0; i < n; ++i) {
        frags[i]->verdict = k_verdict_none;
        frags[i]->ether_type = eth::type_ipv4;
        wireguard_send(*frags[i], s, w, slot);
        place(frags[i]);
    }
}

/// Builds, encrypts and routes a keepalive for `slot` in the empty buffer p.
void wireguard_send_keepalive(packet& p, const snapshot& s, worker_context& w, uint32_t slot);

/// Lowers the MSS option of a TCP SYN in the IP packet at p.l3() to at most max_mss,
/// with the checksum updated (RFC 1624). Anything else is left alone.
void clamp_tcp_mss(packet& p, bool v6, uint16_t max_mss);

}  // namespace eg::dp
