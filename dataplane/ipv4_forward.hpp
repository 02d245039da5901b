#pragma once
// IPv4 forwarding (RFC 1812): header validation, local delivery (echo, host TAP),
// TTL decrement with incremental checksum, egress MTU (fragmentation-needed), and the
// neighbour lookup that writes the next Ethernet header.
#include <cstdint>

#include "dataplane/checksum.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::dp {

/// validate_ipv4 in full: every check, each failure dropped and counted by its reason.
bool validate_ipv4_slow(packet& p, worker_context& w);

/// RFC 1812 §5.2.2 checks. Trims Ethernet padding. False = dropped and counted.
/// Inline for the usual packet (a 20-byte header that holds together: version 4, length
/// within the frame, checksum, source not martian); anything else, valid headers with
/// options included, takes the full check, which also names the reason of a drop.
inline bool validate_ipv4(packet& p, worker_context& w) {
    const uint8_t* ip = p.l3();
    const uint32_t avail = p.l3_len();
    if (avail >= ipv4::min_header_len && ip[ipv4::ver_ihl] == 0x45) [[likely]] {
        const uint32_t total = load16(ip + ipv4::total_len);
        const uint32_t src = load32(ip + ipv4::src);
        const bool martian = (src >> 24) == 0 || (src >> 24) == 127 || (src >> 28) >= 0xe;
        if (total >= ipv4::min_header_len && total <= avail && !martian && ipv4_header_checksum_ok20(ip)) [[likely]] {
            p.len = p.l3_offset + total;  // drop Ethernet padding
            return true;
        }
    }
    return validate_ipv4_slow(p, w);
}

/// Finishes forwarding a burst after the route lookup: pkts[i] goes to next hop nh[i]
/// (from snapshot.routes4): local delivery, TTL, MTU, NAT44's apply step, the next
/// Ethernet header; each packet leaves with its verdict.
void forward_ipv4_burst(packet* const* pkts, const uint32_t* nh, uint32_t n, const snapshot& s, worker_context& w);

/// Routes a packet the engine originated (ICMP error, echo reply): looks up its
/// destination and transmits without a TTL decrement.
void route_originated_ipv4(packet& p, const snapshot& s, worker_context& w);

/// Routes an encapsulated packet (WireGuard's outer IPv4/UDP) like an originated one,
/// but never into a tunnel: an endpoint inside a tunnel's allowed IPs is a loop.
void route_outer_ipv4(packet& p, const snapshot& s, worker_context& w);

}  // namespace eg::dp
