#pragma once
// IPv4 forwarding (RFC 1812): header validation, local delivery (echo, host TAP),
// TTL decrement with incremental checksum, egress MTU (fragmentation-needed), and the
// neighbour lookup that writes the next Ethernet header.
#include <cstdint>

#include "dataplane/packet.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::dp {

/// RFC 1812 §5.2.2 checks. Trims Ethernet padding. False = dropped and counted.
bool validate_ipv4(packet& p, worker_context& w);

/// Finishes forwarding after the route lookup (`nh` from snapshot.routes4).
void forward_ipv4(packet& p, const snapshot& s, worker_context& w, uint32_t nh);

/// Routes a packet the engine originated (ICMP error, echo reply): looks up its
/// destination and transmits without a TTL decrement.
void route_originated_ipv4(packet& p, const snapshot& s, worker_context& w);

/// Routes an encapsulated packet (WireGuard's outer IPv4/UDP) like an originated one,
/// but never into a tunnel: an endpoint inside a tunnel's allowed IPs is a loop.
void route_outer_ipv4(packet& p, const snapshot& s, worker_context& w);

}  // namespace eg::dp
