#pragma once
// IPv6 neighbour discovery (RFC 4861) on the data plane: neighbour solicitations for
// our addresses answered in place, ND proxy on ports that have it (targets that are
// routed through another port, inside this port's on-link prefix — a hosting
// provider's routed-on-link /64), router solicitations answered with a router
// advertisement, and NA/NS/RS copies to the control thread for neighbour learning.
// The builders serve the control thread's resolver and periodic advertisements.
#include <cstdint>

#include "dataplane/packet.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::dp {

/// Handles an ICMPv6 ND message (types 133–137) in p. Sets p's verdict.
void process_nd(packet& p, const snapshot& s, worker_context& w);

/// Writes a router advertisement for `port` to `dst_ip` (all-nodes when null) as a
/// full frame into `out` (at least 1514 bytes). Returns the frame length.
uint32_t build_router_advertisement(uint8_t* out, const port_info& port, const uint8_t* dst_ip,
                                    const uint8_t* dst_mac);

/// Writes a neighbour solicitation for `target` from `port` as a full frame; multicast
/// to the solicited-node group unless `dst_mac` is given (unicast probe).
uint32_t build_neighbour_solicitation(uint8_t* out, const port_info& port, const uint8_t* src_ip,
                                      const uint8_t* target, const uint8_t* dst_mac);

/// What a punted ND message teaches: `addr` is at `mac`. False if it teaches nothing.
bool parse_nd_learn(const uint8_t* l3, uint32_t len, ipv6_bytes& addr, mac_bytes& mac);

}  // namespace eg::dp
