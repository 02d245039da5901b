#pragma once
// Wire formats the data plane reads and writes: Ethernet, 802.1Q, ARP, IPv4, IPv6,
// ICMP, ICMPv6/ND, UDP, TCP. Multi-byte fields are read and written through load/store
// helpers (frames are not aligned), always in network byte order on the wire.
#include <cstdint>
#include <cstring>

namespace eg::dp {

inline uint16_t load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t load32(const uint8_t* p) {
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
inline void store16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
inline void store32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}
/// A 16-bit field as stored (memory order), for checksum arithmetic.
inline uint16_t raw16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline void put_raw16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

namespace eth {
inline constexpr uint32_t header_len = 14;
inline constexpr uint32_t vlan_tag_len = 4;
inline constexpr uint16_t type_ipv4 = 0x0800;
inline constexpr uint16_t type_arp = 0x0806;
inline constexpr uint16_t type_vlan = 0x8100;
inline constexpr uint16_t type_qinq = 0x88a8;
inline constexpr uint16_t type_ipv6 = 0x86dd;
inline constexpr uint32_t dst = 0, src = 6;
}  // namespace eth

namespace arp {
inline constexpr uint32_t len = 28;
inline constexpr uint16_t op_request = 1, op_reply = 2;
// offsets from the start of the ARP header
inline constexpr uint32_t htype = 0, ptype = 2, hlen = 4, plen = 5, op = 6, sha = 8, spa = 14,
                          tha = 18, tpa = 24;
}  // namespace arp

namespace ipv4 {
inline constexpr uint32_t min_header_len = 20;
inline constexpr uint32_t ver_ihl = 0, tos = 1, total_len = 2, id = 4, frag = 6, ttl = 8, proto = 9,
                          csum = 10, src = 12, dst = 16;
inline constexpr uint16_t flag_df = 0x4000, flag_mf = 0x2000, frag_offset_mask = 0x1fff;
}  // namespace ipv4

namespace ipv6 {
inline constexpr uint32_t header_len = 40;
inline constexpr uint32_t ver_tc_flow = 0, payload_len = 4, next_header = 6, hop_limit = 7, src = 8,
                          dst = 24;
inline constexpr uint32_t min_mtu = 1280;
/// fe80::/10 (RFC 4291 2.5.6): never forwarded off its link.
inline bool is_link_local(const uint8_t* a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }
}  // namespace ipv6

namespace proto {
inline constexpr uint8_t icmp = 1, tcp = 6, udp = 17, icmpv6 = 58, hop_by_hop = 0, routing = 43,
                         fragment = 44, esp = 50, ah = 51, none = 59, dst_opts = 60;
}

namespace icmp4 {
inline constexpr uint8_t echo_reply = 0, dest_unreachable = 3, echo_request = 8, time_exceeded = 11,
                         param_problem = 12;
inline constexpr uint8_t code_net_unreachable = 0, code_host_unreachable = 1, code_frag_needed = 4,
                         code_admin_prohibited = 13, code_ttl_in_transit = 0;
inline constexpr uint32_t header_len = 8;
}  // namespace icmp4

namespace icmp6 {
inline constexpr uint8_t dest_unreachable = 1, packet_too_big = 2, time_exceeded = 3,
                         param_problem = 4, echo_request = 128, echo_reply = 129,
                         router_solicitation = 133, router_advertisement = 134,
                         neighbour_solicitation = 135, neighbour_advertisement = 136, redirect = 137;
inline constexpr uint8_t code_no_route = 0, code_address_unreachable = 3;
inline constexpr uint8_t opt_source_lladdr = 1, opt_target_lladdr = 2, opt_prefix_info = 3,
                         opt_mtu = 5;
inline constexpr uint32_t header_len = 8;
}  // namespace icmp6

inline bool is_multicast_mac(const uint8_t* mac) { return (mac[0] & 1) != 0; }
inline bool is_broadcast_mac(const uint8_t* mac) {
    return (mac[0] & mac[1] & mac[2] & mac[3] & mac[4] & mac[5]) == 0xff;
}

}  // namespace eg::dp
