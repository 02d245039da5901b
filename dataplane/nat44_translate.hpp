#pragma once
// NAT44 packet-rewrite core: the pure functions the NAT stage runs per packet once a
// session said what to translate to. No state, no allocation, no loop over the payload:
// every checksum is kept right by incremental update (RFC 1624 eqn. 3), never recomputed.
//
// Preconditions for every function here: p.l3() points at an IPv4 header that
// validate_ipv4 accepted (version 4, 20 <= IHL*4 <= total length <= p.l3_len()); the
// header may carry options and the packet may be a fragment. Bytes beyond the IPv4
// total length are never read or written, nor beyond p.len.
//
// Conventions
// - Addresses and ports are host order in the API, network order on the wire.
// - ICMP query identifier (RFC 5508 §3: mapped like a port): an echo REQUEST carries
//   its identifier in the SOURCE port slot (dst_port = 0), an echo REPLY in the
//   DESTINATION port slot (src_port = 0).
//   So a reply's tuple is exactly the reverse of its request's, a session keyed on the
//   outgoing request matches the incoming reply, and the identifier is translated
//   like a port: nat44_rewrite_src(p, a, id) on a request rewrites the identifier,
//   nat44_rewrite_dst(p, a, id) on a reply rewrites it; the other side has no port
//   (the port argument is ignored, like a "port" of a protocol without ports).
// - ICMP errors (RFC 5508 §4.2): the tuple is the EMBEDDED packet's, reversed, with
//   nat_tuple::icmp_error set. An error about an outgoing (already translated) packet
//   arrives inbound: its reversed inner tuple is the tuple an inbound packet of that
//   session has, so one lookup serves both.
// - Offloads (packet.hpp, virtio_net_hdr semantics): when p.offload.needs_csum is set
//   or p.offload.gso_type != gso_none, the L4 checksum field holds the folded,
//   NON-complemented pseudo-header sum the device completes on transmit. An address
//   change then moves that seed by the address difference; a port/identifier change
//   leaves it alone (the device sums the L4 bytes, ports included). ICMP has no
//   pseudo-header, so its partial seed is never touched.
// - Fragments: a non-first fragment (offset != 0) has no L4 header: tuple reports
//   nat_tuple::no_ports, rewrites change the address (and IPv4 header checksum) only.
//   The first fragment's L4 checksum covers the whole datagram and absorbs the whole
//   pseudo-header change. Same-datagram fragments must get the same address. A first
//   fragment too short for the L4 header (RFC 1858 tiny fragment) gives nat44_tuple
//   false and rewrites leave its L4 bytes alone: the stage drops such datagrams.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "dataplane/checksum.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/packet.hpp"

namespace eg::dp {

/// The NAT view of a packet; see the conventions above.
struct nat_tuple {
    uint32_t src_addr = 0;  ///< host order
    uint32_t dst_addr = 0;  ///< host order
    uint16_t src_port = 0;  ///< host order; ICMP echo request: identifier
    uint16_t dst_port = 0;  ///< host order; ICMP echo reply: identifier
    uint8_t proto = 0;      ///< IP protocol (of the embedded packet for ICMP errors)
    uint8_t flags = 0;      ///< bits below

    /// Ports not available: non-first fragment (outer, or the embedded one of an ICMP
    /// error) or a protocol without ports (not TCP/UDP/ICMP echo). Ports are 0.
    static constexpr uint8_t no_ports = 0x01;
    /// The tuple is the embedded packet's of an ICMP error, reversed (RFC 5508 §4.2).
    static constexpr uint8_t icmp_error = 0x02;
    /// The packet is a fragment (MF set or offset != 0); the stage must treat later
    /// fragments of the datagram (same src, dst, proto, IP id) like the first.
    static constexpr uint8_t fragment = 0x04;

