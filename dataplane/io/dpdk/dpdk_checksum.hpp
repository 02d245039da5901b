#pragma once
// Internet-checksum helpers the dpdk backend needs on its rx/tx path (RFC 1071), as
// big-endian values over the engine's own checksum module (dataplane/checksum.hpp).
//
// Why the backend completes checksums at all (baselines.md §6 item 4): net_af_packet,
// net_af_xdp and net_tap carry no virtio_net_hdr, so a TCP/UDP frame sent by a local
// socket over a veth (or a TAP) with tx checksum offload on arrives CHECKSUM_PARTIAL:
// its L4 checksum field holds only the folded, *non-complemented* pseudo-header sum
// (Linux: udp4_hwcsum / __tcp_v4_send_check write ~csum_tcpudp_magic(..., 0)) and
// nothing says so. Forwarded as is, every such packet is dropped by its receiver.
// complete_partial_l4_checksum() recognises that seed and finishes the sum; a field
// holding a checksum that verifies, or anything else, is left alone.
//
// All sums are computed as the value of the big-endian 16-bit words ("be" below) so
// they compare directly with a field read with load_be16().
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dataplane/checksum.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/packet.hpp"

namespace eg::dp::dpdk_csum {

inline uint16_t load_be16(const uint8_t* p) { return load16(p); }
inline void store_be16(uint8_t* p, uint16_t v) { store16(p, v); }

/// Folds a ones-complement accumulator to 16 bits with end-around carry. A nonzero
/// input never folds to 0, so the result of a nonzero sum is in [1, 0xffff].
inline uint16_t fold(uint64_t s) { return checksum_fold(s); }

/// Ones-complement sum of `n` bytes (an odd tail is padded with a zero byte), as the
/// folded value of the big-endian 16-bit words: the engine's checksum_add works in
/// memory order, and one swap at the end gives the big-endian value (RFC 1071 §2(B)).
inline uint16_t sum_be(const uint8_t* p, size_t n) {
    static_assert(std::endian::native == std::endian::little, "sum_be assumes a little-endian host");
    return __builtin_bswap16(checksum_fold(checksum_add(0, p, static_cast<uint32_t>(n))));
}

/// Folded pseudo-header sums (RFC 768, RFC 793 §3.1; RFC 8200 §8.1), big-endian value.
inline uint16_t pseudo_v4(const uint8_t* ip, uint8_t proto, uint32_t l4_len) {
    uint64_t s = sum_be(ip + 12, 8);  // source and destination address
    s += proto;
    s += l4_len;
    return fold(s);
}
inline uint16_t pseudo_v6(const uint8_t* ip, uint8_t next_header, uint32_t l4_len) {
    uint64_t s = sum_be(ip + 8, 32);
    s += next_header;
    s += (l4_len >> 16) + (l4_len & 0xffff);
    return fold(s);
}

enum class partial_result : uint8_t {
    not_applicable,  ///< not IPv4/IPv6 TCP/UDP, a fragment, truncated, or UDP without checksum
    untouched,       ///< the field is not the partial seed, or it already verifies
    completed,       ///< the field held the pseudo-header seed; the checksum was finished
};

/// Where the L4 segment of a TCP/UDP frame lies; found by locate_l4().
struct l4_location {
    uint32_t l4_offset = 0;  ///< from the start of the frame
    uint32_t l4_len = 0;     ///< bytes of L4 header + payload, from the IP header's length
    uint16_t pseudo = 0;     ///< folded pseudo-header sum
    uint8_t proto = 0;       ///< 6 (TCP) or 17 (UDP)
    bool v6 = false;
};

/// Finds the TCP/UDP segment of an Ethernet frame (up to two 802.1Q/802.1ad tags):
/// IPv4 without fragmentation, or IPv6 whose next header is TCP/UDP directly. Uses the
/// IP header's length (Ethernet padding is ignored). False when not applicable.
inline bool locate_l4(const uint8_t* f, uint32_t len, l4_location& out) {
    uint32_t off = 12;
    if (len < off + 2) return false;
    uint16_t et = load_be16(f + off);
    for (int tags = 0; tags < 2 && (et == 0x8100 || et == 0x88a8); ++tags) {
        off += 4;
        if (len < off + 2) return false;
        et = load_be16(f + off);
    }
    off += 2;
    const uint8_t* ip = f + off;
    if (et == 0x0800) {
        if (len < off + 20 || (ip[0] >> 4) != 4) return false;
        uint32_t ihl = (ip[0] & 0x0fu) * 4u;
        uint32_t total = load_be16(ip + 2);
        if (ihl < 20 || total < ihl || off + total > len) return false;
        if (load_be16(ip + 6) & 0x3fff) return false;  // MF set or fragment offset != 0
        out.proto = ip[9];
        out.l4_offset = off + ihl;
        out.l4_len = total - ihl;
        if (out.proto != 6 && out.proto != 17) return false;
        out.pseudo = pseudo_v4(ip, out.proto, out.l4_len);
    } else if (et == 0x86dd) {
        if (len < off + 40 || (ip[0] >> 4) != 6) return false;
        uint32_t payload = load_be16(ip + 4);
        if (payload == 0 || off + 40 + payload > len) return false;  // 0: jumbogram
        out.proto = ip[6];
        out.v6 = true;
        out.l4_offset = off + 40;
        out.l4_len = payload;
        if (out.proto != 6 && out.proto != 17) return false;
        out.pseudo = pseudo_v6(ip, out.proto, out.l4_len);
    } else {
        return false;
    }
    uint32_t need = out.proto == 6 ? 20u : 8u;
    return out.l4_len >= need;
}

/// Completes a CHECKSUM_PARTIAL TCP/UDP checksum in place (see the top of this file).
/// The field is rewritten only if it equals fold(pseudo-header) and the segment does
/// not already verify, so a genuine checksum is never changed.
inline partial_result complete_partial_l4_checksum(uint8_t* f, uint32_t len) {
    l4_location loc;
    if (!locate_l4(f, len, loc)) return partial_result::not_applicable;
    uint8_t* l4 = f + loc.l4_offset;
    uint8_t* field = l4 + (loc.proto == 6 ? 16 : 6);
    uint16_t cur = load_be16(field);
    if (loc.proto == 17 && cur == 0 && !loc.v6) return partial_result::not_applicable;
    if (cur != loc.pseudo) return partial_result::untouched;
    uint16_t seg = sum_be(l4, loc.l4_len);  // includes the seed, i.e. the pseudo header
    if (fold(uint64_t{seg} + loc.pseudo) == 0xffff) return partial_result::untouched;  // verifies
    uint16_t c = static_cast<uint16_t>(~seg);
    if (c == 0 && loc.proto == 17) c = 0xffff;  // RFC 768: 0 means "no checksum"
    store_be16(field, c);
    return partial_result::completed;
}

/// True if the frame is TCP/UDP and its L4 checksum verifies (or is UDP/IPv4 "none").
inline bool l4_checksum_ok(const uint8_t* f, uint32_t len) {
    l4_location loc;
    if (!locate_l4(f, len, loc)) return false;
    const uint8_t* l4 = f + loc.l4_offset;
    if (loc.proto == 17 && load_be16(l4 + 6) == 0) return !loc.v6;  // RFC 8200 §8.1
    return fold(uint64_t{sum_be(l4, loc.l4_len)} + loc.pseudo) == 0xffff;
}

/// Finishes a checksum that offload_info says is still partial (virtio_net_hdr
/// VIRTIO_NET_HDR_F_NEEDS_CSUM semantics: sum from csum_start to the end of the frame,
/// with the field holding the pseudo-header seed, stored at csum_start + csum_offset).
/// Returns false (and leaves the frame) if the offsets do not fit the frame.
inline bool complete_offload_checksum(packet& p) {
    const uint32_t start = p.offload.csum_start;
    const uint32_t at = start + p.offload.csum_offset;
    if (start >= p.len || at + 2 > p.len) return false;
    uint16_t c = static_cast<uint16_t>(~sum_be(p.data + start, p.len - start));
    if (c == 0 && p.offload.csum_offset == 6) c = 0xffff;  // UDP (RFC 768)
    store_be16(p.data + at, c);
    p.offload.needs_csum = 0;
    return true;
}

}  // namespace eg::dp::dpdk_csum
