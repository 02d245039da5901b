// The WireGuard data path (see wireguard.hpp).
#include "dataplane/wireguard.hpp"

#include <cstring>
#include <span>

#include "crypto/messages.hpp"
#include "crypto/transport.hpp"
#include "dataplane/checksum.hpp"
#include "dataplane/ethernet.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/ipv4_forward.hpp"
#include "dataplane/ipv6_forward.hpp"
#include "dataplane/offload_checksum.hpp"
#include "dataplane/wg_outer.hpp"
#include "dataplane/wireguard_state.hpp"

namespace eg::dp {

namespace {

/// At most one want_handshake event per peer in this interval: the control thread's
/// timers rate-limit initiations to one per REKEY_TIMEOUT anyway.
constexpr uint64_t k_handshake_ask_interval_ns = 1'000'000'000ULL;

drop_reason drop_for(crypto::transport_error e) {
    switch (e) {
    case crypto::transport_error::replayed:
        return drop_reason::wg_replayed;
    case crypto::transport_error::key_expired:
    case crypto::transport_error::counter_exhausted:
        return drop_reason::wg_key_expired;
    case crypto::transport_error::wrong_receiver:
        return drop_reason::wg_unknown_index;
    case crypto::transport_error::authentication_failed:
    case crypto::transport_error::crypto_failure:
        return drop_reason::wg_authentication_failed;
    default:
        return drop_reason::wg_malformed;
    }
}

/// Tells the control thread about a peer (through the punt ring, as a tiny frame).
void emit_event(worker_context& w, wg_event::kind_t kind, uint32_t slot) {
    frame_message* m = w.punt.reserve();
    if (!m) {
        w.counters.drop(drop_reason::punt_ring_full);
        return;
    }
    const wg_event e{kind, slot};
    m->kind = frame_message::wireguard_event;
    m->port = 0;
    m->len = sizeof e;
    std::memcpy(m->data, &e, sizeof e);
    w.punt.commit();
    w.counters.punted.add();
}

void ask_for_handshake(worker_context& w, wireguard_state::peer& peer, uint32_t slot) {
    if (peer.handshake_asked_ns == 0 || w.now_ns - peer.handshake_asked_ns >= k_handshake_ask_interval_ns) {
        peer.handshake_asked_ns = w.now_ns;
        emit_event(w, wg_event::want_handshake, slot);
    }
}

/// No keypair can send yet: the inner packet waits for the handshake (a keepalive has
/// nothing to say without a session and is dropped).
void stage(packet& p, worker_context& w, uint32_t slot, uint32_t inner_len) {
    if (inner_len == 0) {
        wg_peer_telemetry::bump(w.wg->telemetry(slot).drop_no_keypair);
        w.drop(p, drop_reason::wg_no_keypair);
        return;
    }
    const wg_staging::outcome r = w.wg->staging().stage(slot, std::span<const uint8_t>(p.l3(), inner_len), w.now_ns);
    wireguard_count_staging_losses(w, slot, r.evicted, r.expired);
    if (!r.staged) {
        wg_peer_telemetry::bump(w.wg->telemetry(slot).drop_no_keypair);
        w.drop(p, drop_reason::wg_no_keypair);
        return;
    }
    w.counters.wg_staged.add();
    p.verdict = k_verdict_consumed;
}

/// Seals the `inner_len` bytes at p.l3() (0: keepalive) and wraps them in IPv4/UDP or
/// IPv6/UDP to the peer's endpoint (its family); routes the result. p.l3() - buf must
/// leave room for the outer headers and p the tailroom for padding and tag (checked).
void seal_and_route(packet& p, const snapshot& s, worker_context& w, uint32_t slot, uint32_t inner_len) {
    wireguard_state& st = *w.wg;
    wireguard_state::peer* peer = st.find_peer(slot);
    if (peer == nullptr || !s.wg.has_peer(slot)) [[unlikely]] {
        w.drop(p, drop_reason::wg_no_keypair);
        return;
    }
    wg_peer_telemetry& tm = st.telemetry(slot);
    crypto::keypair* kp = peer->keys.current();
    if (kp == nullptr || kp->expired(w.now_ns)) [[unlikely]] {
        ask_for_handshake(w, *peer, slot);
        stage(p, w, slot, inner_len);
        return;
    }
    if (inner_len != 0 && st.staging().staged(slot) != 0) [[unlikely]] {
        // Older packets wait for the flush at the end of this iteration (a responder's
        // keypair was just confirmed): this one goes behind them, in order.
        stage(p, w, slot, inner_len);
        st.staging().mark_ready(slot);
        return;
    }
    const wg_tunnel& tun = s.wg.tunnels[s.wg.peer_tunnel[slot]];
    if (kp->wants_rekey_on_send(w.now_ns) || (kp->initiator() && kp->age(w.now_ns) >= tun.rekey_after_ns))
        [[unlikely]] {
        ask_for_handshake(w, *peer, slot);  // keep sending on this one meanwhile
    }
    const wg_endpoint& to = peer->endpoint;
    const bool outer6 = !to.is_v4();
    if (!to.known() || (outer6 && !tun.has_addr6)) [[unlikely]] {
        w.drop(p, drop_reason::wg_no_endpoint);
        return;
    }
    const size_t sealed = crypto::sealed_size(inner_len, tun.mtu);
    uint8_t* inner = p.l3();
    uint8_t* msg = inner - crypto::k_transport_header_size;
    uint8_t* ip = msg - wg_outer_size(to);
    const size_t tail_needed = sealed - crypto::k_transport_header_size - inner_len;
    if (ip - eth::header_len < p.buf || static_cast<size_t>(p.buf + p.buf_size - inner) < inner_len + tail_needed)
        [[unlikely]] {
        w.drop(p, drop_reason::wg_no_room);
        return;
    }
    size_t written = 0;
    const crypto::transport_error e =
        kp->seal(std::span<const uint8_t>(inner, inner_len), std::span<uint8_t>(msg, sealed), w.now_ns, written, tun.mtu);
    if (e != crypto::transport_error::ok) [[unlikely]] {
        if (e == crypto::transport_error::key_expired || e == crypto::transport_error::counter_exhausted) {
            ask_for_handshake(w, *peer, slot);
        }
        w.drop(p, drop_for(e));
        return;
    }
    const uint32_t total = write_wg_outer(ip, tun.addr, tun.addr6.data(), tun.listen_port, to, static_cast<uint32_t>(written),
                                          static_cast<uint16_t>(kp->send_counter()));

    p.data = ip - eth::header_len;
    p.l3_offset = eth::header_len;
    p.len = eth::header_len + total;
    p.ether_type = outer6 ? eth::type_ipv6 : eth::type_ipv4;
    p.vlan_tci = 0;
    p.offload = offload_info{};
    p.nat_op = 0;

    wg_peer_telemetry::bump(tm.tx_bytes, written);
    wg_peer_telemetry::bump(tm.tx_packets);
    tm.last_tx_ns.store(w.now_ns, std::memory_order_relaxed);
    if (inner_len) {
        tm.last_data_tx_ns.store(w.now_ns, std::memory_order_relaxed);
    }
    w.counters.wg_encrypted.add();
    if (outer6) {
        route_outer_ipv6(p, s, w);
    } else {
        route_outer_ipv4(p, s, w);
    }
}

/// An IPv6 source the endpoint may roam to (IPv4 martians never pass validate_ipv4,
/// multicast sources never pass classify_ipv6): not link-local (no scope to send back
/// with) and not in ::/64, which holds ::, ::1 and the IPv4-mapped ::ffff:0:0/96 (that
/// would turn the peer into an IPv4 one at an address that never sent to us) and
/// nothing routable.
bool roamable_source6(const uint8_t* a) {
    uint64_t prefix64 = 0;
    std::memcpy(&prefix64, a, 8);
    return prefix64 != 0 && !ipv6::is_link_local(a);
}

/// The UDP checksum of a received message, as the kernel's UDP socket would check it:
/// the AEAD and mac1 cover the message, but not the ports and addresses around it, and
/// a corrupted source in an authentic message would move the peer's endpoint there.
/// Not summed again when the receiver verified it (csum_valid) or when the frame never
/// left this host (needs_csum: the sender left it to offload). IPv4 may go without one
/// (0, RFC 768); IPv6 may not (RFC 8200 §8.1).
bool udp_checksum_acceptable(const packet& p, const uint8_t* ip, const uint8_t* udp, uint32_t udp_len, bool outer6) {
    if (p.offload.csum_valid | p.offload.needs_csum) {
        return true;
    }
    if (raw16(udp + 6) == 0) {
        return !outer6;
    }
    return checksum(udp, udp_len, pseudo_header_sum_of(ip, outer6, proto::udp, udp_len)) == 0;
}

/// The inner IPv6 header holds together and may be routed (RFC 8200, RFC 4291 scopes).
bool inner_ipv6_ok(const uint8_t* ip, uint32_t avail, uint32_t& total) {
    if (avail < ipv6::header_len) {
        return false;
    }
    total = ipv6::header_len + load16(ip + ipv6::payload_len);
    const uint8_t* src = ip + ipv6::src;
    const uint8_t* dst = ip + ipv6::dst;
    return total <= avail && src[0] != 0xff && dst[0] != 0xff && !ipv6::is_link_local(src) && !ipv6::is_link_local(dst);
}

}  // namespace

uint16_t wireguard_listener(const packet& p, const snapshot& s) {
    const uint8_t* ip = p.l3();
    if (ip[ipv4::proto] != proto::udp) {
        return k_no_wg_tunnel;
    }
    const uint32_t ihl = (ip[ipv4::ver_ihl] & 0xf) * 4u;
    if (load16(ip + ipv4::total_len) < ihl + k_wg_udp_header) {
        return k_no_wg_tunnel;
    }
    return s.wg.listener(load32(ip + ipv4::dst), load16(ip + ihl + 2));
}

uint16_t wireguard_listener6(const packet& p, const snapshot& s) {
    // classify_ipv6 checked the payload length against the frame. Only UDP right after
    // the fixed header: WireGuard's peers send nothing else.
    const uint8_t* ip = p.l3();
    if (ip[ipv6::next_header] != proto::udp || load16(ip + ipv6::payload_len) < k_wg_udp_header) {
        return k_no_wg_tunnel;
    }
    return s.wg.listener6(ip + ipv6::dst, load16(ip + ipv6::header_len + 2));
}

wg_rx wireguard_receive(packet& p, const snapshot& s, worker_context& w, uint16_t t) {
    uint8_t* ip = p.l3();
    const bool outer6 = p.ether_type == eth::type_ipv6;
    uint8_t* udp = nullptr;
    uint32_t udp_room = 0;  // what the IP header says follows it
    if (outer6) {
        if (!roamable_source6(ip + ipv6::src)) [[unlikely]] {
            w.drop(p, drop_reason::wg_unroutable_source);
            return wg_rx::consumed;
        }
        udp = ip + ipv6::header_len;
        udp_room = load16(ip + ipv6::payload_len);
    } else {
        const uint32_t ihl = (ip[ipv4::ver_ihl] & 0xf) * 4u;
        if ((load16(ip + ipv4::frag) & (ipv4::frag_offset_mask | ipv4::flag_mf)) != 0) [[unlikely]] {
            w.drop(p, drop_reason::wg_fragmented);  // WireGuard keeps its messages within the path MTU
            return wg_rx::consumed;
        }
        udp = ip + ihl;
        udp_room = load16(ip + ipv4::total_len) - ihl;  // wireguard_listener: total_len >= ihl + 8
    }
    const uint32_t udp_len = load16(udp + 4);
    if (udp_len < k_wg_udp_header || udp_len > udp_room || w.wg == nullptr) [[unlikely]] {
        w.drop(p, drop_reason::wg_malformed);
        return wg_rx::consumed;
    }
    if (!udp_checksum_acceptable(p, ip, udp, udp_len, outer6)) [[unlikely]] {
        w.drop(p, drop_reason::wg_bad_udp_checksum);
        return wg_rx::consumed;
    }
    uint8_t* msg = udp + k_wg_udp_header;
    const uint32_t msg_len = udp_len - k_wg_udp_header;
    crypto::message_type type{};
    if (crypto::peek_type(std::span<const uint8_t>(msg, msg_len), type) != crypto::parse_error::ok) [[unlikely]] {
        w.drop(p, drop_reason::wg_malformed);
        return wg_rx::consumed;
    }
    if (type != crypto::message_type::transport) {
        // Handshake initiation/response or cookie reply: the control thread's business.
        // It checks sizes and mac1 before anything costly.
        if (w.punt_frame(p, frame_message::wireguard, p.in_port, false, nullptr)) {
            w.counters.wg_handshakes_punted.add();
        }
        p.verdict = k_verdict_consumed;
        return wg_rx::consumed;
    }
    if (msg_len < crypto::k_transport_min_size) [[unlikely]] {
        w.drop(p, drop_reason::wg_malformed);
        return wg_rx::consumed;
    }
    const uint32_t index = crypto::load_le32(msg + 4);
    if (!wireguard_at_owner(p, w, index)) {
        return wg_rx::consumed;
    }
    wireguard_state& st = *w.wg;
    uint32_t slot = 0;
    crypto::keypair* kp = st.find_keypair(index, slot);
    if (kp == nullptr || !s.wg.has_peer(slot) || s.wg.peer_tunnel[slot] != t) [[unlikely]] {
        w.drop(p, drop_reason::wg_unknown_index);
        return wg_rx::consumed;
    }
    wireguard_state::peer& peer = *st.find_peer(slot);
    wg_peer_telemetry& tm = st.telemetry(slot);
    std::span<uint8_t> plain;
    const crypto::transport_error e = kp->open(std::span<uint8_t>(msg, msg_len), w.now_ns, plain);
    if (e != crypto::transport_error::ok) [[unlikely]] {
        if (e == crypto::transport_error::replayed) {
            wg_peer_telemetry::bump(tm.drop_replayed);
        } else if (e == crypto::transport_error::authentication_failed) {
            wg_peer_telemetry::bump(tm.drop_auth);
        }
        w.drop(p, drop_for(e));
        return wg_rx::consumed;
    }
    // Authenticated: the keypair may be confirmed, and the endpoint follows the peer.
    crypto::peer_keypairs::dropped gone;
    if (peer.keys.received_with(kp, &gone)) {
        st.forget(gone);
        st.staging().mark_ready(slot);  // the responder may send now: flush what waited
        emit_event(w, wg_event::keypair_confirmed, slot);
    }
    // The initiator's last-minute rekey (kernel receive.c keep_key_fresh).
    if (kp->initiator() && kp->age(w.now_ns) >= crypto::k_rekey_on_receive_age) [[unlikely]] {
        ask_for_handshake(w, peer, slot);
    }
    const uint16_t sport = load16(udp);
    const wg_endpoint from = outer6 ? wg_endpoint::v6(ip + ipv6::src, sport) : wg_endpoint::v4(load32(ip + ipv4::src), sport);
    if (!(from == peer.endpoint)) [[unlikely]] {
        peer.endpoint = from;
        tm.endpoint.store(from);
    }
    wg_peer_telemetry::bump(tm.rx_bytes, msg_len);
    wg_peer_telemetry::bump(tm.rx_packets);
    tm.last_rx_ns.store(w.now_ns, std::memory_order_relaxed);
    if (plain.empty()) {
        w.counters.wg_keepalives_received.add();
        p.verdict = k_verdict_consumed;
        return wg_rx::consumed;
    }
    tm.last_data_rx_ns.store(w.now_ns, std::memory_order_relaxed);

    // The inner packet: its real length (padding trimmed), and cryptokey routing's
    // check that the peer may send from its source.
    uint8_t* inner = plain.data();
    const uint32_t avail = static_cast<uint32_t>(plain.size());
    const uint8_t version = inner[0] >> 4;
    uint32_t inner_len = 0;
    uint32_t owner = k_lpm_no_route;
    uint16_t ether_type = 0;
    if (version == 4 && avail >= ipv4::min_header_len) {
        inner_len = load16(inner + ipv4::total_len);
        owner = s.wg.allowed4.lookup(load32(inner + ipv4::src));
        ether_type = eth::type_ipv4;
    } else if (version == 6 && inner_ipv6_ok(inner, avail, inner_len)) {
        owner = s.wg.allowed6.lookup(inner + ipv6::src);
        ether_type = eth::type_ipv6;
    }
    if (ether_type == 0 || inner_len > avail || inner_len == 0) [[unlikely]] {
        w.drop(p, drop_reason::wg_bad_inner_packet);
        return wg_rx::consumed;
    }
    if (owner != slot) [[unlikely]] {
        wg_peer_telemetry::bump(tm.drop_not_allowed);
        w.drop(p, drop_reason::wg_source_not_allowed);
        return wg_rx::consumed;
    }
    w.counters.wg_decrypted.add();
    // Re-frame in place: an Ethernet header to our own MAC on the receiving port, so a
    // hand-over to another worker parses it like any frame from that port.
    const mac_bytes& mac = s.port(p.in_port).mac;
    p.data = inner - eth::header_len;
    p.len = eth::header_len + inner_len;
    p.l3_offset = eth::header_len;
    p.vlan_tci = 0;
    p.offload = offload_info{};
    p.nat_op = 0;
    write_ethernet(p, mac.data(), mac.data(), ether_type);
    p.ether_type = ether_type;
    if (ether_type == eth::type_ipv4) {
        return validate_ipv4(p, w) ? wg_rx::inner4 : wg_rx::consumed;
    }
    return wg_rx::inner6;
}

bool wireguard_at_owner(packet& p, worker_context& w, uint32_t slot) {
    const uint32_t n = w.workers();
    if (n == 1) [[likely]] {
        return true;
    }
    const uint32_t owner = slot % n;
    if (owner == w.self()) {
        return true;
    }
    w.hand_off(p, owner);
    return false;
}

void wireguard_send(packet& p, const snapshot& s, worker_context& w, uint32_t slot) {
    const uint16_t t = slot < s.wg.peer_tunnel.size() ? s.wg.peer_tunnel[slot] : k_no_wg_tunnel;
    if (t == k_no_wg_tunnel || w.wg == nullptr) [[unlikely]] {
        w.drop(p, drop_reason::wg_no_keypair);
        return;
    }
    const bool v6 = p.ether_type == eth::type_ipv6;
    const wg_tunnel& tun = s.wg.tunnels[t];
    if (tun.mss_clamp) {
        clamp_tcp_mss(p, v6, static_cast<uint16_t>(tun.mtu - (v6 ? 60 : 40)));
    }
    // The far end cannot finish a checksum the sender left to offload (offsets that
    // reach into the IP header are refused there: see offload_checksum.hpp).
    complete_l4_checksum(p);
    const uint32_t inner_len = v6 ? ipv6::header_len + load16(p.l3() + ipv6::payload_len)
                                  : load16(p.l3() + ipv4::total_len);
    seal_and_route(p, s, w, slot, inner_len);
}

void wireguard_forward(packet& p, const snapshot& s, worker_context& w, uint32_t slot) {
    if (p.offload.gso_type != offload_info::gso_none) [[unlikely]] {
        p.nat_ref = slot;
        p.verdict = k_verdict_tunnel_segments;
        return;
    }
    wireguard_send(p, s, w, slot);
}

void wireguard_send_keepalive(packet& p, const snapshot& s, worker_context& w, uint32_t slot) {
    // An empty message: "inner" starts where the larger outer headers (IPv6) would end.
    p.l3_offset = static_cast<uint16_t>(eth::header_len + k_wg_outer6 + crypto::k_transport_header_size);
    p.len = p.l3_offset;
    p.ether_type = eth::type_ipv4;
    seal_and_route(p, s, w, slot, 0);
}

void wireguard_count_staging_losses(worker_context& w, uint32_t slot, uint32_t evicted, uint32_t expired) {
    if (evicted | expired) [[unlikely]] {
        wg_peer_telemetry::bump(w.wg->telemetry(slot).drop_no_keypair, evicted + expired);
        w.counters.drops[reason_index(drop_reason::wg_staging_full)].add(evicted);
        w.counters.drops[reason_index(drop_reason::wg_staged_too_long)].add(expired);
    }
}

void wireguard_send_staged(packet& p, const snapshot& s, worker_context& w, uint32_t slot,
                           std::span<const uint8_t> ip) {
    // The packet was checked, clamped and completed by wireguard_send before it was
    // staged: only the framing is new.
    if (p.tailroom() < eth::header_len + ip.size()) [[unlikely]] {
        w.drop(p, drop_reason::wg_no_room);
        return;
    }
    p.l3_offset = eth::header_len;
    p.len = static_cast<uint32_t>(eth::header_len + ip.size());
    p.ether_type = (ip[0] >> 4) == 6 ? eth::type_ipv6 : eth::type_ipv4;
    p.offload = offload_info{};
    std::memcpy(p.l3(), ip.data(), ip.size());
    seal_and_route(p, s, w, slot, static_cast<uint32_t>(ip.size()));
}

void clamp_tcp_mss(packet& p, bool v6, uint16_t max_mss) {
    uint8_t* ip = p.l3();
    uint32_t l4 = 0;
    uint32_t total = 0;
    if (v6) {
        if (ip[ipv6::next_header] != proto::tcp) {
            return;
        }
        l4 = ipv6::header_len;
        total = ipv6::header_len + load16(ip + ipv6::payload_len);
    } else {
        if (ip[ipv4::proto] != proto::tcp || (load16(ip + ipv4::frag) & ipv4::frag_offset_mask) != 0) {
            return;
        }
        l4 = (ip[ipv4::ver_ihl] & 0xf) * 4u;
        total = load16(ip + ipv4::total_len);
    }
    if (total < l4 + 20 || total > p.l3_len()) {
        return;
    }
    uint8_t* tcp = ip + l4;
    constexpr uint8_t k_syn = 0x02;
    if (!(tcp[13] & k_syn)) {
        return;
    }
    const uint32_t header = (tcp[12] >> 4) * 4u;
    if (header < 20 || l4 + header > total) {
        return;
    }
    for (uint32_t i = 20; i < header;) {
        const uint8_t kind = tcp[i];
        if (kind == 0) {
            return;  // end of options
        }
        if (kind == 1) {
            ++i;  // no-op
            continue;
        }
        if (i + 1 >= header || tcp[i + 1] < 2 || i + tcp[i + 1] > header) {
            return;
        }
        if (kind == 2 && tcp[i + 1] == 4) {
            const uint16_t mss = load16(tcp + i + 2);
            if (mss > max_mss) {
                uint16_t old_word = raw16(tcp + i + 2);
                store16(tcp + i + 2, max_mss);
                uint16_t new_word = raw16(tcp + i + 2);
                if (i & 1) {
                    // After an odd number of NOPs the value straddles two of the
                    // checksum's 16-bit words: its bytes count swapped (RFC 1071 §2(B)).
                    old_word = __builtin_bswap16(old_word);
                    new_word = __builtin_bswap16(new_word);
                }
                // A partial (offloaded) checksum sums the options later by itself.
                if (!p.offload.needs_csum) {
                    put_raw16(tcp + 16, checksum_update16(raw16(tcp + 16), old_word, new_word));
                }
            }
            return;
        }
        i += tcp[i + 1];
    }
}

}  // namespace eg::dp
