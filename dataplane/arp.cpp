#include "dataplane/arp.hpp"

#include <cstring>

#include "dataplane/ethernet.hpp"
#include "dataplane/headers.hpp"

namespace eg::dp {

bool parse_arp(const uint8_t* a, uint32_t len, arp_fields& out) {
    if (len < arp::len || load16(a + arp::htype) != 1 || load16(a + arp::ptype) != eth::type_ipv4 ||
        a[arp::hlen] != 6 || a[arp::plen] != 4) {
        return false;
    }
    out.op = load16(a + arp::op);
    std::memcpy(out.sender_mac.data(), a + arp::sha, 6);
    out.sender_ip = load32(a + arp::spa);
    out.target_ip = load32(a + arp::tpa);
    return out.op == arp::op_request || out.op == arp::op_reply;
}

namespace {

bool in_connected_prefix(const port_info& port, uint32_t addr) {
    for (const auto& a : port.ipv4) {
        uint32_t mask = a.prefix_len ? ~uint32_t{0} << (32 - a.prefix_len) : 0;
        if (((a.addr ^ addr) & mask) == 0) {
            return true;
        }
    }
    return false;
}

}  // namespace

void process_arp(packet& p, const snapshot& s, worker_context& w) {
    arp_fields f;
    uint8_t* a = p.l3();
    if (!parse_arp(a, p.l3_len(), f) || is_multicast_mac(f.sender_mac.data())) [[unlikely]] {
        w.drop(p, drop_reason::arp_malformed);
        return;
    }
    const port_info& port = s.port(p.in_port);
    const bool from_host = p.in_port == s.host_port;
    if (f.op == arp::op_reply) {
        w.punt_copy(p);  // the resolver learns from it
        p.verdict = k_verdict_consumed;
        return;
    }
    // From the host kernel every address is reached through us, except for its own
    // checks: gratuitous ARP (target == sender) and RFC 5227 probes (sender 0.0.0.0).
    const bool for_us = from_host ? f.target_ip != f.sender_ip && f.sender_ip != 0
                                  : s.is_our_address4(p.in_port, f.target_ip) ||
                                        // NAT public addresses live on the uplink (proxy ARP)
                                        (port.role == port_role::uplink && s.nat.enabled &&
                                         s.nat.public_lookup.find(f.target_ip) != flat_map::k_missing);
    if (!for_us) {
        w.drop(p, drop_reason::arp_not_for_us);
        return;
    }
    if (!from_host && f.sender_ip != 0 && in_connected_prefix(port, f.sender_ip)) {
        w.punt_copy(p);  // learn the requester's mapping too (RFC 826 merge)
    }
    // Turn the request into the reply in place.
    store16(a + arp::op, arp::op_reply);
    std::memcpy(a + arp::tha, a + arp::sha, 10);  // target := sender (MAC + IP)
    std::memcpy(a + arp::sha, port.mac.data(), 6);
    store32(a + arp::spa, f.target_ip);
    reflect_ethernet(p, port.mac);
    p.verdict = p.in_port;
    w.counters.arp_replies_sent.add();
}

uint32_t build_arp_request(uint8_t* out, const mac_bytes& src_mac, uint32_t src_ip, uint32_t target_ip,
                           const uint8_t* target_mac) {
    static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    std::memcpy(out + eth::dst, target_mac ? target_mac : broadcast, 6);
    std::memcpy(out + eth::src, src_mac.data(), 6);
    store16(out + 12, eth::type_arp);
    uint8_t* a = out + eth::header_len;
    store16(a + arp::htype, 1);
    store16(a + arp::ptype, eth::type_ipv4);
    a[arp::hlen] = 6;
    a[arp::plen] = 4;
    store16(a + arp::op, arp::op_request);
    std::memcpy(a + arp::sha, src_mac.data(), 6);
    store32(a + arp::spa, src_ip);
    std::memset(a + arp::tha, 0, 6);
    store32(a + arp::tpa, target_ip);
    return eth::header_len + arp::len;
}

}  // namespace eg::dp
