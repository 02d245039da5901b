#pragma once
// The headers outside a WireGuard message: IPv4/UDP or IPv6/UDP from a tunnel's listen
// socket to a peer's endpoint. One writer for the workers (transport data, in place in
// front of the sealed message) and the control thread (handshakes, cookie replies), so
// both send the same headers.
#include <cstdint>
#include <cstring>

#include "dataplane/checksum.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/wg_endpoint.hpp"

namespace eg::dp {

inline constexpr uint32_t k_wg_udp_header = 8;
inline constexpr uint32_t k_wg_outer4 = ipv4::min_header_len + k_wg_udp_header;  ///< IPv4 + UDP
inline constexpr uint32_t k_wg_outer6 = ipv6::header_len + k_wg_udp_header;      ///< IPv6 + UDP
inline constexpr uint8_t k_wg_outer_ttl = 64;

/// Bytes of outer headers in front of a message to `to`.
inline uint32_t wg_outer_size(const wg_endpoint& to) { return to.is_v4() ? k_wg_outer4 : k_wg_outer6; }

/// Writes the IP and UDP headers at ip for the msg_len-byte message that already sits at
/// ip + wg_outer_size(to); returns the IP packet's length. From src4 (host order) or
/// src6 (16 bytes) by to's family, UDP port sport, to to.port.
/// IPv4: no DF (the path may fragment us), identification ipv4_id, UDP checksum 0, which
/// IPv4 allows (RFC 768) and the AEAD makes redundant. IPv6: the UDP checksum over the
/// message, mandatory there (RFC 8200 §8.1).
inline uint32_t write_wg_outer(uint8_t* ip, uint32_t src4, const uint8_t* src6, uint16_t sport, const wg_endpoint& to,
                               uint32_t msg_len, uint16_t ipv4_id) {
    const uint32_t udp_len = k_wg_udp_header + msg_len;
    uint8_t* udp = nullptr;
    if (to.is_v4()) {
        ip[ipv4::ver_ihl] = 0x45;
        ip[ipv4::tos] = 0;
        store16(ip + ipv4::total_len, static_cast<uint16_t>(ipv4::min_header_len + udp_len));
        store16(ip + ipv4::id, ipv4_id);
        store16(ip + ipv4::frag, 0);
        ip[ipv4::ttl] = k_wg_outer_ttl;
        ip[ipv4::proto] = proto::udp;
        store16(ip + ipv4::csum, 0);
        store32(ip + ipv4::src, src4);
        store32(ip + ipv4::dst, to.v4_addr());
        put_raw16(ip + ipv4::csum, checksum(ip, ipv4::min_header_len));
        udp = ip + ipv4::min_header_len;
    } else {
        store32(ip + ipv6::ver_tc_flow, 0x60000000u);
        store16(ip + ipv6::payload_len, static_cast<uint16_t>(udp_len));
        ip[ipv6::next_header] = proto::udp;
        ip[ipv6::hop_limit] = k_wg_outer_ttl;
        std::memcpy(ip + ipv6::src, src6, 16);
        std::memcpy(ip + ipv6::dst, to.addr.data(), 16);
        udp = ip + ipv6::header_len;
    }
    store16(udp, sport);
    store16(udp + 2, to.port);
    store16(udp + 4, static_cast<uint16_t>(udp_len));
    store16(udp + 6, 0);
    if (!to.is_v4()) {
        const uint16_t c = checksum(udp, udp_len, pseudo_header_sum_of(ip, true, proto::udp, udp_len));
        put_raw16(udp + 6, c == 0 ? 0xffff : c);  // 0 would mean "no checksum", forbidden here
    }
    return static_cast<uint32_t>(udp + udp_len - ip);
}

}  // namespace eg::dp
