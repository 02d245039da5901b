#include "dataplane/ipv6_forward.hpp"

#include <cstring>

#include "dataplane/checksum.hpp"
#include "dataplane/ethernet.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/wireguard.hpp"
#include "dataplane/nd.hpp"

namespace eg::dp {

namespace {

uint32_t wire_ip_size(const packet& p, const uint8_t* ip) {
    const uint32_t total = ipv6::header_len + load16(ip + ipv6::payload_len);
    if (p.offload.gso_type == offload_info::gso_none) [[likely]] {
        return total;
    }
    // Segments carry every header up to the L4 payload; csum_start marks the L4 header.
    // Offsets come from the sender's virtio header: trust them only inside the packet.
    uint32_t l4_start = ipv6::header_len;
    if (p.offload.needs_csum && p.offload.csum_start >= p.l3_offset + ipv6::header_len &&
        p.offload.csum_start < p.l3_offset + total) {
        l4_start = p.offload.csum_start - p.l3_offset;
    }
    uint32_t l4_header = 8;
    if (p.offload.gso_type == offload_info::gso_tcpv6 && total >= l4_start + 20) {
        l4_header = (ip[l4_start + 12] >> 4) * 4u;
    }
    return std::min(total, l4_start + l4_header + p.offload.gso_size);
}

void send_error(packet& p, const snapshot& s, worker_context& w, uint8_t type, uint8_t code, uint32_t rest) {
    if (make_icmp6_error(p, w, type, code, rest, s.source_address6(p.in_port).data())) {
        route_originated_ipv6(p, s, w);
    }  // else p was dropped with the reason make_icmp_error counted
}

void transmit(packet& p, const snapshot& s, worker_context& w, const next_hop& hop, const uint8_t* dst) {
    const port_info& out = s.port(hop.port);
    if (hop.port == s.host_port) {
        write_ethernet(p, s.host_kernel_mac.data(), out.mac.data(), eth::type_ipv6);
        p.verdict = hop.port;
        return;
    }
    const uint8_t* target = hop.via_gateway ? hop.gateway6.data() : dst;
    uint8_t mac[6];
    if (!w.resolve6(hop.port, target, mac)) [[unlikely]] {
        uint8_t addr[16];
        std::memcpy(addr, target, 16);
        write_ethernet(p, out.mac.data(), out.mac.data(), eth::type_ipv6);
        w.punt_unresolved(p, hop.port, true, addr);
        p.verdict = k_verdict_consumed;
        return;
    }
    write_ethernet(p, mac, out.mac.data(), eth::type_ipv6);
    p.verdict = hop.port;
}

/// To a VM's bound /128: the binding names the port and the MAC (no neighbour lookup).
void transmit_to_vm(packet& p, const snapshot& s, const vm6_binding& vm) {
    write_ethernet(p, vm.mac.data(), s.port(vm.port).mac.data(), eth::type_ipv6);
    p.verdict = vm.port;
}

/// IPv6 anti-spoofing on a vm port: a global source must be bound to the sender's MAC
/// on this port. Link-local sources pass: they only ever reach the gateway itself (RS,
/// NS, echo), as forward_ipv6 never forwards them.
bool source_bound(const packet& p, const snapshot& s, const uint8_t* src) {
    if (ipv6::is_link_local(src)) {
        return true;
    }
    const vm6_binding* vm = s.vm6.find(src);
    return vm != nullptr && vm->port == p.in_port && std::memcmp(vm->mac.data(), p.data + 6, 6) == 0;
}

void deliver_local(packet& p, const snapshot& s, worker_context& w) {
    uint8_t* ip = p.l3();
    const uint32_t payload = load16(ip + ipv6::payload_len);
    if (ip[ipv6::next_header] == proto::icmpv6 && payload >= 8 && ip[ipv6::header_len] == icmp6::echo_request &&
        p.in_port != s.host_port) {
        if (icmp6_checksum(ip, payload) != 0) {
            w.drop(p, drop_reason::icmp_malformed);
            return;
        }
        make_echo_reply6(p);
        w.counters.echo_replies_sent.add();
        route_originated_ipv6(p, s, w);
        return;
    }
    if (s.host_port != k_no_port && p.in_port != s.host_port) {
        w.counters.to_host.add();
        transmit(p, s, w, next_hop{s.host_port}, nullptr);
        return;
    }
    w.drop(p, drop_reason::ipv6_local_unhandled);
}

}  // namespace

bool classify_ipv6(packet& p, const snapshot& s, worker_context& w) {
    if (p.l3_len() < ipv6::header_len) [[unlikely]] {
        w.drop(p, drop_reason::ipv6_truncated);
        return false;
    }
    uint8_t* ip = p.l3();
    if ((ip[0] >> 4) != 6) [[unlikely]] {
        w.drop(p, drop_reason::ipv6_bad_version);
        return false;
    }
    const uint32_t payload = load16(ip + ipv6::payload_len);
    if (ipv6::header_len + payload > p.l3_len() || (payload == 0 && ip[ipv6::next_header] == proto::hop_by_hop))
        [[unlikely]] {  // jumbograms (RFC 2675) are not supported
        w.drop(p, drop_reason::ipv6_bad_payload_length);
        return false;
    }
    p.len = p.l3_offset + ipv6::header_len + payload;  // drop Ethernet padding
    if (ip[ipv6::src] == 0xff) [[unlikely]] {  // RFC 4291 §2.7: never a source
        w.drop(p, drop_reason::ipv6_bad_source);
        return false;
    }
    const uint8_t* dst = ip + ipv6::dst;
    if (ip[ipv6::next_header] == proto::icmpv6 && payload >= 8) {
        const uint8_t type = ip[ipv6::header_len];
        if (type >= icmp6::router_solicitation && type <= icmp6::redirect) {
            process_nd(p, s, w);
            return false;
        }
    }
    if (dst[0] == 0xff) {  // other multicast (MLD, mDNS, …): nothing for a router here
        w.drop(p, drop_reason::eth_not_for_us);
        return false;
    }
    if (s.anti_spoofing6 && s.port(p.in_port).role == port_role::vm && !source_bound(p, s, ip + ipv6::src))
        [[unlikely]] {
        w.drop(p, drop_reason::ipv6_spoofed_source);
        return false;
    }
    if (ipv6::is_link_local(dst)) {
        // Link-local scope: ours or nobody's (never forwarded).
        if (s.is_our_address6(p.in_port, dst)) {
            forward_ipv6(p, s, w, k_nh_local);
        } else {
            w.drop(p, drop_reason::ipv6_no_route);
        }
        return false;
    }
    return true;
}

void forward_ipv6(packet& p, const snapshot& s, worker_context& w, uint32_t nh) {
    uint8_t* ip = p.l3();
    // A VM's bound /128 is the longest match there is; its /64 need not be routed here.
    const vm6_binding* vm = nh == k_nh_local ? nullptr : s.vm6.find(ip + ipv6::dst);
    if (nh == k_lpm_no_route && vm == nullptr) [[unlikely]] {
        w.counters.drop(drop_reason::ipv6_no_route);
        send_error(p, s, w, icmp6::dest_unreachable, icmp6::code_no_route, 0);
        return;
    }
    if (nh == k_nh_local) {
        deliver_local(p, s, w);
        return;
    }
    if (ipv6::is_link_local(ip + ipv6::src)) [[unlikely]] {
        // RFC 4291 §2.5.6: link-local sources must not be forwarded.
        w.drop(p, drop_reason::ipv6_bad_source);
        return;
    }
    if (ip[ipv6::hop_limit] <= 1) [[unlikely]] {
        w.counters.drop(drop_reason::ipv6_hop_limit_exceeded);
        send_error(p, s, w, icmp6::time_exceeded, 0, 0);
        return;
    }
    const next_hop hop = vm != nullptr ? next_hop{vm->port} : s.next_hops[nh];
    const bool tunnel = hop.wg_peer != k_no_wg_peer;
    if (tunnel && !wireguard_at_owner(p, w, hop.wg_peer)) [[unlikely]] {
        return;  // handed, untouched, to the worker that owns the peer
    }
    const uint32_t mtu = tunnel ? s.wg.tunnels[s.wg.peer_tunnel[hop.wg_peer]].mtu : s.port(hop.port).mtu;
    if (wire_ip_size(p, ip) > mtu) [[unlikely]] {
        w.counters.drop(drop_reason::ipv6_too_big);
        send_error(p, s, w, icmp6::packet_too_big, 0, mtu);
        return;
    }
    ip[ipv6::hop_limit] -= 1;  // no header checksum in IPv6
    w.counters.forwarded_ipv6.add();
    if (tunnel) [[unlikely]] {
        wireguard_forward(p, s, w, hop.wg_peer);
        return;
    }
    if (vm != nullptr) {
        transmit_to_vm(p, s, *vm);
        return;
    }
    uint8_t dst[16];
    std::memcpy(dst, ip + ipv6::dst, 16);
    transmit(p, s, w, hop, dst);
}

namespace {

/// The next hop of a packet the engine sends itself (no hop-limit decrement): a VM's
/// bound /128 first, as in forward_ipv6, then the table. False (dropped) without one.
bool own_next_hop6(packet& p, const snapshot& s, worker_context& w, const vm6_binding*& vm, next_hop& hop) {
    const uint8_t* dst = p.l3() + ipv6::dst;
    vm = s.vm6.find(dst);
    const uint32_t nh = vm != nullptr ? k_lpm_no_route : s.routes6.lookup(dst);
    if (vm == nullptr && (nh == k_lpm_no_route || nh == k_nh_local)) {
        w.drop(p, drop_reason::ipv6_no_route);
        return false;
    }
    hop = vm != nullptr ? next_hop{vm->port} : s.next_hops[nh];
    return true;
}

/// Sends a packet of the engine's own to a port-side next hop: it must fit the link
/// (routers never fragment IPv6; e.g. a jumbo echo reply to a smaller link).
void transmit_own6(packet& p, const snapshot& s, worker_context& w, const vm6_binding* vm, const next_hop& hop) {
    if (ipv6::header_len + load16(p.l3() + ipv6::payload_len) > s.port(hop.port).mtu) [[unlikely]] {
        w.drop(p, drop_reason::ipv6_too_big);
        return;
    }
    if (vm != nullptr) {
        transmit_to_vm(p, s, *vm);
        return;
    }
    uint8_t d[16];
    std::memcpy(d, p.l3() + ipv6::dst, 16);
    transmit(p, s, w, hop, d);
}

}  // namespace

void route_originated_ipv6(packet& p, const snapshot& s, worker_context& w) {
    const uint8_t* dst = p.l3() + ipv6::dst;
    if (ipv6::is_link_local(dst)) {
        // Replies to a link-local source go back out of the port they came in on.
        next_hop hop{p.in_port};
        uint8_t d[16];
        std::memcpy(d, dst, 16);
        transmit(p, s, w, hop, d);
        return;
    }
    const vm6_binding* vm = nullptr;
    next_hop hop;
    if (!own_next_hop6(p, s, w, vm, hop)) {
        return;
    }
    if (hop.wg_peer != k_no_wg_peer) [[unlikely]] {
        // An echo reply or ICMPv6 error to a tunnel peer (see route_originated_ipv4).
        const uint32_t n = w.workers();
        if ((n > 1 && hop.wg_peer % n != w.self()) ||
            ipv6::header_len + load16(p.l3() + ipv6::payload_len) > s.wg.tunnels[s.wg.peer_tunnel[hop.wg_peer]].mtu) {
            w.drop(p, drop_reason::wg_too_big);
            return;
        }
        wireguard_send(p, s, w, hop.wg_peer);
        return;
    }
    transmit_own6(p, s, w, vm, hop);
}

void route_outer_ipv6(packet& p, const snapshot& s, worker_context& w) {
    const vm6_binding* vm = nullptr;
    next_hop hop;
    if (!own_next_hop6(p, s, w, vm, hop)) [[unlikely]] {
        return;
    }
    if (hop.wg_peer != k_no_wg_peer) [[unlikely]] {
        w.drop(p, drop_reason::wg_routing_loop);
        return;
    }
    transmit_own6(p, s, w, vm, hop);
}

}  // namespace eg::dp
