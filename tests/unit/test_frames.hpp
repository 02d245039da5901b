#pragma once
// A small frame builder for tests: Ethernet (+802.1Q/802.1ad tags), ARP, IPv4, IPv6,
// ICMP, ICMPv6 (echo, NS, NA, RS), UDP and TCP, with correct checksums.
//
// Written independently of the engine on purpose (nothing from dataplane/ is included):
// byte order is spelled out byte by byte and checksums follow the RFC 1071 definition
// literally (16-bit big-endian words formed one byte at a time, end-around carry after
// every addition), so a test that compares the engine's output with a frame built here
// does not just mirror the code under test.
#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace eg::test {

using bytes = std::vector<uint8_t>;
using mac_t = std::array<uint8_t, 6>;
using ip4_t = std::array<uint8_t, 4>;
using ip6_t = std::array<uint8_t, 16>;

// ---- literals -------------------------------------------------------------------------

inline mac_t mac(const char* text) {
    unsigned v[6];
    if (std::sscanf(text, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
        throw std::invalid_argument(std::string("bad MAC ") + text);
    }
    mac_t m;
    for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(v[i]);
    return m;
}
inline ip4_t ip4(const char* text) {
    ip4_t a;
    if (inet_pton(AF_INET, text, a.data()) != 1) throw std::invalid_argument(std::string("bad IPv4 ") + text);
    return a;
}
inline ip6_t ip6(const char* text) {
    ip6_t a;
    if (inet_pton(AF_INET6, text, a.data()) != 1) throw std::invalid_argument(std::string("bad IPv6 ") + text);
    return a;
}
/// Host-order value of an IPv4 address (as the snapshot stores it).
inline uint32_t host_order(const ip4_t& a) {
    return uint32_t{a[0]} << 24 | uint32_t{a[1]} << 16 | uint32_t{a[2]} << 8 | a[3];
}

inline const mac_t k_broadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// ---- byte helpers ---------------------------------------------------------------------

inline void put8(bytes& b, uint8_t v) { b.push_back(v); }
inline void put16(bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v & 0xff));
}
inline void put32(bytes& b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v & 0xffff));
}
template <size_t N>
void put(bytes& b, const std::array<uint8_t, N>& a) {
    b.insert(b.end(), a.begin(), a.end());
}
inline void put(bytes& b, const bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
inline uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] * 256 + p[1]); }
inline uint32_t get32(const uint8_t* p) { return uint32_t{get16(p)} * 65536 + get16(p + 2); }
inline void set16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v & 0xff);
}
/// `n` bytes of a recognisable pattern.
inline bytes payload(size_t n, uint8_t seed = 0) {
    bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
    return b;
}

// ---- RFC 1071 ------------------------------------------------------------------------

/// Ones'-complement sum of the data taken as 16-bit big-endian words, byte by byte; an
/// odd last byte is the high byte of a word padded with zero. Returns a 16-bit value.
inline uint32_t ones_sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i < n; ++i) {
        sum += (i % 2 == 0) ? uint32_t{p[i]} << 8 : uint32_t{p[i]};
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);  // end-around carry
    }
    return sum;
}
inline uint32_t ones_sum(const bytes& b, uint32_t sum = 0) { return ones_sum(b.data(), b.size(), sum); }
/// The value to write into a checksum field (big-endian, host-order number here).
inline uint16_t inet_checksum(const uint8_t* p, size_t n, uint32_t initial = 0) {
    return static_cast<uint16_t>(~ones_sum(p, n, initial) & 0xffff);
}
/// A received header/message is valid when summing it, checksum included, gives 0xffff.
inline bool checksum_ok(const uint8_t* p, size_t n, uint32_t initial = 0) { return ones_sum(p, n, initial) == 0xffff; }

/// Pseudo-header sum for TCP/UDP/ICMPv6 (RFC 768, RFC 793, RFC 8200 §8.1).
template <size_t N>
uint32_t pseudo_sum(const std::array<uint8_t, N>& src, const std::array<uint8_t, N>& dst, uint8_t proto,
                    uint32_t len) {
    bytes ph;
    put(ph, src);
    put(ph, dst);
    if (N == 4) {
        put8(ph, 0);
        put8(ph, proto);
        put16(ph, static_cast<uint16_t>(len));
    } else {
        put32(ph, len);
        put8(ph, 0), put8(ph, 0), put8(ph, 0);
        put8(ph, proto);
    }
    return ones_sum(ph);
}

// ---- Ethernet / ARP -------------------------------------------------------------------

