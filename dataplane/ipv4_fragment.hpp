#pragma once
// IPv4 fragmentation (RFC 791 §3.2, RFC 1812 §5.2.7) for forwarded packets without DF
// that exceed the egress MTU. Rare by design (senders use path-MTU discovery), so it
// runs in the worker outside the burst pipeline and may allocate new packets.
#include <cstdint>

#include "dataplane/io/port_io.hpp"
#include "dataplane/packet.hpp"

namespace eg::dp {

/// Splits `p` (Ethernet header already written, IPv4 header valid, TTL already
/// decremented) into fragments of at most `mtu` bytes of IP, allocated from `out`.
/// Completes a pending L4 checksum first (fragments carry no offload state).
/// Writes up to `max` fragments to `frags`; returns how many, 0 on failure (no
/// buffers, impossible MTU, GSO packet) — then all allocated fragments are released.
uint32_t fragment_ipv4(packet& p, uint32_t mtu, port_io& out, packet** frags, uint32_t max);

}  // namespace eg::dp
