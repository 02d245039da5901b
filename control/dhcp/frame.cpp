#include "control/dhcp/frame.hpp"

#include <cstring>

#include "control/dhcp/message.hpp"
#include "dataplane/checksum.hpp"
#include "dataplane/headers.hpp"

namespace eg::ctl::dhcp {

std::string_view to_string(frame_error e) {
    switch (e) {
#define EG_X(name, text) \
    case frame_error::name: return text;
        EG_DHCP_FRAME_ERRORS(EG_X)
#undef EG_X
    }
    return "unknown";
}

frame_error parse_frame(std::span<const uint8_t> frame, frame_view& out) {
    out = frame_view{};
    const uint8_t* f = frame.data();
    const size_t n = frame.size();
    if (n < dp::eth::header_len) return frame_error::truncated;
    std::memcpy(out.addr.dst_mac.data(), f + dp::eth::dst, 6);
    std::memcpy(out.addr.src_mac.data(), f + dp::eth::src, 6);
    size_t off = 12;
    uint16_t type = dp::load16(f + off);
    while (type == dp::eth::type_vlan || type == dp::eth::type_qinq) {
        if (out.addr.vlan_tags_len == out.addr.vlan_tags.size()) return frame_error::not_ipv4;
        if (off + 4 + 2 > n) return frame_error::truncated;
        std::memcpy(out.addr.vlan_tags.data() + out.addr.vlan_tags_len, f + off, 4);
        out.addr.vlan_tags_len = static_cast<uint8_t>(out.addr.vlan_tags_len + 4);
        off += 4;
        type = dp::load16(f + off);
    }
    if (type != dp::eth::type_ipv4) return frame_error::not_ipv4;
    off += 2;

    if (n - off < dp::ipv4::min_header_len) return frame_error::truncated;
    const uint8_t* ip = f + off;
    const size_t ihl = (ip[dp::ipv4::ver_ihl] & 0x0f) * 4u;
    if ((ip[dp::ipv4::ver_ihl] >> 4) != 4 || ihl < dp::ipv4::min_header_len) return frame_error::bad_ip_header;
    const size_t total = dp::load16(ip + dp::ipv4::total_len);
    // Ethernet pads short frames, so the frame may be longer than the datagram.
    if (total < ihl || total > n - off) return frame_error::bad_ip_header;
    if (dp::checksum(ip, static_cast<uint32_t>(ihl)) != 0) return frame_error::bad_ip_checksum;
    const uint16_t frag = dp::load16(ip + dp::ipv4::frag);
    if (frag & (dp::ipv4::flag_mf | dp::ipv4::frag_offset_mask)) return frame_error::fragment;
    if (ip[dp::ipv4::proto] != dp::proto::udp) return frame_error::not_udp;
    out.addr.src_ip = dp::load32(ip + dp::ipv4::src);
    out.addr.dst_ip = dp::load32(ip + dp::ipv4::dst);

    if (total - ihl < 8) return frame_error::truncated;
    const uint8_t* udp = ip + ihl;
    const size_t udp_len = dp::load16(udp + 4);
    if (udp_len < 8 || udp_len > total - ihl) return frame_error::bad_udp_length;
    if (dp::raw16(udp + 6) != 0) {  // zero: the sender computed no checksum (RFC 768)
        const uint64_t sum = dp::pseudo_header_sum(ip + dp::ipv4::src, ip + dp::ipv4::dst, 4, dp::proto::udp,
                                                   static_cast<uint32_t>(udp_len));
        if (dp::checksum(udp, static_cast<uint32_t>(udp_len), sum) != 0) return frame_error::bad_udp_checksum;
    }
    out.addr.src_port = dp::load16(udp);
    out.addr.dst_port = dp::load16(udp + 2);
    if (out.addr.dst_port != k_server_port) return frame_error::not_server_port;
    out.payload = std::span<const uint8_t>(udp + 8, udp_len - 8);
    return frame_error::none;
}

size_t build_frame(std::span<uint8_t> out, const frame_addresses& a, std::span<const uint8_t> payload) {
    const size_t tags = a.vlan_tags_len <= 8 ? a.vlan_tags_len & ~size_t{3} : 8;
    const size_t ip_len = 20 + 8 + payload.size();
    if (ip_len > 0xffff) return 0;
    const size_t len = 14 + tags + ip_len;
    if (len > out.size()) return 0;
    uint8_t* f = out.data();
    std::memcpy(f + dp::eth::dst, a.dst_mac.data(), 6);
    std::memcpy(f + dp::eth::src, a.src_mac.data(), 6);
    std::memcpy(f + 12, a.vlan_tags.data(), tags);
    dp::store16(f + 12 + tags, dp::eth::type_ipv4);

    uint8_t* ip = f + 14 + tags;
    std::memset(ip, 0, 20);
    ip[dp::ipv4::ver_ihl] = 0x45;
    dp::store16(ip + dp::ipv4::total_len, static_cast<uint16_t>(ip_len));
    ip[dp::ipv4::ttl] = 64;
    ip[dp::ipv4::proto] = dp::proto::udp;
    dp::store32(ip + dp::ipv4::src, a.src_ip);
    dp::store32(ip + dp::ipv4::dst, a.dst_ip);
    dp::put_raw16(ip + dp::ipv4::csum, dp::checksum(ip, 20));

    uint8_t* udp = ip + 20;
    dp::store16(udp, a.src_port);
    dp::store16(udp + 2, a.dst_port);
    dp::store16(udp + 4, static_cast<uint16_t>(8 + payload.size()));
    dp::store16(udp + 6, 0);
    if (!payload.empty()) std::memcpy(udp + 8, payload.data(), payload.size());
    const uint64_t sum = dp::pseudo_header_sum(ip + dp::ipv4::src, ip + dp::ipv4::dst, 4, dp::proto::udp,
                                               static_cast<uint32_t>(8 + payload.size()));
    uint16_t csum = dp::checksum(udp, static_cast<uint32_t>(8 + payload.size()), sum);
    if (csum == 0) csum = 0xffff;  // RFC 768: a computed zero is sent as all ones
    dp::put_raw16(udp + 6, csum);
    return len;
}

}  // namespace eg::ctl::dhcp