struct vlan_tag {
    uint16_t tpid = 0x8100;
    uint16_t tci = 0;
};

inline bytes eth(const mac_t& dst, const mac_t& src, uint16_t type, const bytes& body,
                 const std::vector<vlan_tag>& tags = {}) {
    bytes b;
    put(b, dst);
    put(b, src);
    for (const auto& t : tags) {
        put16(b, t.tpid);
        put16(b, t.tci);
    }
    put16(b, type);
    put(b, body);
    return b;
}
/// Pads a frame with zeros to the 60-byte Ethernet minimum (without FCS).
inline bytes padded(bytes frame, size_t min_len = 60) {
    if (frame.size() < min_len) frame.resize(min_len, 0);
    return frame;
}

inline bytes arp(uint16_t op, const mac_t& sha, const ip4_t& spa, const mac_t& tha, const ip4_t& tpa) {
    bytes b;
    put16(b, 1);       // Ethernet
    put16(b, 0x0800);  // IPv4
    put8(b, 6);
    put8(b, 4);
    put16(b, op);
    put(b, sha);
    put(b, spa);
    put(b, tha);
    put(b, tpa);
    return b;
}

// ---- IPv4 -----------------------------------------------------------------------------

struct ip4_opts {
    uint8_t ttl = 64;
    uint8_t tos = 0;
    uint16_t id = 0x1234;
    bool df = false;
    uint16_t frag_offset = 0;  ///< in 8-byte units
    bool mf = false;
};

