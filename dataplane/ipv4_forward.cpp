#include "dataplane/ipv4_forward.hpp"

#include "dataplane/checksum.hpp"
#include "dataplane/ethernet.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/nat44.hpp"
#include "dataplane/wireguard.hpp"

namespace eg::dp {

namespace {

/// Bytes of the largest IP packet this one puts on the wire: a GSO super-packet is
/// cut into segments of headers + gso_size.
uint32_t wire_ip_size(const packet& p, const uint8_t* ip, uint32_t ihl) {
    const uint32_t total = load16(ip + ipv4::total_len);
    if (p.offload.gso_type == offload_info::gso_none) [[likely]] {
        return total;
    }
    uint32_t l4_header = 8;  // UDP
    if (ip[ipv4::proto] == proto::tcp && total >= ihl + 20) {
        l4_header = (ip[ihl + 12] >> 4) * 4u;
    }
    return std::min(total, ihl + l4_header + p.offload.gso_size);
}

void send_error(packet& p, const snapshot& s, worker_context& w, uint8_t type, uint8_t code, uint32_t rest) {
    if (make_icmp4_error(p, w, type, code, rest, s.source_address4(p.in_port))) {
        route_originated_ipv4(p, s, w);
    }  // else p was dropped with the reason make_icmp_error counted
}

/// Resolves the next hop and writes the Ethernet header; unresolved goes to the
/// control thread, which queues it and resolves. Always inline: every forwarded packet
/// ends here, and the call's register saves cost more than its few steps.
[[gnu::always_inline]] inline void transmit(packet& p, const snapshot& s, worker_context& w, const next_hop& hop,
                                            uint32_t dst) {
    const port_info& out = s.port(hop.port);
    uint8_t mac[6];
    if (hop.port == s.host_port) {
        write_ethernet(p, s.host_kernel_mac.data(), out.mac.data(), eth::type_ipv4);
        p.verdict = hop.port;
        return;
    }
    const uint32_t target = hop.via_gateway ? hop.gateway4 : dst;
    if (!w.resolve4(hop.port, target, mac)) [[unlikely]] {
        uint8_t addr[4] = {static_cast<uint8_t>(target >> 24), static_cast<uint8_t>(target >> 16),
                           static_cast<uint8_t>(target >> 8), static_cast<uint8_t>(target)};
        // Ethernet header written now; the resolver fills in the destination MAC.
        write_ethernet(p, out.mac.data(), out.mac.data(), eth::type_ipv4);
        w.punt_unresolved(p, hop.port, false, addr);
        p.verdict = k_verdict_consumed;
        return;
    }
    write_ethernet(p, mac, out.mac.data(), eth::type_ipv4);
    p.verdict = hop.port;
}

void deliver_local(packet& p, const snapshot& s, worker_context& w) {
    uint8_t* ip = p.l3();
    const uint32_t ihl = (ip[ipv4::ver_ihl] & 0xf) * 4u;
    const uint32_t total = load16(ip + ipv4::total_len);
    const bool first_fragment_whole = (load16(ip + ipv4::frag) & (ipv4::frag_offset_mask | ipv4::flag_mf)) == 0;
    if (ip[ipv4::proto] == proto::icmp && first_fragment_whole && total >= ihl + 8 &&
        ip[ihl] == icmp4::echo_request && p.in_port != s.host_port) {
        if (checksum(ip + ihl, total - ihl) != 0) {
            w.drop(p, drop_reason::icmp_malformed);
            return;
        }
        make_echo_reply4(p);
        w.counters.echo_replies_sent.add();
        route_originated_ipv4(p, s, w);
        return;
    }
    if (s.host_port != k_no_port && p.in_port != s.host_port) {
        w.counters.to_host.add();
        transmit(p, s, w, next_hop{s.host_port}, 0);
        return;
    }
    w.drop(p, drop_reason::ipv4_local_unhandled);
}

}  // namespace

bool validate_ipv4_slow(packet& p, worker_context& w) {
    const uint32_t avail = p.l3_len();
    if (avail < ipv4::min_header_len) [[unlikely]] {
        w.drop(p, drop_reason::ipv4_truncated);
        return false;
    }
    const uint8_t* ip = p.l3();
    if ((ip[ipv4::ver_ihl] >> 4) != 4) [[unlikely]] {
        w.drop(p, drop_reason::ipv4_bad_version);
        return false;
    }
    const uint32_t ihl = (ip[ipv4::ver_ihl] & 0xf) * 4u;
    if (ihl < ipv4::min_header_len || ihl > avail) [[unlikely]] {
        w.drop(p, drop_reason::ipv4_bad_ihl);
        return false;
    }
    const uint32_t total = load16(ip + ipv4::total_len);
    if (total < ihl || total > avail) [[unlikely]] {
        w.drop(p, drop_reason::ipv4_bad_total_length);
        return false;
    }
    const bool csum_ok = ihl == ipv4::min_header_len ? ipv4_header_checksum_ok20(ip) : checksum(ip, ihl) == 0;
    if (!csum_ok) [[unlikely]] {
        w.drop(p, drop_reason::ipv4_bad_checksum);
        return false;
    }
    const uint32_t src = load32(ip + ipv4::src);
    // RFC 1812 §5.3.7: martian sources (0/8, 127/8, multicast, limited broadcast).
    if ((src >> 24) == 0 || (src >> 24) == 127 || (src >> 28) >= 0xe) [[unlikely]] {
        w.drop(p, drop_reason::ipv4_bad_source);
        return false;
    }
    p.len = p.l3_offset + total;  // drop Ethernet padding
    return true;
}

namespace {

/// Finishes forwarding one packet after the route lookup. Always inline into the burst
/// loop: every forwarded packet comes here, and a call per packet cost more (register
/// saves and restores) than the checks it makes on the usual packet.
[[gnu::always_inline]] inline void forward_ipv4(packet& p, const snapshot& s, worker_context& w, uint32_t nh) {
    uint8_t* ip = p.l3();
    if (nh == k_lpm_no_route) [[unlikely]] {
        w.counters.drop(drop_reason::ipv4_no_route);
        send_error(p, s, w, icmp4::dest_unreachable, icmp4::code_net_unreachable, 0);
        return;
    }
    if (nh == k_nh_local) {
        deliver_local(p, s, w);
        return;
    }
    const uint32_t dst = load32(ip + ipv4::dst);
    if ((dst >> 28) >= 0xe) [[unlikely]] {  // multicast and broadcast are not forwarded
        w.drop(p, drop_reason::eth_not_for_us);
        return;
    }
    if (ip[ipv4::ttl] <= 1) [[unlikely]] {
        w.counters.drop(drop_reason::ipv4_ttl_exceeded);
        send_error(p, s, w, icmp4::time_exceeded, icmp4::code_ttl_in_transit, 0);
        return;
    }
    const next_hop& hop = s.next_hops[nh];
    const bool tunnel = hop.wg_peer != k_no_wg_peer;
    if (tunnel && !wireguard_at_owner(p, w, hop.wg_peer)) [[unlikely]] {
        return;  // handed, untouched, to the worker that owns the peer
    }
    const uint32_t mtu = tunnel ? s.wg.tunnels[s.wg.peer_tunnel[hop.wg_peer]].mtu : s.port(hop.port).mtu;
    const uint32_t ihl = (ip[ipv4::ver_ihl] & 0xf) * 4u;
    bool fragment = false;
    if (wire_ip_size(p, ip, ihl) > mtu) [[unlikely]] {
        // DF set (path-MTU discovery, RFC 1191), or a super-packet whose segments are
        // too big: tell the sender. Otherwise the worker fragments it (RFC 1812 §5.2.7).
        if ((load16(ip + ipv4::frag) & ipv4::flag_df) || p.offload.gso_type != offload_info::gso_none) {
            w.counters.drop(drop_reason::ipv4_frag_needed);
            send_error(p, s, w, icmp4::dest_unreachable, icmp4::code_frag_needed, mtu & 0xffff);
            return;
        }
        fragment = true;
    }
    if (tunnel) [[unlikely]] {
        // No NAT into a tunnel: its peers reach VMs by their own addresses.
        ipv4_decrement_ttl(ip);
        w.counters.forwarded_ipv4.add();
        if (fragment) [[unlikely]] {
            // Fragmented before encryption, as a kernel stack does in front of a wg
            // device: each fragment is its own transport message.
            p.nat_ref = hop.wg_peer;
            p.verdict = k_verdict_tunnel_fragments;
            return;
        }
        wireguard_forward(p, s, w, hop.wg_peer);
        return;
    }
    uint32_t out_dst = dst;
    if (p.nat_op != 0) {
        // After the checks above, so their ICMP errors quote the untranslated packet.
        const nat_apply_result r = nat44_apply(p, s, w, hop.port);
        if (r != nat_apply_result::ok) [[unlikely]] {
            if (r == nat_apply_result::refuse_admin) {
                w.counters.drop(drop_reason::nat_egress_refused);
                send_error(p, s, w, icmp4::dest_unreachable, icmp4::code_admin_prohibited, 0);
            }
            return;
        }
        out_dst = load32(ip + ipv4::dst);
    }
    ipv4_decrement_ttl(ip);
    w.counters.forwarded_ipv4.add();
    transmit(p, s, w, hop, out_dst);
    if (fragment && p.verdict == hop.port) [[unlikely]] {
        p.verdict |= k_verdict_fragment;
    }
}

}  // namespace

void forward_ipv4_burst(packet* const* pkts, const uint32_t* nh, uint32_t n, const snapshot& s, worker_context& w) {
    for (uint32_t i = 0; i < n; ++i) {
        forward_ipv4(*pkts[i], s, w, nh[i]);
    }
}

void route_originated_ipv4(packet& p, const snapshot& s, worker_context& w) {
    const uint32_t dst = load32(p.l3() + ipv4::dst);
    const uint32_t nh = s.routes4.lookup(dst);
    if (nh == k_lpm_no_route || nh == k_nh_local) {
        w.drop(p, drop_reason::ipv4_no_route);
        return;
    }
    const next_hop& hop = s.next_hops[nh];
    if (hop.wg_peer != k_no_wg_peer) [[unlikely]] {
        // An echo reply or ICMP error to a tunnel peer. Such replies answer what the
        // peer sent, which arrived at its owner: here, unless handed over (then dropped).
        const uint32_t n = w.workers();
        if (n > 1 && hop.wg_peer % n != w.self()) {
            w.drop(p, drop_reason::wg_no_keypair);
            return;
        }
        if (load16(p.l3() + ipv4::total_len) > s.wg.tunnels[s.wg.peer_tunnel[hop.wg_peer]].mtu) {
            w.drop(p, drop_reason::wg_too_big);
            return;
        }
        wireguard_send(p, s, w, hop.wg_peer);
        return;
    }
    if (load16(p.l3() + ipv4::total_len) > s.port(hop.port).mtu) [[unlikely]] {
        w.drop(p, drop_reason::ipv4_frag_needed);  // e.g. a jumbo echo reply to a smaller link
        return;
    }
    transmit(p, s, w, hop, dst);
}

void route_outer_ipv4(packet& p, const snapshot& s, worker_context& w) {
    const uint32_t dst = load32(p.l3() + ipv4::dst);
    const uint32_t nh = s.routes4.lookup(dst);
    if (nh == k_lpm_no_route || nh == k_nh_local) [[unlikely]] {
        w.drop(p, drop_reason::ipv4_no_route);
        return;
    }
    const next_hop& hop = s.next_hops[nh];
    if (hop.wg_peer != k_no_wg_peer) [[unlikely]] {
        w.drop(p, drop_reason::wg_routing_loop);
        return;
    }
    if (load16(p.l3() + ipv4::total_len) > s.port(hop.port).mtu) [[unlikely]] {
        w.drop(p, drop_reason::ipv4_frag_needed);
        return;
    }
    transmit(p, s, w, hop, dst);
}

}  // namespace eg::dp
