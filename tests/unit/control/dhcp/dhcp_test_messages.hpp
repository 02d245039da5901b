#pragma once
// DHCP messages for tests, written byte by byte from RFC 2131 §2 Figure 1 without
// using the codec under test (control/dhcp/message.*), and whole frames through
// tests/unit/test_frames.hpp.
#include <cstdint>
#include <utility>
#include <vector>

#include "tests/unit/test_frames.hpp"

namespace eg::test::dhcp {

struct option {
    uint8_t code;
    bytes value;
};

struct dhcp_spec {
    uint8_t op = 1;
    uint8_t htype = 1;
    uint8_t hlen = 6;
    uint8_t hops = 0;
    uint32_t xid = 0x3903f326;
    uint16_t secs = 0;
    uint16_t flags = 0;
    ip4_t ciaddr{}, yiaddr{}, siaddr{}, giaddr{};
    mac_t chaddr{};
    std::vector<option> options;  ///< in order; End is appended when `end`
    bool end = true;
    size_t pad_to = 300;  ///< zero padding after the options (udhcpc, dhclient pad to 300)
};

inline bytes u8v(uint8_t v) { return bytes{v}; }
inline bytes u16v(uint16_t v) { return bytes{static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }
inline bytes u32v(uint32_t v) {
    return bytes{static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
                 static_cast<uint8_t>(v)};
}
inline bytes ipv(const ip4_t& a) { return bytes(a.begin(), a.end()); }
inline bytes client_id_of(const mac_t& m) {  // type 1 (Ethernet) + MAC, as udhcpc sends it
    bytes b{1};
    b.insert(b.end(), m.begin(), m.end());
    return b;
}

inline bytes dhcp_payload(const dhcp_spec& s) {
    bytes b;
    put8(b, s.op);
    put8(b, s.htype);
    put8(b, s.hlen);
    put8(b, s.hops);
    put32(b, s.xid);
    put16(b, s.secs);
    put16(b, s.flags);
    put(b, s.ciaddr);
    put(b, s.yiaddr);
    put(b, s.siaddr);
    put(b, s.giaddr);
    put(b, s.chaddr);
    b.resize(b.size() + 10, 0);   // rest of chaddr (16 bytes)
    b.resize(b.size() + 64, 0);   // sname
    b.resize(b.size() + 128, 0);  // file
    put32(b, 0x63825363);         // magic cookie
    for (const option& o : s.options) {
        put8(b, o.code);
        put8(b, static_cast<uint8_t>(o.value.size()));
        put(b, o.value);
    }
    if (s.end) put8(b, 255);
    if (b.size() < s.pad_to) b.resize(s.pad_to, 0);
    return b;
}

/// A DHCP message in Ethernet + IPv4 + UDP, as a client (or relay) sends it.
inline bytes dhcp_frame(const bytes& payload, const mac_t& src_mac, const ip4_t& src_ip, const mac_t& dst_mac,
                        const ip4_t& dst_ip, uint16_t sport = 68, uint16_t dport = 67) {
    return eth(dst_mac, src_mac, 0x0800, ipv4(src_ip, dst_ip, 17, udp(src_ip, dst_ip, sport, dport, payload)));
}

}  // namespace eg::test::dhcp
