#include "dataplane/pipeline.hpp"

#include "dataplane/arp.hpp"
#include "dataplane/ethernet.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/ipv4_forward.hpp"
#include "dataplane/ipv6_forward.hpp"
#include "dataplane/nat44.hpp"
#include "dataplane/wireguard.hpp"

namespace eg::dp {

namespace {

/// UDP to port 67 in an IPv4 header that holds together (DHCP/BOOTP, RFC 2131 §4.1).
bool is_dhcp_request(const packet& p) {
    const uint8_t* ip = p.l3();
    const uint32_t avail = p.l3_len();
    if (avail < ipv4::min_header_len + 8 || (ip[ipv4::ver_ihl] >> 4) != 4 || ip[ipv4::proto] != proto::udp) {
        return false;
    }
    const uint32_t ihl = (ip[ipv4::ver_ihl] & 0xf) * 4u;
    return ihl >= ipv4::min_header_len && ihl + 8 <= avail &&
           (load16(ip + ipv4::frag) & (ipv4::frag_offset_mask | ipv4::flag_mf)) == 0 && load16(ip + ihl + 2) == 67;
}

/// NAT44 steps 2 (nat44.hpp) for the burst's IPv4 packets: one bulk session lookup,
/// then each packet's decision and the address it is routed by. Packets dropped here
/// leave v4 (compacted in place).
void decide_nat(packet** v4, uint32_t* v4_dst, uint32_t& n4, const flow_key* keys, const uint8_t* at,
                uint32_t n_keys, const snapshot& s, worker_context& w) {
    uint32_t ids[k_max_burst];
    uint32_t session_of[k_max_burst];
    for (uint32_t j = 0; j < n4; ++j) {
        session_of[j] = k_no_session;
    }
    w.nat->burst_begin();
    if (n_keys) {
        w.nat->table().lookup_bulk(keys, n_keys, ids, nullptr);
        bool missed = false;
        for (uint32_t k = 0; k < n_keys; ++k) {
            session_of[at[k]] = ids[k];
            missed |= ids[k] == k_no_session;
        }
        if (missed) [[unlikely]] {
            nat44_prepare_new_sessions(v4, at, keys, ids, n_keys, w);
        }
    }
    uint32_t kept = 0;
    for (uint32_t j = 0; j < n4; ++j) {
        packet& p = *v4[j];
        uint32_t dst = v4_dst[j];
        if (p.nat_op != 0 && !nat44_decide(p, s, w, session_of[j], dst)) {
            continue;
        }
        v4[kept] = &p;
        v4_dst[kept] = dst;
        ++kept;
    }
    n4 = kept;
}

}  // namespace

void process_burst(burst& b, const snapshot& s, worker_context& w) {
    packet* v4[k_max_burst];
    uint32_t v4_dst[k_max_burst];
    uint32_t v4_nh[k_max_burst];
    uint32_t n4 = 0;
    packet* v6[k_max_burst];
    const uint8_t* v6_dst[k_max_burst];
    uint32_t v6_nh[k_max_burst];
    uint32_t n6 = 0;

    // NAT44: keys of the packets that need a session lookup, and where they sit in v4.
    const bool nat = s.nat.enabled && w.nat != nullptr;
    const bool wg = s.wg.enabled && w.wg != nullptr;
    flow_key nat_keys[k_max_burst];
    uint8_t nat_at[k_max_burst];
    uint32_t n_nat = 0;

    // A decrypted packet is routed as it is (never translated), by its inner family.
    const auto route_decrypted = [&](wg_rx r, packet& p) {
        if (r == wg_rx::inner4) {
            v4[n4] = &p;
            v4_dst[n4] = load32(p.l3() + ipv4::dst);
            ++n4;
        } else if (r == wg_rx::inner6) {
            v6[n6] = &p;
            v6_dst[n6] = p.l3() + ipv6::dst;
            ++n6;
        }
    };

    const uint16_t n = b.count;
    for (uint16_t i = 0; i < n; ++i) {
        if (i + 2 < n) {
            __builtin_prefetch(b.pkts[i + 2]->data);
        }
        packet& p = *b.pkts[i];
        p.verdict = k_verdict_none;
        p.nat_op = 0;
        if (!parse_ethernet(p, s.port(p.in_port).mac, w.counters)) [[unlikely]] {
            continue;
        }
        switch (p.ether_type) {
        case eth::type_ipv4:
            if (s.port(p.in_port).dhcp_server && is_dhcp_request(p)) [[unlikely]] {
                // Before validation: a client without an address sends from 0.0.0.0, a
                // martian source everywhere else. The server checks the rest.
                w.punt_dhcp(p);
                p.verdict = k_verdict_consumed;
                break;
            }
            if (validate_ipv4(p, w)) [[likely]] {
                if (wg) [[unlikely]] {
                    const uint16_t t = wireguard_listener(p, s);
                    if (t != k_no_wg_tunnel) {
                        // Before NAT: the listen socket may be on a masquerade address.
                        route_decrypted(wireguard_receive(p, s, w, t), p);
                        break;
                    }
                }
                if (nat) {
                    bool lookup = false;
                    if (!nat44_classify(p, s, w, nat_keys[n_nat], lookup)) {
                        break;
                    }
                    if (lookup) {
                        nat_at[n_nat++] = static_cast<uint8_t>(n4);
                    }
                }
                v4[n4] = &p;
                v4_dst[n4] = load32(p.l3() + ipv4::dst);
                ++n4;
            }
            break;
        case eth::type_ipv6:
            if (classify_ipv6(p, s, w)) [[likely]] {
                if (wg) [[unlikely]] {
                    const uint16_t t = wireguard_listener6(p, s);
                    if (t != k_no_wg_tunnel) {
                        route_decrypted(wireguard_receive(p, s, w, t), p);
                        break;
                    }
                }
                v6[n6] = &p;
                v6_dst[n6] = p.l3() + ipv6::dst;
                ++n6;
            }
            break;
        case eth::type_arp:
            process_arp(p, s, w);
            break;
        default:
            w.drop(p, drop_reason::eth_unknown_ethertype);
            break;
        }
    }
    if (nat && n4) {
        decide_nat(v4, v4_dst, n4, nat_keys, nat_at, n_nat, s, w);
    }
    if (n4) {
        s.routes4.lookup_bulk(v4_dst, v4_nh, n4);
        forward_ipv4_burst(v4, v4_nh, n4, s, w);
    }
    if (n6) {
        s.routes6.lookup_bulk(v6_dst, v6_nh, n6);
        for (uint32_t j = 0; j < n6; ++j) {
            forward_ipv6(*v6[j], s, w, v6_nh[j]);
        }
    }
}

}  // namespace eg::dp
