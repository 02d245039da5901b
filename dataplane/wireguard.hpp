#pragma once
// The WireGuard data path on the workers (handshakes run on the control thread):
//  - receive: UDP to a tunnel's listen socket. Data messages (type 4) are authenticated
//    and decrypted in place by the owner of their receiver index, replay-checked, the
//    endpoint follows the peer (roaming), and the inner packet must come from the
//    peer's allowed IPs; it is then routed like any packet. Handshake messages and
//    cookie replies are punted to the control thread.
//  - send: a packet routed to a peer (next_hop::wg_peer) is encrypted in place on the
//    peer's current keypair, wrapped in IPv4/UDP to the peer's endpoint and routed.
// Ownership: peer slot s belongs to worker s % workers; a packet at another worker is
// handed over (handoff.hpp) before anything is changed. See docs/wireguard.md.
#include <cstdint>

#include "dataplane/packet.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::dp {

/// The tunnel whose listen socket a validated IPv4 packet is addressed to (UDP, our
/// address and port), else k_no_wg_tunnel. Cheap: called in the parse loop.
uint16_t wireguard_listener(const packet& p, const snapshot& s);

enum class wg_rx : uint8_t {
    consumed,  ///< punted, handed over, a keepalive, or dropped (counted)
    inner4,    ///< p now holds the decrypted IPv4 packet, validated and ready to route
    inner6,    ///< p now holds the decrypted IPv6 packet, checked and ready to route
};
/// Receives one message for tunnel t (p: validated IPv4 to its listen socket).
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

/// Builds, encrypts and routes a keepalive for `slot` in the empty buffer p.
void wireguard_send_keepalive(packet& p, const snapshot& s, worker_context& w, uint32_t slot);

/// Lowers the MSS option of a TCP SYN in the IP packet at p.l3() to at most max_mss,
/// with the checksum updated (RFC 1624). Anything else is left alone.
void clamp_tcp_mss(packet& p, bool v6, uint16_t max_mss);

}  // namespace eg::dp
