#pragma once
// The Ethernet + IPv4 + UDP frame around a DHCP message, for the data plane's punt
// (frame → payload) and inject (payload → frame) path. The data plane hands the
// control thread whole frames; replies go back as whole frames because a client
// without an address cannot be reached through the kernel stack (RFC 2131 §4.1: the
// server unicasts to chaddr/yiaddr without ARP, or broadcasts).
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "dataplane/snapshot.hpp"

namespace eg::ctl::dhcp {

#define EG_DHCP_FRAME_ERRORS(X)                                     \
    X(none, "none")                                                 \
    X(truncated, "truncated")           /* shorter than its headers */ \
    X(not_ipv4, "not_ipv4")                                         \
    X(bad_ip_header, "bad_ip_header")   /* version, IHL, total length */ \
    X(bad_ip_checksum, "bad_ip_checksum")                           \
    X(fragment, "fragment")             /* DHCP is never fragmented */ \
    X(not_udp, "not_udp")                                           \
    X(bad_udp_length, "bad_udp_length")                             \
    X(bad_udp_checksum, "bad_udp_checksum")                         \
    X(not_server_port, "not_server_port") /* UDP destination not 67 */

enum class frame_error : uint8_t {
#define EG_X(name, text) name,
    EG_DHCP_FRAME_ERRORS(EG_X)
#undef EG_X
};
std::string_view to_string(frame_error e);

/// Addresses of a frame; IPv4 addresses in host order.
struct frame_addresses {
    dp::mac_bytes dst_mac{};
    dp::mac_bytes src_mac{};
    uint32_t src_ip = 0;
    uint32_t dst_ip = 0;
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    /// 802.1Q/802.1ad tags exactly as on the wire (TPID + TCI each), outermost first;
    /// a reply carries the request's tags back.
    std::array<uint8_t, 8> vlan_tags{};
    uint8_t vlan_tags_len = 0;  ///< 0, 4 or 8
};

struct frame_view {
    frame_addresses addr;
    std::span<const uint8_t> payload;  ///< the UDP payload, inside the frame
};

/// Parses a frame addressed to the DHCP server port. Verifies the IPv4 header
/// checksum and, when present (non-zero), the UDP checksum.
frame_error parse_frame(std::span<const uint8_t> frame, frame_view& out);

/// Ethernet + IPv4 + UDP header bytes in front of the payload (without VLAN tags).
inline constexpr size_t k_frame_overhead = 14 + 20 + 8;

/// Writes a frame carrying `payload` into `out` (IPv4 TTL 64, no options, UDP
/// checksum filled in). Returns its length, or 0 when `out` is too small or the
/// payload does not fit one IPv4 datagram.
size_t build_frame(std::span<uint8_t> out, const frame_addresses& a, std::span<const uint8_t> payload);

}  // namespace eg::ctl::dhcp