inline bytes ipv4(const ip4_t& src, const ip4_t& dst, uint8_t proto, const bytes& body, const ip4_opts& o = {}) {
    bytes h;
    put8(h, 0x45);
    put8(h, o.tos);
    put16(h, static_cast<uint16_t>(20 + body.size()));
    put16(h, o.id);
    put16(h, static_cast<uint16_t>((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | o.frag_offset));
    put8(h, o.ttl);
    put8(h, proto);
    put16(h, 0);
    put(h, src);
    put(h, dst);
    set16(h.data() + 10, inet_checksum(h.data(), 20));
    put(h, body);
    return h;
}

inline bytes icmp4(uint8_t type, uint8_t code, uint32_t rest, const bytes& data) {
    bytes b;
    put8(b, type);
    put8(b, code);
    put16(b, 0);
    put32(b, rest);
    put(b, data);
    set16(b.data() + 2, inet_checksum(b.data(), b.size()));
    return b;
}
inline bytes icmp4_echo(uint8_t type, uint16_t id, uint16_t seq, const bytes& data) {
    return icmp4(type, 0, uint32_t{id} << 16 | seq, data);
}

// ---- UDP / TCP (either family) ----------------------------------------------------------

template <size_t N>
bytes udp(const std::array<uint8_t, N>& src, const std::array<uint8_t, N>& dst, uint16_t sport, uint16_t dport,
          const bytes& data) {
    bytes b;
    put16(b, sport);
    put16(b, dport);
    put16(b, static_cast<uint16_t>(8 + data.size()));
    put16(b, 0);
    put(b, data);
    uint16_t c = inet_checksum(b.data(), b.size(), pseudo_sum(src, dst, 17, static_cast<uint32_t>(b.size())));
    set16(b.data() + 6, c == 0 ? 0xffff : c);  // RFC 768: zero is sent as all ones
    return b;
}

inline constexpr uint8_t k_tcp_syn = 0x02, k_tcp_ack = 0x10, k_tcp_psh = 0x08;

template <size_t N>
bytes tcp(const std::array<uint8_t, N>& src, const std::array<uint8_t, N>& dst, uint16_t sport, uint16_t dport,
          uint32_t seq, uint32_t ack, uint8_t flags, const bytes& data) {
    bytes b;
    put16(b, sport);
    put16(b, dport);
    put32(b, seq);
    put32(b, ack);
    put8(b, 5 << 4);  // data offset: 20 bytes
    put8(b, flags);
    put16(b, 65535);  // window
    put16(b, 0);      // checksum
    put16(b, 0);      // urgent
    put(b, data);
    set16(b.data() + 16, inet_checksum(b.data(), b.size(), pseudo_sum(src, dst, 6, static_cast<uint32_t>(b.size()))));
    return b;
}

// ---- IPv6 / ICMPv6 / ND ---------------------------------------------------------------

inline bytes ipv6(const ip6_t& src, const ip6_t& dst, uint8_t next_header, const bytes& body, uint8_t hop_limit = 64) {
    bytes b;
    put32(b, 0x60000000);
    put16(b, static_cast<uint16_t>(body.size()));
    put8(b, next_header);
    put8(b, hop_limit);
    put(b, src);
    put(b, dst);
    put(b, body);
    return b;
}

/// An ICMPv6 message (type, code, checksum, `rest` word, data) with its checksum.
inline bytes icmp6(const ip6_t& src, const ip6_t& dst, uint8_t type, uint8_t code, uint32_t rest, const bytes& data) {
    bytes b;
    put8(b, type);
    put8(b, code);
    put16(b, 0);
    put32(b, rest);
    put(b, data);
    set16(b.data() + 2, inet_checksum(b.data(), b.size(), pseudo_sum(src, dst, 58, static_cast<uint32_t>(b.size()))));
    return b;
}

/// ND option carrying a link-layer address (type 1 source, type 2 target).
inline bytes lladdr_option(uint8_t type, const mac_t& m) {
    bytes b{type, 1};
    put(b, m);
    return b;
}

/// Solicited-node multicast address ff02::1:ffXX:XXXX of `a` (RFC 4291 §2.7.1).
inline ip6_t solicited_node(const ip6_t& a) {
    ip6_t s = ip6("ff02::1:ff00:0");
    s[13] = a[13], s[14] = a[14], s[15] = a[15];
    return s;
}
/// 33:33 + the low 32 bits of a multicast address (RFC 2464 §7).
inline mac_t multicast_mac(const ip6_t& a) { return {0x33, 0x33, a[12], a[13], a[14], a[15]}; }

/// A whole IPv6 packet carrying a neighbour solicitation (hop limit 255 unless told).
inline bytes ns_packet(const ip6_t& src, const ip6_t& dst, const ip6_t& target, std::optional<mac_t> slla,
                       uint8_t hop_limit = 255) {
    bytes data;
    put(data, target);
    if (slla) put(data, lladdr_option(1, *slla));
    return ipv6(src, dst, 58, icmp6(src, dst, 135, 0, 0, data), hop_limit);
}
inline constexpr uint32_t k_na_router = 0x80000000u, k_na_solicited = 0x40000000u, k_na_override = 0x20000000u;
inline bytes na_packet(const ip6_t& src, const ip6_t& dst, const ip6_t& target, uint32_t flags,
                       std::optional<mac_t> tlla, uint8_t hop_limit = 255) {
    bytes data;
    put(data, target);
    if (tlla) put(data, lladdr_option(2, *tlla));
    return ipv6(src, dst, 58, icmp6(src, dst, 136, 0, flags, data), hop_limit);
}
inline bytes rs_packet(const ip6_t& src, std::optional<mac_t> slla, uint8_t hop_limit = 255) {
    const ip6_t all_routers = ip6("ff02::2");
    bytes data;
    if (slla) put(data, lladdr_option(1, *slla));
    return ipv6(src, all_routers, 58, icmp6(src, all_routers, 133, 0, 0, data), hop_limit);
}

/// fe80::/64 with the modified EUI-64 interface identifier of `m` (RFC 4291 §2.5.1, App. A):
/// insert ff:fe in the middle of the MAC and invert the universal/local bit.
inline ip6_t link_local(const mac_t& m) {
    ip6_t a{};
    a[0] = 0xfe, a[1] = 0x80;
    const uint8_t eui[8] = {static_cast<uint8_t>(m[0] ^ 0x02), m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]};
    for (int i = 0; i < 8; ++i) a[8 + i] = eui[i];
    return a;
}

// ---- checks on received frames -------------------------------------------------------------

/// IPv4 header at `ip` has a valid header checksum (computed from scratch).
inline bool ipv4_header_ok(const uint8_t* ip) { return checksum_ok(ip, (ip[0] & 0xf) * 4u); }
/// ICMPv6 message in the IPv6 packet at `ip` (no extension headers) has a valid checksum.
inline bool icmp6_ok(const uint8_t* ip) {
    ip6_t s, d;
    for (int i = 0; i < 16; ++i) s[i] = ip[8 + i], d[i] = ip[24 + i];
    const uint32_t len = get16(ip + 4);
    return checksum_ok(ip + 40, len, pseudo_sum(s, d, 58, len));
}

inline std::string hex(const uint8_t* p, size_t n) {
    std::string s;
    char buf[4];
    for (size_t i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", p[i]);
        s += buf;
        if (i + 1 < n) s += (i % 16 == 15) ? "\n" : " ";
    }
    return s;
}

}  // namespace eg::test
