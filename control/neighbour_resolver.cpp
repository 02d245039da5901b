#include "control/neighbour_resolver.hpp"

#include <cstring>

#include "dataplane/arp.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/nd.hpp"

namespace eg::ctl {

namespace {

bool in_prefix4(uint32_t prefix_addr, uint8_t len, uint32_t addr) {
    const uint32_t mask = len ? ~uint32_t{0} << (32 - len) : 0;
    return ((prefix_addr ^ addr) & mask) == 0;
}

/// Our source address for talking to `target` on `port`: one in the same prefix.
uint32_t source4_for(const dp::port_info& port, uint32_t target) {
    for (const auto& a : port.ipv4) {
        if (in_prefix4(a.addr, a.prefix_len, target)) {
            return a.addr;
        }
    }
    return port.ipv4.empty() ? 0 : port.ipv4.front().addr;
}

bool on_link4(const dp::port_info& port, uint32_t addr) {
    for (const auto& a : port.ipv4) {
        if (in_prefix4(a.addr, a.prefix_len, addr)) {
            return true;
        }
    }
    return false;
}

}  // namespace

neighbour_resolver::neighbour_resolver(dp::neighbour_table& table, const cfg::neighbour_config& cfg, send_fn send)
    : table_(table), cfg_(cfg), send_(std::move(send)) {}

void neighbour_resolver::on_punted(const dp::frame_message& m, const dp::snapshot& s, uint64_t now_ms) {
    if (m.port >= s.ports.size() || m.len < dp::eth::header_len) {
        return;
    }
    if (m.kind == dp::frame_message::unresolved) {
        key k{m.port, m.next_hop_v6, {}};
        std::memcpy(std::get<2>(k).data(), m.next_hop, m.next_hop_v6 ? 16 : 4);
        entry& e = entries_[k];
        pending_frame f{std::vector<uint8_t>(m.data, m.data + m.len), m.offload};
        if (e.resolved) {  // learned after the worker looked: send now
            std::memcpy(f.data.data(), e.mac.data(), 6);
            send_(m.port, f.data, f.offload);
            ++stats_.released;
            return;
        }
        if (e.queue.size() >= cfg_.queue_per_neighbour) {
            ++stats_.queue_drops;
            return;
        }
        e.queue.push_back(std::move(f));
        ++stats_.queued;
        if (e.probes == 0) {
            probe(s, k, e, now_ms);
        }
        return;
    }
    // Learning: parse the Ethernet payload (skipping any VLAN tags).
    uint32_t off = 12;
    uint16_t type = dp::load16(m.data + off);
    while ((type == dp::eth::type_vlan || type == dp::eth::type_qinq) && off + 6u <= m.len) {
        off += 4;
        type = dp::load16(m.data + off);
    }
    const uint8_t* l3 = m.data + off + 2;
    const uint32_t l3_len = m.len - (off + 2);
    if (type == dp::eth::type_arp) {
        dp::arp_fields f;
        if (!dp::parse_arp(l3, l3_len, f) || f.sender_ip == 0) {
            return;
        }
        if (!on_link4(s.port(m.port), f.sender_ip) || s.is_our_address4(m.port, f.sender_ip)) {
            return;  // never learn off-link senders or our own addresses
        }
        uint8_t a[4];
        dp::store32(a, f.sender_ip);
        // A reply confirms any neighbour; a request only refreshes or creates the
        // requester's entry (it was asking for us, so it is talking to us).
        learn(s, m.port, false, a, f.sender_mac, now_ms, false);
    } else if (type == dp::eth::type_ipv6) {
        dp::ipv6_bytes addr;
        dp::mac_bytes mac;
        if (dp::parse_nd_learn(l3, l3_len, addr, mac) && !s.is_our_address6(m.port, addr.data())) {
            learn(s, m.port, true, addr.data(), mac, now_ms, false);
        }
    }
}

void neighbour_resolver::learn(const dp::snapshot&, uint16_t port, bool v6, const uint8_t* addr,
                               const dp::mac_bytes& mac, uint64_t now_ms, bool only_if_known) {
    key k{port, v6, {}};
    std::memcpy(std::get<2>(k).data(), addr, v6 ? 16 : 4);
    auto it = entries_.find(k);
    if (it == entries_.end()) {
        if (only_if_known) {
            return;
        }
        it = entries_.emplace(k, entry{}).first;
    }
    entry& e = it->second;
    const dp::neighbour_key nk = v6 ? dp::neighbour_key::ipv6(port, addr)
                                    : dp::neighbour_key::ipv4(port, dp::load32(addr));
    if (!table_.set(nk, mac)) {
        ++stats_.table_full;
        return;
    }
    if (!e.resolved) {
        ++stats_.resolved;
    }
    e.resolved = true;
    e.mac = mac;
    e.confirmed_ms = now_ms;
    e.probes = 0;
    ++stats_.learned;
    release_queue(e, port);
}

void neighbour_resolver::release_queue(entry& e, uint16_t port) {
    for (auto& f : e.queue) {
        std::memcpy(f.data.data(), e.mac.data(), 6);  // destination MAC
        send_(port, f.data, f.offload);
        ++stats_.released;
    }
    e.queue.clear();
}

void neighbour_resolver::probe(const dp::snapshot& s, const key& k, entry& e, uint64_t now_ms) {
    const auto& [port_index, v6, addr] = k;
    const dp::port_info& port = s.port(port_index);
    uint8_t frame[128];
    uint32_t len = 0;
    const uint8_t* unicast = e.resolved ? e.mac.data() : nullptr;  // refresh: ask it directly
    if (v6) {
        len = dp::build_neighbour_solicitation(frame, port, s.source_address6(port_index).data(), addr.data(),
                                               unicast);
    } else {
        const uint32_t target = dp::load32(addr.data());
        len = dp::build_arp_request(frame, port.mac, source4_for(port, target), target, unicast);
    }
    send_(port_index, std::span<const uint8_t>(frame, len), dp::offload_info{});
    e.last_probe_ms = now_ms;
    ++e.probes;
    ++stats_.requests_sent;
}

void neighbour_resolver::on_tick(const dp::snapshot& s, uint64_t now_ms) {
    const uint64_t reachable_ms = uint64_t{cfg_.reachable_s} * 1000;
    for (auto it = entries_.begin(); it != entries_.end();) {
        const key& k = it->first;
        entry& e = it->second;
        const uint16_t port = std::get<0>(k);
        if (port >= s.ports.size()) {  // the port went away with a new snapshot
            it = entries_.erase(it);
            continue;
        }
        const bool due = now_ms - e.last_probe_ms >= cfg_.retransmit_ms;
        if (!e.resolved) {
            if (due) {
                if (e.probes >= cfg_.max_probes) {
                    stats_.queue_drops += e.queue.size();
                    ++stats_.failed;
                    it = entries_.erase(it);
                    continue;
                }
                probe(s, k, e, now_ms);
            }
        } else if (now_ms - e.confirmed_ms >= reachable_ms * 3 / 4) {
            // Refresh before expiry; forget it if it stays silent (RFC 4861 §7.3 in spirit).
            if (e.probes >= cfg_.max_probes && due) {
                const auto& addr = std::get<2>(k);
                table_.erase(std::get<1>(k) ? dp::neighbour_key::ipv6(port, addr.data())
                                             : dp::neighbour_key::ipv4(port, dp::load32(addr.data())));
                ++stats_.expired;
                it = entries_.erase(it);
                continue;
            }
            if (due) {
                probe(s, k, e, now_ms);
            }
        }
        ++it;
    }
}

}  // namespace eg::ctl
