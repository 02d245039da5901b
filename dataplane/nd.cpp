#include "dataplane/nd.hpp"

#include <cstring>

#include "dataplane/checksum.hpp"
#include "dataplane/ethernet.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/icmp.hpp"

namespace eg::dp {

namespace {

constexpr uint8_t k_all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr uint32_t k_na_len = 24 + 8;  // NA body + target link-layer address option

bool is_unspecified(const uint8_t* a) {
    static const uint8_t zero[16] = {};
    return std::memcmp(a, zero, 16) == 0;
}

/// Finds an option of `type` in ND options [p, p+len); returns its start or null.
const uint8_t* find_option(const uint8_t* p, uint32_t len, uint8_t type) {
    while (len >= 8) {
        const uint32_t opt_len = p[1] * 8u;
        if (opt_len == 0 || opt_len > len) {
            return nullptr;  // RFC 4861 §4.6: a zero length option invalidates the packet
        }
        if (p[0] == type) {
            return p;
        }
        p += opt_len;
        len -= opt_len;
    }
    return nullptr;
}

bool prefix_match(const uint8_t* a, const uint8_t* b, uint8_t len) {
    const uint32_t bytes = len / 8;
    if (std::memcmp(a, b, bytes) != 0) {
        return false;
    }
    const uint32_t bits = len % 8;
    if (bits == 0) {
        return true;
    }
    const uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits));
    return ((a[bytes] ^ b[bytes]) & mask) == 0;
}

/// Should we answer a solicitation for `target` received on `port`?
bool answers_for(const snapshot& s, uint16_t in_port, const uint8_t* target, bool& proxied) {
    proxied = false;
    if (in_port == s.host_port) {
        // The host kernel routes everything through us: answer for every address but
        // its own (which it never solicits except for DAD, answered below as not ours).
        return true;
    }
    if (s.is_our_address6(in_port, target)) {
        return true;
    }
    const port_info& port = s.port(in_port);
    if (!port.nd_proxy) {
        return false;
    }
    bool on_link = false;
    for (const auto& a : port.ipv6) {
        on_link = on_link || prefix_match(a.addr.data(), target, a.prefix_len);
    }
    if (!on_link) {
        return false;
    }
    if (const vm6_binding* vm = s.vm6.find(target)) {
        proxied = vm->port != in_port;  // a VM answers for itself on its own port
        return proxied;
    }
    const uint32_t nh = s.routes6.lookup(target);
    if (nh == k_lpm_no_route || nh == k_nh_local || s.next_hops[nh].port == in_port) {
        return false;
    }
    proxied = true;
    return true;
}

void answer_solicitation(packet& p, const snapshot& s, worker_context& w, const uint8_t* target, bool proxied) {
    uint8_t* ip = p.l3();
    const port_info& port = s.port(p.in_port);
    if (p.l3_offset + ipv6::header_len + k_na_len > p.len + p.tailroom()) [[unlikely]] {
        w.drop(p, drop_reason::nd_malformed);
        return;
    }
    uint8_t solicitor[16];
    std::memcpy(solicitor, ip + ipv6::src, 16);
    uint8_t tgt[16];
    std::memcpy(tgt, target, 16);
    std::memcpy(ip + ipv6::dst, solicitor, 16);
    std::memcpy(ip + ipv6::src, tgt, 16);  // RFC 4861 §7.2.4 (and Linux for proxied)
    store16(ip + ipv6::payload_len, k_na_len);
    ip[ipv6::next_header] = proto::icmpv6;
    ip[ipv6::hop_limit] = 255;
    uint8_t* icmp = ip + ipv6::header_len;
    std::memset(icmp, 0, k_na_len);
    icmp[0] = icmp6::neighbour_advertisement;
    // R (router) and S (solicited); O (override) only for our own addresses (§7.2.8).
    icmp[4] = static_cast<uint8_t>(0x80 | 0x40 | (proxied ? 0 : 0x20));
    std::memcpy(icmp + 8, tgt, 16);
    icmp[24] = icmp6::opt_target_lladdr;
    icmp[25] = 1;
    std::memcpy(icmp + 26, port.mac.data(), 6);
    put_raw16(icmp + 2, icmp6_checksum(ip, k_na_len));
    p.len = p.l3_offset + ipv6::header_len + k_na_len;
    p.offload = {};
    reflect_ethernet(p, port.mac);
    p.verdict = p.in_port;
    w.counters.nd_adverts_sent.add();
}

}  // namespace

