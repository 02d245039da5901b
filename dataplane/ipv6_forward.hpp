#pragma once
// IPv6 forwarding (RFC 8200): header validation, ND and multicast handling on input,
// local delivery (echo, host TAP), hop-limit decrement, packet-too-big at the egress
// MTU (RFC 8201 — routers never fragment IPv6), neighbour lookup. No NAT: each VM's
// dedicated /128 is routed as it is.
#include <cstdint>

#include "dataplane/packet.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::dp {

/// Validates the header and handles everything that is not routed by destination
/// (ND, multicast). True when p should go to the route lookup.
bool classify_ipv6(packet& p, const snapshot& s, worker_context& w);

/// Finishes forwarding after the route lookup (`nh` from snapshot.routes6).
void forward_ipv6(packet& p, const snapshot& s, worker_context& w, uint32_t nh);

/// Routes a packet the engine originated (ICMPv6 error, echo reply).
void route_originated_ipv6(packet& p, const snapshot& s, worker_context& w);

/// Routes an encapsulated packet (WireGuard's outer IPv6/UDP) like an originated one,
/// but never into a tunnel: an endpoint inside a tunnel's allowed IPs is a loop.
void route_outer_ipv6(packet& p, const snapshot& s, worker_context& w);

}  // namespace eg::dp