    friend bool operator==(const nat_tuple&, const nat_tuple&) = default;
};

/// Which end of a packet a rewrite changes.
enum class nat_side : uint8_t { src = 0, dst = 1 };

namespace tcp_flag {
inline constexpr uint8_t fin = 0x01, syn = 0x02, rst = 0x04, ack = 0x10;
}

namespace detail {

inline constexpr uint32_t k_tcp_csum = 16, k_udp_csum = 6, k_icmp_csum = 2, k_icmp_id = 4;
inline constexpr uint32_t k_tcp_min = 20, k_udp_min = 8, k_icmp_min = 8;

inline uint32_t ihl_of(const uint8_t* ip) { return (ip[ipv4::ver_ihl] & 0xfu) * 4u; }
/// IPv4 total length, bounded by what the frame holds (validate_ipv4 made them equal).
inline uint32_t total_of(const packet& p, const uint8_t* ip) {
    return std::min<uint32_t>(load16(ip + ipv4::total_len), p.l3_len());
}
inline bool non_first_fragment(const uint8_t* ip) { return (load16(ip + ipv4::frag) & ipv4::frag_offset_mask) != 0; }
inline bool partial_csum(const packet& p) {
    return (p.offload.needs_csum | static_cast<uint8_t>(p.offload.gso_type != offload_info::gso_none)) != 0;
}

/// RFC 1624 eqn. 3 terms for one 16-bit word changing from o to n: ~o + n (memory order).
inline uint32_t delta16(uint16_t o, uint16_t n) { return uint32_t{static_cast<uint16_t>(~o)} + n; }
/// Writes the 4 address bytes at `at` and returns the checksum delta of that change.
inline uint32_t put_addr(uint8_t* at, uint32_t addr) {
    uint8_t n[4];
    store32(n, addr);
    const uint32_t d = delta16(raw16(at), raw16(n)) + delta16(raw16(at + 2), raw16(n + 2));
    std::memcpy(at, n, 4);
    return d;
}
/// Writes a port and returns the delta.
inline uint32_t put_port(uint8_t* at, uint16_t port) {
    uint8_t n[2];
    store16(n, port);
    const uint32_t d = delta16(raw16(at), raw16(n));
    std::memcpy(at, n, 2);
    return d;
}
/// A complemented checksum (as stored in a header) after changes summing to delta.
inline uint16_t csum_apply(uint16_t hc, uint64_t delta) {
    return static_cast<uint16_t>(~checksum_fold(uint64_t{static_cast<uint16_t>(~hc)} + delta));
}
/// A partial (non-complemented pseudo-header) seed after changes summing to delta.
inline uint16_t seed_apply(uint16_t seed, uint64_t delta) { return checksum_fold(uint64_t{seed} + delta); }

inline bool is_icmp_error_type(uint8_t t) {
    return t == icmp4::dest_unreachable || t == 4 /*source quench*/ || t == icmp4::time_exceeded ||
           t == icmp4::param_problem;
}

/// The ICMP error case of nat44_tuple (cold: errors are rare).
bool nat44_icmp_error_tuple(const uint8_t* icmp, uint32_t icmp_len, nat_tuple& out);

/// Shared body of nat44_rewrite_src/dst. Always inline (like nat44_tuple): every
/// translated packet takes one, and GCC kept both out of line, where the call and its
/// register saves cost ~30 of the ~870 instructions of an established NAT packet
/// (callgrind, bench/edgegate_bench.cpp --polls); ~5 KB more code in the cold callers.
[[gnu::always_inline]] inline void nat44_rewrite(packet& p, uint32_t side, uint32_t new_addr, uint16_t new_port) {
    uint8_t* ip = p.l3();
    const uint32_t da = put_addr(ip + ipv4::src + 4 * side, new_addr);
    put_raw16(ip + ipv4::csum, csum_apply(raw16(ip + ipv4::csum), da));
    if (non_first_fragment(ip)) [[unlikely]] {
        return;
    }
    const uint32_t ihl = ihl_of(ip);
    const uint32_t l4_len = total_of(p, ip) - ihl;
    uint8_t* l4 = ip + ihl;
    const bool partial = partial_csum(p);
    switch (ip[ipv4::proto]) {
    case proto::tcp: {
        if (l4_len < k_tcp_min) [[unlikely]] {
            return;
        }
        const uint32_t dp = put_port(l4 + 2 * side, new_port);
        uint8_t* c = l4 + k_tcp_csum;
        put_raw16(c, partial ? seed_apply(raw16(c), da) : csum_apply(raw16(c), da + dp));
        return;
    }
    case proto::udp: {
        if (l4_len < k_udp_min) [[unlikely]] {
            return;
        }
        const uint32_t dp = put_port(l4 + 2 * side, new_port);
        uint8_t* c = l4 + k_udp_csum;
        const uint16_t hc = raw16(c);
        if (partial) {
            put_raw16(c, seed_apply(hc, da));
        } else if (hc != 0) {  // RFC 768: 0 = no checksum, stays so
            const uint16_t n = csum_apply(hc, da + dp);
            put_raw16(c, n == 0 ? 0xffff : n);  // a computed 0 is sent as all ones
        }
        return;
    }
    case proto::icmp: {
        // Identifier in the src slot for requests, the dst slot for replies.
        if (l4_len < k_icmp_min || l4[0] != (side ? icmp4::echo_reply : icmp4::echo_request) ||
            load16(l4 + k_icmp_id) == new_port) {
            // Unchanged identifier: no update. (An update by -0 would turn the checksum of
            // an all-zero message, 0xffff, into 0x0000, which receivers reject.)
            return;
        }
        const uint32_t dp = put_port(l4 + k_icmp_id, new_port);
        if (!partial) {
            put_raw16(l4 + k_icmp_csum, csum_apply(raw16(l4 + k_icmp_csum), dp));
        }
        return;
    }
    default:
        return;
    }
}

}  // namespace detail

/// The NAT tuple of p (see the conventions above). False when p cannot be NATed as
/// such: L4 header shorter than TCP 20 / UDP 8 / ICMP 8 bytes in a packet that should
/// hold it, an ICMP type other than echo request/reply and the four errors, an ICMP
/// error whose embedded packet is not IPv4 with a whole header plus 8 bytes of
/// transport (RFC 792), or is itself an ICMP error or a non-echo query. A protocol
/// other than TCP/UDP/ICMP gives true with no_ports (address-only NAT).
[[gnu::always_inline]] inline bool nat44_tuple(const packet& p, nat_tuple& out) {
    const uint8_t* ip = p.l3();
    const uint32_t ihl = detail::ihl_of(ip);
    const uint32_t l4_len = detail::total_of(p, ip) - ihl;
    const uint8_t* l4 = ip + ihl;
    const uint16_t frag = load16(ip + ipv4::frag);
    out.src_addr = load32(ip + ipv4::src);
    out.dst_addr = load32(ip + ipv4::dst);
    out.src_port = 0;
    out.dst_port = 0;
    out.proto = ip[ipv4::proto];
    out.flags = (frag & (ipv4::flag_mf | ipv4::frag_offset_mask)) ? nat_tuple::fragment : 0;
    if (frag & ipv4::frag_offset_mask) [[unlikely]] {
        out.flags |= nat_tuple::no_ports;
        return true;
    }
    switch (out.proto) {
    case proto::tcp:
    case proto::udp:
        if (l4_len < (out.proto == proto::tcp ? detail::k_tcp_min : detail::k_udp_min)) [[unlikely]] {
            return false;
        }
        out.src_port = load16(l4);
        out.dst_port = load16(l4 + 2);
        return true;
    case proto::icmp:
        if (l4_len < detail::k_icmp_min) [[unlikely]] {
            return false;
        }
        if (l4[0] == icmp4::echo_request) {
            out.src_port = load16(l4 + detail::k_icmp_id);
            return true;
        }
        if (l4[0] == icmp4::echo_reply) {
            out.dst_port = load16(l4 + detail::k_icmp_id);
            return true;
        }
        return detail::nat44_icmp_error_tuple(l4, l4_len, out);
    default:
        out.flags |= nat_tuple::no_ports;
        return true;
    }
}

/// Source NAT: source address := new_addr, source port (ICMP echo request: identifier)
/// := new_port, every checksum kept right incrementally (IPv4 header; TCP/UDP with the
/// pseudo-header; ICMP without). See the conventions for offloads and fragments.
inline void nat44_rewrite_src(packet& p, uint32_t new_addr, uint16_t new_port) {
    detail::nat44_rewrite(p, 0, new_addr, new_port);
}

/// Destination NAT: destination address and port (ICMP echo reply: identifier).
inline void nat44_rewrite_dst(packet& p, uint32_t new_addr, uint16_t new_port) {
    detail::nat44_rewrite(p, 1, new_addr, new_port);
}

/// ICMP error translation (RFC 5508 §4.2). With side == dst (the usual out->in case, an
/// error about a packet the NAT sent out): outer destination := outer_addr, embedded
/// SOURCE address := inner_addr, embedded source port (echo request: identifier) :=
/// inner_port. With side == src (an inside host's error about an inbound packet): outer
/// source, embedded DESTINATION address and port (echo reply: identifier).
/// Keeps right: the outer IPv4 header checksum, the embedded IPv4 header checksum, the
/// embedded TCP/UDP/ICMP checksum when the quote holds it (UDP 0 stays 0), and the
/// outer ICMP checksum over every changed byte (left alone when it is a partial seed).
/// Quotes truncated to 8 bytes of transport (RFC 792) get what is present rewritten.
/// Changes nothing at all unless p is an unfragmented or first-fragment ICMP error
/// quoting an IPv4 header (call it when nat44_tuple reported icmp_error without
/// fragment; a non-first fragment of an error takes nat44_rewrite_dst/src).
void nat44_rewrite_icmp_error(packet& p, nat_side side, uint32_t outer_addr, uint32_t inner_addr,
                              uint16_t inner_port);

/// The usual inbound form: outer destination, embedded source address and port.
inline void nat44_rewrite_icmp_error(packet& p, uint32_t outer_dst_new, uint32_t inner_src_new,
                                     uint16_t inner_sport_new) {
    nat44_rewrite_icmp_error(p, nat_side::dst, outer_dst_new, inner_src_new, inner_sport_new);
}

/// TCP flags (tcp_flag::fin|syn|rst|ack) for session state and timeouts (RFC 5382 §5,
/// RFC 7857 §2); 0 when p is not TCP, is a non-first fragment or its header is short.
inline uint8_t tcp_flags(const packet& p) {
    const uint8_t* ip = p.l3();
    const uint32_t ihl = detail::ihl_of(ip);
    if (ip[ipv4::proto] != proto::tcp || detail::non_first_fragment(ip) ||
        detail::total_of(p, ip) - ihl < detail::k_tcp_min) {
        return 0;
    }
    return ip[ihl + 13] & (tcp_flag::fin | tcp_flag::syn | tcp_flag::rst | tcp_flag::ack);
}

}  // namespace eg::dp
