#pragma once
// Software segmentation of a GSO super-packet (packet.hpp offload_info: a TCP or UDP
// payload of up to 64 KB that the kernel would cut into gso_size pieces on transmit).
// Needed where no kernel follows: each segment of a super-packet routed into a
// WireGuard tunnel is encrypted on its own. Rare path, run by the worker outside the
// burst pipeline; allocates the segments from a port's pool.
#include <cstdint>

#include "dataplane/io/port_io.hpp"
#include "dataplane/packet.hpp"

namespace eg::dp {

/// Cuts `p` (IPv4 or IPv6 at p.l3(), TCP or UDP GSO) into standalone packets with
/// their own IP and L4 headers and complete checksums, at most gso_size payload bytes
/// each: TCP sequence numbers advance, FIN/PSH stay on the last segment and CWR on the
/// first; IPv4 identifiers count up. Writes up to `max` segments to `out_pkts` and
/// returns how many; 0 on failure (not TCP/UDP, no buffers, too many segments), with
/// everything allocated released. p itself is left for the caller to release.
uint32_t segment_gso(const packet& p, port_io& pool, packet** out_pkts, uint32_t max);

}  // namespace eg::dp
