#pragma once
// ICMP (RFC 792, RFC 1812 §4.3) and ICMPv6 (RFC 4443) messages the engine originates:
// echo replies for our own addresses and errors about packets it cannot forward.
// Everything is built in place in the packet's buffer (the error quotes the original
// packet, which is already there); the caller then routes the result.
#include <cstdint>

#include "dataplane/packet.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::dp {

/// Echo request -> echo reply, in place (L3 only). Precondition: p holds a valid
/// IPv4 ICMP echo request addressed to us.
void make_echo_reply4(packet& p);
/// Same for ICMPv6 echo (RFC 4443 §4.2).
void make_echo_reply6(packet& p);

/// Replaces p (a received IPv4 packet, headers validated) with an ICMP error about it,
/// from `src` (host order) to p's source; `rest` is the second header word (e.g. the
/// next-hop MTU for fragmentation-needed, RFC 1191). False when RFC 1812 forbids an
/// error here or the rate limit is spent (the caller drops p).
bool make_icmp4_error(packet& p, worker_context& w, uint8_t type, uint8_t code, uint32_t rest, uint32_t src);

/// Same for IPv6 (RFC 4443 §2.4): quotes as much as fits in the minimum MTU.
bool make_icmp6_error(packet& p, worker_context& w, uint8_t type, uint8_t code, uint32_t rest,
                      const uint8_t* src);

/// ICMPv6 checksum over the pseudo-header and `len` bytes of ICMPv6 at l3+40.
uint16_t icmp6_checksum(const uint8_t* l3, uint32_t icmp_len);

}  // namespace eg::dp