void process_nd(packet& p, const snapshot& s, worker_context& w) {
    const uint8_t* ip = p.l3();
    const uint32_t icmp_len = load16(ip + ipv6::payload_len);
    const uint8_t* icmp = ip + ipv6::header_len;
    const uint8_t type = icmp[0];
    // RFC 4861 §6.1, §7.1: hop limit 255 proves the sender is on-link; code 0.
    if (ip[ipv6::hop_limit] != 255 || icmp[1] != 0 || icmp6_checksum(ip, icmp_len) != 0) {
        w.drop(p, drop_reason::nd_malformed);
        return;
    }
    const port_info& port = s.port(p.in_port);
    switch (type) {
    case icmp6::neighbour_solicitation: {
        if (icmp_len < 24 || icmp[8] == 0xff) {
            w.drop(p, drop_reason::nd_malformed);
            return;
        }
        bool proxied = false;
        if (is_unspecified(ip + ipv6::src) || !answers_for(s, p.in_port, icmp + 8, proxied)) {
            // Duplicate address detection probes and others' targets are not ours.
            w.drop(p, drop_reason::nd_not_for_us);
            return;
        }
        if (p.in_port != s.host_port && find_option(icmp + 24, icmp_len - 24, icmp6::opt_source_lladdr)) {
            w.punt_copy(p);  // learn the solicitor's address (RFC 4861 §7.2.3)
        }
        uint8_t target[16];
        std::memcpy(target, icmp + 8, 16);
        answer_solicitation(p, s, w, target, proxied);
        return;
    }
    case icmp6::neighbour_advertisement:
        if (icmp_len < 24 || p.in_port == s.host_port) {
            w.drop(p, icmp_len < 24 ? drop_reason::nd_malformed : drop_reason::nd_not_for_us);
            return;
        }
        w.punt_copy(p);
        p.verdict = k_verdict_consumed;
        return;
    case icmp6::router_solicitation: {
        if (icmp_len < 8 || port.role != port_role::vm || !port.ra.enabled) {
            w.drop(p, icmp_len < 8 ? drop_reason::nd_malformed : drop_reason::nd_not_for_us);
            return;
        }
        const bool from_unspecified = is_unspecified(ip + ipv6::src);
        if (!from_unspecified && find_option(icmp + 8, icmp_len - 8, icmp6::opt_source_lladdr)) {
            w.punt_copy(p);
        }
        // Solicited advertisement: unicast back to a known solicitor, else all-nodes.
        // Built aside, then put in place after the received Ethernet header so any
        // 802.1Q tags stay as they came.
        uint8_t dst_ip[16];
        std::memcpy(dst_ip, from_unspecified ? k_all_nodes : ip + ipv6::src, 16);
        uint8_t frame[1514];
        const uint32_t frame_len = build_router_advertisement(frame, port, dst_ip, from_unspecified ? nullptr : p.data + eth::src);
        const uint32_t l3_len = frame_len - eth::header_len;
        if (p.l3_offset + l3_len > p.len + p.tailroom()) {
            w.drop(p, drop_reason::nd_malformed);
            return;
        }
        std::memcpy(p.l3(), frame + eth::header_len, l3_len);
        p.len = p.l3_offset + l3_len;
        reflect_ethernet(p, port.mac);
        if (from_unspecified) {
            std::memcpy(p.data + eth::dst, frame + eth::dst, 6);  // 33:33:00:00:00:01
        }
        p.offload = {};
        p.verdict = p.in_port;
        w.counters.nd_adverts_sent.add();
        return;
    }
    default:  // router advertisements and redirects from others are not for a router
        w.drop(p, drop_reason::nd_not_for_us);
        return;
    }
}

