#pragma once
// IPv4 fragmentation (RFC 791 §3.2, RFC 1812 §5.2.7) for forwarded packets without DF
// that exceed the egress MTU. Rare by design (senders use path-MTU discovery), so it
// runs in the worker outside the burst pipeline and may allocate new packets.
#include <cstdint>

#include "dataplane/counters.hpp"
#include "dataplane/io/port_io.hpp"
#include "dataplane/packet.hpp"

namespace eg::dp {

/// Splits `p` (Ethernet header already written, IPv4 header valid, TTL already
/// decremented) into fragments of at most `mtu` bytes of IP, allocated from `out`.
/// Completes a pending L4 checksum first (fragments carry no offload state).
/// Writes up to `max` fragments to `frags`; returns how many, 0 on failure — then all
/// allocated fragments are released and `why` says which:
///  - ipv4_oversized_fragment: p is a fragment that ends past 65 535 bytes, RFC 791's
///    largest datagram. No receiver can reassemble it, and the offsets of its pieces
///    would not fit the 13-bit field.
///  - ipv4_fragmentation_failed: no buffers, an impossible MTU, or a GSO packet.
uint32_t fragment_ipv4(packet& p, uint32_t mtu, port_io& out, packet** frags, uint32_t max, drop_reason& why);

}  // namespace eg::dp
