#pragma once
// ARP (RFC 826) on the data plane.
//
// Requests for one of our addresses on the receiving port are answered in place; on
// the host TAP every request is answered (the engine is the host kernel's router).
// Replies, and requests from senders inside a connected prefix, are copied to the
// control thread, which owns the neighbour cache (RFC 826 "merge" rule: a request
// also tells us the sender's mapping). build_arp_request serves the control thread's
// resolver.
#include <cstdint>

#include "dataplane/packet.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::dp {

void process_arp(packet& p, const snapshot& s, worker_context& w);

/// Writes a broadcast (or, with `target_mac`, unicast) who-has request into `out`
/// (at least 42 bytes); returns its length. Addresses in host byte order.
uint32_t build_arp_request(uint8_t* out, const mac_bytes& src_mac, uint32_t src_ip, uint32_t target_ip,
                           const uint8_t* target_mac = nullptr);

/// Fields of a valid Ethernet/IPv4 ARP packet, for the control thread.
struct arp_fields {
    uint16_t op = 0;
    mac_bytes sender_mac{};
    uint32_t sender_ip = 0;  ///< host order
    uint32_t target_ip = 0;
};
/// Parses an ARP payload (l3 bytes). False if it is not Ethernet/IPv4 ARP.
bool parse_arp(const uint8_t* l3, uint32_t len, arp_fields& out);

}  // namespace eg::dp