uint32_t build_router_advertisement(uint8_t* out, const port_info& port, const uint8_t* dst_ip,
                                    const uint8_t* dst_mac) {
    if (!dst_ip) {
        dst_ip = k_all_nodes;
    }
    uint8_t mac[6] = {0x33, 0x33, dst_ip[12], dst_ip[13], dst_ip[14], dst_ip[15]};
    std::memcpy(out + eth::dst, dst_mac ? dst_mac : mac, 6);
    std::memcpy(out + eth::src, port.mac.data(), 6);
    store16(out + 12, eth::type_ipv6);
    uint8_t* ip = out + eth::header_len;
    uint8_t* icmp = ip + ipv6::header_len;
    uint32_t len = 16;
    std::memset(icmp, 0, len);
    icmp[0] = icmp6::router_advertisement;
    icmp[4] = 64;  // cur hop limit advised to hosts
    store16(icmp + 6, port.ra.router_lifetime_s);
    // Options: source link-layer address, MTU, prefix information (RFC 4861 §4.6).
    uint8_t* o = icmp + len;
    o[0] = icmp6::opt_source_lladdr;
    o[1] = 1;
    std::memcpy(o + 2, port.mac.data(), 6);
    len += 8;
    o = icmp + len;
    std::memset(o, 0, 8);
    o[0] = icmp6::opt_mtu;
    o[1] = 1;
    store32(o + 4, port.mtu);
    len += 8;
    for (const auto& pfx : port.ra.prefixes) {
        if (len + 32 > 1500 - ipv6::header_len) {
            break;
        }
        o = icmp + len;
        std::memset(o, 0, 32);
        o[0] = icmp6::opt_prefix_info;
        o[1] = 4;
        o[2] = pfx.prefix_len;
        o[3] = static_cast<uint8_t>(0x80 | (port.ra.autonomous ? 0x40 : 0));  // L, A
        store32(o + 4, 2592000);  // valid lifetime: RFC 4861 §6.2.1 default (30 days)
        store32(o + 8, 604800);   // preferred lifetime (7 days)
        std::memcpy(o + 16, pfx.addr.data(), 16);
        len += 32;
    }
    std::memset(ip, 0, ipv6::header_len);
    ip[0] = 0x60;
    store16(ip + ipv6::payload_len, static_cast<uint16_t>(len));
    ip[ipv6::next_header] = proto::icmpv6;
    ip[ipv6::hop_limit] = 255;
    std::memcpy(ip + ipv6::src, port.link_local.data(), 16);  // §6.1.2: link-local source
    std::memcpy(ip + ipv6::dst, dst_ip, 16);
    put_raw16(icmp + 2, icmp6_checksum(ip, len));
    return eth::header_len + ipv6::header_len + len;
}

uint32_t build_neighbour_solicitation(uint8_t* out, const port_info& port, const uint8_t* src_ip,
                                      const uint8_t* target, const uint8_t* dst_mac) {
    // Solicited-node multicast ff02::1:ffXX:XXXX (RFC 4291 §2.7.1).
    uint8_t dst_ip[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, target[13], target[14], target[15]};
    if (dst_mac) {
        std::memcpy(dst_ip, target, 16);
    }
    const uint8_t mcast_mac[6] = {0x33, 0x33, dst_ip[12], dst_ip[13], dst_ip[14], dst_ip[15]};
    std::memcpy(out + eth::dst, dst_mac ? dst_mac : mcast_mac, 6);
    std::memcpy(out + eth::src, port.mac.data(), 6);
    store16(out + 12, eth::type_ipv6);
    uint8_t* ip = out + eth::header_len;
    uint8_t* icmp = ip + ipv6::header_len;
    constexpr uint32_t len = 24 + 8;
    std::memset(ip, 0, ipv6::header_len + len);
    ip[0] = 0x60;
    store16(ip + ipv6::payload_len, len);
    ip[ipv6::next_header] = proto::icmpv6;
    ip[ipv6::hop_limit] = 255;
    std::memcpy(ip + ipv6::src, src_ip, 16);
    std::memcpy(ip + ipv6::dst, dst_ip, 16);
    icmp[0] = icmp6::neighbour_solicitation;
    std::memcpy(icmp + 8, target, 16);
    icmp[24] = icmp6::opt_source_lladdr;
    icmp[25] = 1;
    std::memcpy(icmp + 26, port.mac.data(), 6);
    put_raw16(icmp + 2, icmp6_checksum(ip, len));
    return eth::header_len + ipv6::header_len + len;
}

bool parse_nd_learn(const uint8_t* ip, uint32_t len, ipv6_bytes& addr, mac_bytes& mac) {
    if (len < ipv6::header_len + 8 || ip[ipv6::next_header] != proto::icmpv6) {
        return false;
    }
    const uint32_t icmp_len = std::min<uint32_t>(load16(ip + ipv6::payload_len), len - ipv6::header_len);
    const uint8_t* icmp = ip + ipv6::header_len;
    const uint8_t* opt = nullptr;
    switch (icmp[0]) {
    case icmp6::neighbour_advertisement:
        if (icmp_len < 24) {
            return false;
        }
        std::memcpy(addr.data(), icmp + 8, 16);
        opt = find_option(icmp + 24, icmp_len - 24, icmp6::opt_target_lladdr);
        break;
    case icmp6::neighbour_solicitation:
        if (icmp_len < 24) {
            return false;
        }
        std::memcpy(addr.data(), ip + ipv6::src, 16);
        opt = find_option(icmp + 24, icmp_len - 24, icmp6::opt_source_lladdr);
        break;
    case icmp6::router_solicitation:
        std::memcpy(addr.data(), ip + ipv6::src, 16);
        opt = find_option(icmp + 8, icmp_len - 8, icmp6::opt_source_lladdr);
        break;
    default:
        return false;
    }
    if (!opt || opt[1] != 1 || is_unspecified(addr.data()) || addr[0] == 0xff) {
        return false;
    }
    std::memcpy(mac.data(), opt + 2, 6);
    return !is_multicast_mac(mac.data());
}

}  // namespace eg::dp
