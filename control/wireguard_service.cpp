// WireGuard on the control thread (see wireguard_service.hpp).
#include "control/wireguard_service.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "crypto/messages.hpp"
#include "crypto/x25519.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/wg_outer.hpp"
#include "dataplane/worker.hpp"

namespace eg::ctl {

namespace {

constexpr uint32_t k_command_ring_slots = 1024;
constexpr uint64_t k_ns_per_s = 1'000'000'000ULL;
/// Kernel ratelimiter.c: 20 handshake packets per second per source, bursts of 5.
constexpr uint64_t k_source_rate_per_s = 20;
constexpr uint64_t k_source_burst = 5;
constexpr size_t k_max_rate_entries = 1u << 16;
/// Health: with traffic going out, something authenticated must come back within
/// KEEPALIVE_TIMEOUT (10 s) plus slack; that is the tunnel's heartbeat.
constexpr uint64_t k_health_window_ns = 12 * k_ns_per_s;

uint32_t v4_of(const cfg::ip_address& a) {
    return uint32_t{a.bytes[0]} << 24 | uint32_t{a.bytes[1]} << 16 | uint32_t{a.bytes[2]} << 8 | a.bytes[3];
}

/// The config's address as the data plane holds endpoints.
dp::wg_endpoint endpoint_from(const cfg::ip_address& a, uint16_t port) {
    return a.v6 ? dp::wg_endpoint::v6(a.bytes.data(), port) : dp::wg_endpoint::v4(v4_of(a), port);
}

/// "a.b.c.d:port" or "[v6]:port", as wg show prints it.
std::string endpoint_text(const dp::wg_endpoint& e) {
    cfg::ip_address a;
    if (e.is_v4()) {
        a.bytes = {e.addr[12], e.addr[13], e.addr[14], e.addr[15]};
    } else {
        a.v6 = true;
        std::copy(e.addr.begin(), e.addr.end(), a.bytes.begin());
    }
    return cfg::to_string(cfg::listen_address{a, e.port});
}

uint64_t wall_ns() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

/// The source as cookies bind it: address bytes (4 or 16) then the big-endian port
/// (kernel cookie.c).
struct source_bytes {
    std::array<uint8_t, 18> bytes{};
    size_t size = 0;

    explicit source_bytes(const dp::wg_endpoint& e) {
        const size_t from = e.is_v4() ? 12 : 0;
        size = 16 - from;
        std::copy(e.addr.begin() + static_cast<std::ptrdiff_t>(from), e.addr.end(), bytes.begin());
        bytes[size++] = static_cast<uint8_t>(e.port >> 8);
        bytes[size++] = static_cast<uint8_t>(e.port);
    }
    std::span<const uint8_t> span() const { return {bytes.data(), size}; }
};

/// The rate limiter's key: an IPv4 address, or an IPv6 source's /64 (kernel
/// ratelimiter.c), which one host can fill with addresses. The two never meet: an
/// IPv6 /64 starting ffff:ffff: would be multicast, never a source.
uint64_t rate_key(const dp::wg_endpoint& e) {
    if (e.is_v4()) {
        return 0xffffffff00000000ULL | e.v4_addr();
    }
    uint64_t k = 0;
    for (size_t i = 0; i < 8; ++i) k = k << 8 | e.addr[i];
    return k;
}

}  // namespace

struct wireguard_service::tunnel {
    cfg::wireguard_config cfg;
    crypto::local_identity identity;
    crypto::cookie_checker cookies;
    uint32_t addr = 0;
    std::array<uint8_t, 16> addr6{};
    bool has_addr6 = false;
    uint64_t window_start_ns = 0;
    uint32_t window_count = 0;
    uint64_t under_load_until_ns = 0;
    std::unordered_map<std::string, uint32_t> by_key;  ///< raw public key bytes -> slot

    explicit tunnel(const cfg::wireguard_config& c)
        : cfg(c),
          identity(crypto::local_identity::from_private(c.private_key)),
          cookies(identity.static_keys.pub),
          addr(v4_of(c.address)) {
        if (c.address6) {
            addr6 = c.address6->bytes;
            has_addr6 = true;
        }
    }
};

struct wireguard_service::peer {
    uint32_t slot = 0;
    uint16_t tunnel = 0;
    cfg::wireguard_peer_config cfg;
    std::unique_ptr<crypto::handshake> hs;
    crypto::cookie_maker cookie;
    crypto::peer_timers timers;
    dp::wg_endpoint endpoint;  ///< last authenticated handshake's source, else config (port 0: none)
    uint64_t last_handshake_wall_ns = 0;
    uint64_t handshakes = 0;
    std::deque<uint32_t> indices;  ///< local indices we named for it, newest last
    // Telemetry already fed into the timers.
    uint64_t seen_tx = 0, seen_rx = 0, seen_data_tx = 0, seen_data_rx = 0;
    uint64_t idle_timeout_ns = 0;  ///< ephemeral: removed this long after the last handshake
    uint64_t created_ns = 0;
    uint64_t last_handshake_ns = 0;  ///< monotonic
    /// The slot's counters when this peer got it (a reused slot counts on).
    struct counts {
        uint64_t rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0;
        uint64_t not_allowed = 0, replayed = 0, auth = 0, no_keypair = 0;
    } base;

    peer(const crypto::local_identity& id, const cfg::wireguard_peer_config& c, uint64_t seed)
        : cfg(c),
          hs(std::make_unique<crypto::handshake>(id, c.public_key, c.has_preshared_key ? c.preshared_key : crypto::key32{})),
          cookie(c.public_key),
          timers(seed, uint64_t{c.persistent_keepalive_s} * k_ns_per_s) {}
};

wireguard_service::wireguard_service(const std::vector<cfg::wireguard_config>& tunnels, uint32_t workers, hooks h)
    : workers_(workers), hooks_(std::move(h)), telemetry_(new dp::wg_peer_telemetry[k_max_wireguard_peers]) {
    crypto::random_bytes(std::span<uint8_t>(reinterpret_cast<uint8_t*>(&seed_), sizeof seed_));
    // A packet waiting for a handshake is an inner packet: at most the largest MTU.
    uint32_t largest_mtu = 0;
    for (const auto& t : tunnels) {
        largest_mtu = std::max(largest_mtu, t.mtu);
    }
    for (uint32_t w = 0; w < workers_; ++w) {
        rings_.push_back(std::make_unique<dp::wg_command_ring>(k_command_ring_slots));
        states_.push_back(
            std::make_unique<dp::wireguard_state>(k_max_wireguard_peers, telemetry_.get(), *rings_[w], largest_mtu));
    }
    peers_.resize(k_max_wireguard_peers);
    for (size_t ti = 0; ti < tunnels.size(); ++ti) {
        tunnels_.push_back(std::make_unique<tunnel>(tunnels[ti]));
    }
    for (size_t ti = 0; ti < tunnels.size(); ++ti) {
        tunnel& t = *tunnels_[ti];
        for (const auto& pc : tunnels[ti].peers) {
            const uint32_t slot = alloc_slot(0);
            if (slot == k_max_wireguard_peers) {
                throw std::runtime_error("wireguard: more than " + std::to_string(k_max_wireguard_peers) + " peers");
            }
            auto p = std::make_unique<peer>(t.identity, pc, seed_ + slot);
            if (!p->hs->valid()) {
                throw std::runtime_error("wireguard." + t.cfg.name + ": peer " + pc.name +
                                         "'s public key gives a zero shared secret with ours; it can never handshake");
            }
            p->slot = slot;
            p->tunnel = static_cast<uint16_t>(ti);
            attach(std::move(p));
        }
    }
}

uint32_t wireguard_service::alloc_slot(uint64_t now) {
    if (never_used_ < k_max_wireguard_peers) {
        return never_used_++;
    }
    // A freed slot may still be named by a snapshot a worker holds for a moment: wait
    // well past any snapshot swap before it names someone else.
    constexpr uint64_t k_quarantine_ns = 5 * k_ns_per_s;
    for (size_t i = 0; i < freed_.size(); ++i) {
        if (now - freed_[i].second >= k_quarantine_ns) {
            const uint32_t slot = freed_[i].first;
            freed_.erase(freed_.begin() + static_cast<std::ptrdiff_t>(i));
            return slot;
        }
    }
    return k_max_wireguard_peers;
}

void wireguard_service::attach(std::unique_ptr<peer> p) {
    const dp::wg_peer_telemetry& tm = telemetry_[p->slot];
    p->base = {tm.rx_bytes.load(std::memory_order_relaxed),        tm.tx_bytes.load(std::memory_order_relaxed),
               tm.rx_packets.load(std::memory_order_relaxed),      tm.tx_packets.load(std::memory_order_relaxed),
               tm.drop_not_allowed.load(std::memory_order_relaxed), tm.drop_replayed.load(std::memory_order_relaxed),
               tm.drop_auth.load(std::memory_order_relaxed),       tm.drop_no_keypair.load(std::memory_order_relaxed)};
    p->seen_tx = tm.last_tx_ns.load(std::memory_order_relaxed);
    p->seen_rx = tm.last_rx_ns.load(std::memory_order_relaxed);
    p->seen_data_tx = tm.last_data_tx_ns.load(std::memory_order_relaxed);
    p->seen_data_rx = tm.last_data_rx_ns.load(std::memory_order_relaxed);
    if (p->cfg.endpoint) {
        p->endpoint = endpoint_from(*p->cfg.endpoint, p->cfg.endpoint_port);
    }
    tunnels_[p->tunnel]->by_key.emplace(std::string(p->cfg.public_key.begin(), p->cfg.public_key.end()), p->slot);
    dp::wg_command c;
    c.op = dp::wg_command::set_peer;
    c.slot = p->slot;
    c.tunnel = p->tunnel;
    c.endpoint = p->endpoint;
    command(c);
    peers_[p->slot] = std::move(p);
}

void wireguard_service::detach(uint32_t slot, uint64_t now) {
    peer& p = *peers_[slot];
    command(dp::wg_command::remove_peer, slot);
    tunnels_[p.tunnel]->by_key.erase(std::string(p.cfg.public_key.begin(), p.cfg.public_key.end()));
    for (uint32_t idx : p.indices) {
        index_to_slot_.erase(idx);
    }
    p.hs->clear();
    peers_[slot].reset();
    freed_.emplace_back(slot, now);
}

void wireguard_service::set_networks(std::vector<std::pair<cfg::ip_prefix, std::string>> no_overlap,
                                     std::vector<std::pair<cfg::ip_prefix, std::string>> no_equal,
                                     std::vector<cfg::ip_prefix> vm_networks) {
    no_overlap_ = std::move(no_overlap);
    no_equal_ = std::move(no_equal);
    vm_networks_ = std::move(vm_networks);
}

std::string wireguard_service::allowed_ip_conflict(const cfg::ip_prefix& a) const {
    for (const auto& [r, what] : no_overlap_) {
        if (cfg::overlaps(a, r)) return cfg::to_string(a) + " overlaps " + what;
    }
    for (const auto& [r, what] : no_equal_) {
        if (r == a) return cfg::to_string(a) + " is " + what;
    }
    for (const auto& p : peers_) {
        if (!p) continue;
        for (const auto& b : p->cfg.allowed_ips) {
            if (b == a) return cfg::to_string(a) + " is already an allowed IP of peer " + p->cfg.name;
        }
    }
    return {};
}

wireguard_add_result wireguard_service::add_peer(const wireguard_new_peer& np, uint64_t now, publish pub) {
    flush_initiations();
    using outcome = wireguard_add_result::outcome;
    const auto fail = [](outcome o, std::string m) {
        wireguard_add_result r;
        r.result = o;
        r.message = std::move(m);
        return r;
    };
    size_t ti = 0;
    if (!np.tunnel.empty()) {
        ti = tunnels_.size();
        for (size_t i = 0; i < tunnels_.size(); ++i) {
            if (tunnels_[i]->cfg.name == np.tunnel) ti = i;
        }
        if (ti == tunnels_.size()) return fail(outcome::not_found, "no tunnel named " + np.tunnel);
    }
    if (tunnels_.empty()) return fail(outcome::not_found, "no WireGuard tunnel is configured");
    if (np.ipv6_endpoint && np.public_key)
        return fail(outcome::bad_request, "an IPv6 endpoint shapes the wg_quick config of a generated keypair; "
                                          "with public_key there is none");
    if (np.ipv6_endpoint && !tunnels_[ti]->has_addr6)
        return fail(outcome::bad_request, "tunnel " + tunnels_[ti]->cfg.name + " does not listen on IPv6 (no address6)");
    if (np.allowed_ips.empty()) return fail(outcome::bad_request, "allowed_ips must name at least one prefix");
    for (const auto& a : np.allowed_ips) {
        if (!(cfg::network_of(a) == a)) return fail(outcome::bad_request, cfg::to_string(a) + " has host bits set");
        if (const auto why = allowed_ip_conflict(a); !why.empty()) return fail(outcome::conflict, why);
    }
    for (size_t i = 0; i < np.allowed_ips.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
            if (np.allowed_ips[i] == np.allowed_ips[j])
                return fail(outcome::bad_request, cfg::to_string(np.allowed_ips[i]) + " is listed twice");
        }
    }
    cfg::wireguard_peer_config pc;
    crypto::x25519_keypair generated{};
    const bool generate = !np.public_key.has_value();
    if (generate) {
        generated = crypto::x25519_generate();
        pc.public_key = generated.pub;
    } else {
        pc.public_key = *np.public_key;
    }
    for (const auto& t : tunnels_) {
        if (t->by_key.count(std::string(pc.public_key.begin(), pc.public_key.end())))
            return fail(outcome::conflict, "a peer with this public key exists already (tunnel " + t->cfg.name + ")");
    }
    pc.name = np.name.empty() ? cfg::encode_wg_key(pc.public_key) : np.name;
    pc.allowed_ips = np.allowed_ips;
    pc.persistent_keepalive_s = np.persistent_keepalive_s;
    if (np.generate_preshared_key) {
        crypto::random_bytes(pc.preshared_key);
        pc.has_preshared_key = true;
    } else if (np.preshared_key) {
        pc.preshared_key = *np.preshared_key;
        pc.has_preshared_key = true;
    }
    const uint32_t slot = alloc_slot(now);
    if (slot == k_max_wireguard_peers) {
        return fail(outcome::full, "all " + std::to_string(k_max_wireguard_peers) + " peer slots are in use");
    }
    tunnel& t = *tunnels_[ti];
    auto p = std::make_unique<peer>(t.identity, pc, seed_ + slot + now);
    if (!p->hs->valid()) {
        freed_.emplace_back(slot, 0);
        return fail(outcome::bad_request, "this public key gives a zero shared secret with ours; it can never handshake");
    }
    p->slot = slot;
    p->tunnel = static_cast<uint16_t>(ti);
    p->created_ns = now;
    p->idle_timeout_ns = uint64_t{np.idle_timeout_s} * k_ns_per_s;
    attach(std::move(p));
    if (pub == publish::now && hooks_.republish) hooks_.republish();

    wireguard_add_result r;
    r.public_key = cfg::encode_wg_key(pc.public_key);
    r.tunnel = t.cfg.name;
    if (pc.has_preshared_key) {
        r.preshared_key = pc.preshared_key;
        r.preshared_key_generated = np.generate_preshared_key;
    }
    if (generate) {
        const auto join = [](const std::vector<cfg::ip_prefix>& v) {
            std::string s;
            for (const auto& a : v) s += (s.empty() ? "" : ", ") + cfg::to_string(a);
            return s;
        };
        const std::vector<cfg::ip_prefix>& routes = np.routes.empty() ? vm_networks_ : np.routes;
        r.wg_quick = "[Interface]\n"
                     "# " + pc.name + " (generated by edgegated; keep this file secret)\n"
                     "PrivateKey = " + cfg::encode_wg_key(generated.priv) + "\n"
                     "Address = " + join(np.allowed_ips) + "\n\n"
                     "[Peer]\n"
                     "PublicKey = " + cfg::encode_wg_key(t.identity.static_keys.pub) + "\n" +
                     (pc.has_preshared_key ? "PresharedKey = " + cfg::encode_wg_key(pc.preshared_key) + "\n" : "") +
                     "Endpoint = " +
                     cfg::to_string(cfg::listen_address{np.ipv6_endpoint ? *t.cfg.address6 : t.cfg.address, t.cfg.listen_port}) +
                     "\n"
                     "AllowedIPs = " + join(routes) + "\n" +
                     (np.persistent_keepalive_s ? "PersistentKeepalive = " + std::to_string(np.persistent_keepalive_s) + "\n" : "");
        generated.wipe();
    }
    if (hooks_.log) hooks_.log("wireguard: peer " + pc.name + " added to " + t.cfg.name);
    return r;
}

bool wireguard_service::remove_peer(const cfg::wg_key& key) {
    flush_initiations();
    const std::string k(key.begin(), key.end());
    for (auto& t : tunnels_) {
        const auto it = t->by_key.find(k);
        if (it == t->by_key.end()) continue;
        const std::string name = peers_[it->second]->cfg.name;
        detach(it->second, dp::monotonic_ns());
        if (hooks_.republish) hooks_.republish();
        if (hooks_.log) hooks_.log("wireguard: peer " + name + " removed from " + t->cfg.name);
        return true;
    }
    return false;
}

wireguard_service::~wireguard_service() = default;

size_t wireguard_service::peer_count() const {
    return static_cast<size_t>(std::count_if(peers_.begin(), peers_.end(), [](const auto& p) { return p != nullptr; }));
}

std::string wireguard_service::public_key(size_t t) const {
    return cfg::encode_wg_key(tunnels_[t]->identity.static_keys.pub);
}

void wireguard_service::contribute(dp::snapshot& s) const {
    dp::wireguard_policy& wg = s.wg;
    wg.enabled = !tunnels_.empty();
    for (const auto& t : tunnels_) {
        wg.tunnels.push_back(dp::wg_tunnel{t->addr, t->addr6, t->has_addr6, t->cfg.listen_port,
                                           static_cast<uint16_t>(t->cfg.mtu), t->cfg.mss_clamp,
                                           uint64_t{t->cfg.rekey_after_time_s} * k_ns_per_s});
    }
    wg.peer_tunnel.assign(k_max_wireguard_peers, dp::k_no_wg_tunnel);
    for (const auto& p : peers_) {
        if (!p) {
            continue;
        }
        wg.peer_tunnel[p->slot] = p->tunnel;
        dp::next_hop nh;
        nh.wg_peer = p->slot;
        s.next_hops.push_back(nh);
        const uint32_t index = static_cast<uint32_t>(s.next_hops.size() - 1);
        for (const auto& a : p->cfg.allowed_ips) {
            if (a.addr.v6) {
                wg.allowed6.add(a.addr.bytes.data(), a.length, p->slot);
                s.routes6.add(a.addr.bytes.data(), a.length, index);
            } else {
                wg.allowed4.add(v4_of(a.addr), a.length, p->slot);
                s.routes4.add(v4_of(a.addr), a.length, index);
            }
        }
    }
}

void wireguard_service::command(dp::wg_command::op_t op, uint32_t slot) {
    dp::wg_command c;
    c.op = op;
    c.slot = slot;
    command(c);
}

void wireguard_service::set_endpoint(peer& p, const dp::wg_endpoint& e) {
    p.endpoint = e;
    dp::wg_command c;
    c.op = dp::wg_command::set_endpoint;
    c.slot = p.slot;
    c.endpoint = e;
    command(c);
}

void wireguard_service::command(const dp::wg_command& c) {
    const uint32_t w = c.slot % workers_;
    dp::wg_command* m = rings_[w]->reserve();
    if (m == nullptr) {
        // 1024 commands unread: the worker is stuck; a lost keypair only costs a handshake.
        if (hooks_.log) hooks_.log("wireguard: command ring of worker " + std::to_string(w) + " full; command dropped");
        return;
    }
    *m = c;
    rings_[w]->commit();
    if (hooks_.wake) hooks_.wake(w);
}

uint32_t wireguard_service::new_index(peer& p) {
    for (;;) {
        uint32_t idx = crypto::random_u32();
        idx = idx - idx % workers_ + p.slot % workers_;  // names the owner; wraps harmlessly
        if (idx % workers_ != p.slot % workers_ || index_to_slot_.count(idx)) {
            continue;
        }
        index_to_slot_[idx] = p.slot;
        p.indices.push_back(idx);
        // Three keypairs plus a handshake in flight is all a peer can have.
        while (p.indices.size() > 4) {
            index_to_slot_.erase(p.indices.front());
            p.indices.pop_front();
        }
        return idx;
    }
}

bool wireguard_service::endpoint_of(const peer& p, dp::wg_endpoint& e) const {
    const dp::wg_endpoint seen = telemetry_[p.slot].endpoint.load();
    e = seen.known() ? seen : p.endpoint;
    return e.known();
}

bool wireguard_service::send_udp(const tunnel& t, const dp::wg_endpoint& to, std::span<const uint8_t> payload) {
    if (!to.is_v4() && !t.has_addr6) {
        return false;
    }
    uint8_t frame[14 + dp::k_wg_outer6 + crypto::k_initiation_size] = {};
    uint8_t* ip = frame + 14;
    std::memcpy(ip + dp::wg_outer_size(to), payload.data(), payload.size());
    const uint32_t ip_len =
        dp::write_wg_outer(ip, t.addr, t.addr6.data(), t.cfg.listen_port, to, static_cast<uint32_t>(payload.size()), 0);
    hooks_.originate(std::span<const uint8_t>(frame, 14 + ip_len));
    return true;
}

bool wireguard_service::under_load(tunnel& t, uint64_t now) {
    if (now - t.window_start_ns >= k_ns_per_s) {
        t.window_start_ns = now;
        t.window_count = 0;
    }
    if (++t.window_count > t.cfg.under_load_handshakes_per_s) {
        t.under_load_until_ns = now + k_ns_per_s;  // stays under load a second after
    }
    return now < t.under_load_until_ns;
}

bool wireguard_service::source_allowed(const dp::wg_endpoint& from, uint64_t now) {
    constexpr uint64_t cost = k_ns_per_s;  // one packet, in token-nanoseconds per rate
    constexpr uint64_t cap = k_source_burst * k_ns_per_s;
    const uint64_t key = rate_key(from);
    auto it = rate_.find(key);
    if (it == rate_.end()) {
        if (rate_.size() >= k_max_rate_entries) {
            return false;  // a flood from very many sources: refuse new ones until the sweep
        }
        it = rate_.emplace(key, bucket{cap, now}).first;
    }
    bucket& b = it->second;
    b.tokens_ns = std::min(cap, b.tokens_ns + (now - b.last_ns) * k_source_rate_per_s);
    b.last_ns = now;
    if (b.tokens_ns < cost) {
        return false;
    }
    b.tokens_ns -= cost;
    return true;
}

void wireguard_service::on_frame(const dp::frame_message& m, uint64_t now) {
    // The worker checked Ethernet, IPv4 or IPv6, UDP and the listen socket; check what
    // we read.
    const uint8_t* f = m.data;
    if (m.len < 14 + 20 + 8) {
        ++counters_.malformed;
        return;
    }
    uint32_t l3 = 14;
    uint16_t type = dp::load16(f + 12);
    while ((type == dp::eth::type_vlan || type == dp::eth::type_qinq) && l3 + 4 + 20 + 8 <= m.len) {
        type = dp::load16(f + l3 + 2);
        l3 += 4;
    }
    const uint8_t* ip = f + l3;
    const uint8_t* udp = nullptr;
    if (type == dp::eth::type_ipv4) {
        const uint32_t ihl = (ip[0] & 0xf) * 4u;
        if (ihl >= 20 && l3 + ihl + 8 <= m.len) udp = ip + ihl;
    } else if (type == dp::eth::type_ipv6) {
        if (l3 + dp::ipv6::header_len + 8 <= m.len && ip[dp::ipv6::next_header] == dp::proto::udp)
            udp = ip + dp::ipv6::header_len;
    }
    if (udp == nullptr) {
        ++counters_.malformed;
        return;
    }
    const uint32_t udp_len = dp::load16(udp + 4);
    if (udp_len < 8 || static_cast<uint32_t>(udp - f) + udp_len > m.len) {
        ++counters_.malformed;
        return;
    }
    const bool v6 = type == dp::eth::type_ipv6;
    const uint16_t sport = dp::load16(udp);
    const uint16_t dport = dp::load16(udp + 2);
    const dp::wg_endpoint from =
        v6 ? dp::wg_endpoint::v6(ip + dp::ipv6::src, sport) : dp::wg_endpoint::v4(dp::load32(ip + dp::ipv4::src), sport);
    const std::span<const uint8_t> msg(udp + 8, udp_len - 8);
    tunnel* t = nullptr;
    for (auto& tp : tunnels_) {
        const bool ours = v6 ? tp->has_addr6 && std::memcmp(tp->addr6.data(), ip + dp::ipv6::dst, 16) == 0
                             : tp->addr == dp::load32(ip + dp::ipv4::dst);
        if (ours && tp->cfg.listen_port == dport) t = tp.get();
    }
    crypto::message_type mt{};
    if (t == nullptr || crypto::peek_type(msg, mt) != crypto::parse_error::ok) {
        ++counters_.malformed;
        return;
    }
    switch (mt) {
    case crypto::message_type::initiation:
        handle_initiation(*t, msg, from, now);
        break;
    case crypto::message_type::response:
        flush_initiations();  // a queued initiation from that peer would have come first
        handle_response(*t, msg, from, now);
        break;
    case crypto::message_type::cookie_reply:
        flush_initiations();
        handle_cookie_reply(msg, now);
        break;
    default:
        ++counters_.malformed;
        break;
    }
}

bool wireguard_service::admitted(tunnel& t, std::span<const uint8_t> msg, const dp::wg_endpoint& from, uint64_t now) {
    const source_bytes source(from);
    switch (t.cookies.validate(msg, source.span(), now, under_load(t, now))) {
    case crypto::cookie_checker::verdict::invalid_mac1:
        ++counters_.invalid_mac1;
        return false;
    case crypto::cookie_checker::verdict::need_cookie: {
        crypto::message_cookie_reply reply;
        t.cookies.create_reply(msg, source.span(), now, reply);
        std::array<uint8_t, crypto::k_cookie_reply_size> out;
        crypto::serialise(reply, out);
        send_udp(t, from, out);
        ++counters_.cookie_replies_sent;
        return false;
    }
    default:
        break;
    }
    if (!source_allowed(from, now)) {
        ++counters_.rate_limited;
        return false;
    }
    return true;
}

void wireguard_service::handle_initiation(tunnel& t, std::span<const uint8_t> msg, const dp::wg_endpoint& from,
                                          uint64_t now) {
    ++counters_.initiations_received;
    crypto::message_initiation init;
    if (msg.size() != crypto::k_initiation_size || crypto::parse(msg, init) != crypto::parse_error::ok) {
        ++counters_.malformed;
        return;
    }
    if (!admitted(t, msg, from, now)) {
        return;
    }
    // A batch answers for one identity: another tunnel's initiation ends it.
    if (queue_tunnel_ != &t) flush_initiations();
    queue_tunnel_ = &t;
    queue_.push_back({init, now});
    queue_source_.push_back(from);
    if (!hooks_.schedule_flush || queue_.size() == crypto::k_responder_batch_max) {
        flush_initiations();
    } else if (!flush_scheduled_) {
        flush_scheduled_ = true;
        hooks_.schedule_flush();
    }
}

/// respond_batch's view of the service: peers by static key, new indices, and what the
/// sequential handle_initiation did with each outcome.
class wireguard_service::batch_sink final : public crypto::responder_sink {
public:
    batch_sink(wireguard_service& s, tunnel& t) : s_(s), t_(t) {}

    crypto::handshake* find_peer(const crypto::public_key& remote_static) override {
        const auto it = t_.by_key.find(std::string(remote_static.begin(), remote_static.end()));
        if (it == t_.by_key.end() || !s_.peers_[it->second]) return nullptr;
        peer& p = *s_.peers_[it->second];
        found_.emplace_back(p.hs.get(), &p);
        return p.hs.get();
    }
    uint32_t new_index(crypto::handshake& hs) override { return s_.new_index(peer_of(hs)); }
    void done(size_t i, crypto::handshake_error e, crypto::handshake* hs, const crypto::message_response* resp) override {
        if (e != crypto::handshake_error::ok) {
            // unknown_peer comes only from the lookup (hs null); everything else is a
            // refusal of an initiation that was ours to judge.
            if (e == crypto::handshake_error::unknown_peer && hs == nullptr) {
                ++s_.counters_.unknown_peer;
            } else {
                ++s_.counters_.rejected;  // bad static, replayed timestamp, a flood from that peer, zero DH
            }
            return;
        }
        peer& p = peer_of(*hs);
        const uint64_t now = s_.queue_[i].now;
        const dp::wg_endpoint from = s_.queue_source_[i];
        std::array<uint8_t, crypto::k_response_size> out;
        crypto::serialise(*resp, out);
        p.cookie.add_macs(out, now);
        crypto::session_keys keys;
        if (p.hs->derive_keys(keys) != crypto::handshake_error::ok) {
            ++s_.counters_.rejected;
            return;
        }
        // The endpoint follows the authenticated initiation; then keys, then the response
        // (the worker has the keypair before the initiator can use it).
        s_.set_endpoint(p, from);
        s_.session_derived(p, keys, now);
        s_.send_udp(t_, from, out);
        ++s_.counters_.responses_sent;
        p.timers.on_authenticated_packet_received(now);
        p.timers.on_authenticated_packet_sent(now);
        p.timers.on_authenticated_packet_traversal(now);
    }

private:
    peer& peer_of(const crypto::handshake& hs) {
        for (const auto& [h, p] : found_)
            if (h == &hs) return *p;
        std::abort();  // respond_batch names only handshakes find_peer returned
    }

    wireguard_service& s_;
    tunnel& t_;
    std::vector<std::pair<const crypto::handshake*, peer*>> found_;
};

void wireguard_service::flush_initiations() {
    flush_scheduled_ = false;
    if (queue_.empty()) return;
    batch_sink sink(*this, *queue_tunnel_);
    crypto::respond_batch(queue_tunnel_->identity, queue_, sink);
    queue_.clear();
    queue_source_.clear();
}

void wireguard_service::handle_response(tunnel& t, std::span<const uint8_t> msg, const dp::wg_endpoint& from,
                                        uint64_t now) {
    ++counters_.responses_received;
    crypto::message_response resp;
    if (msg.size() != crypto::k_response_size || crypto::parse(msg, resp) != crypto::parse_error::ok) {
        ++counters_.malformed;
        return;
    }
    if (!admitted(t, msg, from, now)) {
        return;
    }
    const auto it = index_to_slot_.find(resp.receiver_index);
    if (it == index_to_slot_.end() || !peers_[it->second] || peers_[it->second]->hs->local_index() != resp.receiver_index) {
        ++counters_.unknown_peer;
        return;
    }
    peer& p = *peers_[it->second];
    if (p.hs->consume_response(resp) != crypto::handshake_error::ok) {
        ++counters_.rejected;
        return;
    }
    crypto::session_keys keys;
    if (p.hs->derive_keys(keys) != crypto::handshake_error::ok) {
        ++counters_.rejected;
        return;
    }
    set_endpoint(p, from);
    session_derived(p, keys, now);
    p.timers.on_handshake_complete(now);
    p.timers.on_authenticated_packet_received(now);
    p.timers.on_authenticated_packet_traversal(now);
    // The initiator confirms the session to the responder at once (whitepaper §6.3:
    // with nothing to send, a keepalive).
    command(dp::wg_command::send_keepalive, p.slot);
}

void wireguard_service::handle_cookie_reply(std::span<const uint8_t> msg, uint64_t now) {
    ++counters_.cookie_replies_received;
    crypto::message_cookie_reply reply;
    if (msg.size() != crypto::k_cookie_reply_size || crypto::parse(msg, reply) != crypto::parse_error::ok) {
        ++counters_.malformed;
        return;
    }
    const auto it = index_to_slot_.find(reply.receiver_index);
    if (it == index_to_slot_.end() || !peers_[it->second]) {
        ++counters_.unknown_peer;
        return;
    }
    // Never the endpoint: a cookie reply is not authenticated traffic.
    if (peers_[it->second]->cookie.consume_reply(reply, now) != crypto::cookie_maker::reply_error::ok) {
        ++counters_.rejected;
    }
}

void wireguard_service::session_derived(peer& p, crypto::session_keys& keys, uint64_t now) {
    dp::wg_command c;
    c.op = dp::wg_command::install_keypair;
    c.slot = p.slot;
    c.keys = keys;
    c.birth_ns = now;
    command(c);
    c.keys.wipe();
    keys.wipe();
    ++p.handshakes;
    ++counters_.completed;
    p.last_handshake_wall_ns = wall_ns();
    p.last_handshake_ns = now;
    p.timers.on_session_derived(now);
}

void wireguard_service::send_initiation(peer& p, uint64_t now) {
    dp::wg_endpoint to;
    if (!endpoint_of(p, to) || (!to.is_v4() && !tunnels_[p.tunnel]->has_addr6)) {
        return;  // we cannot initiate to a peer we have never heard from and have no endpoint for
    }
    crypto::message_initiation init;
    if (p.hs->create_initiation(new_index(p), wall_ns(), init) != crypto::handshake_error::ok) {
        return;
    }
    std::array<uint8_t, crypto::k_initiation_size> out;
    crypto::serialise(init, out);
    p.cookie.add_macs(out, now);
    send_udp(*tunnels_[p.tunnel], to, out);
    ++counters_.initiations_sent;
    p.timers.on_handshake_initiated(now);
    p.timers.on_authenticated_packet_sent(now);
    p.timers.on_authenticated_packet_traversal(now);
}

void wireguard_service::on_event(const dp::wg_event& e, uint64_t now) {
    flush_initiations();
    if (e.slot >= peers_.size() || !peers_[e.slot]) {
        return;
    }
    peer& p = *peers_[e.slot];
    switch (e.kind) {
    case dp::wg_event::want_handshake:
        if (p.timers.on_send_attempt(nullptr, now).has(crypto::timer_actions::send_initiation)) {
            send_initiation(p, now);
        }
        break;
    case dp::wg_event::keypair_confirmed:
        p.timers.on_handshake_complete(now);
        break;
    }
}

void wireguard_service::poll_telemetry(peer& p) {
    const dp::wg_peer_telemetry& tm = telemetry_[p.slot];
    const uint64_t data_tx = tm.last_data_tx_ns.load(std::memory_order_relaxed);
    const uint64_t tx = tm.last_tx_ns.load(std::memory_order_relaxed);
    const uint64_t data_rx = tm.last_data_rx_ns.load(std::memory_order_relaxed);
    const uint64_t rx = tm.last_rx_ns.load(std::memory_order_relaxed);
    // Replayed in time order of the last event of each kind: the timers only care
    // about the latest of each.
    if (tx != p.seen_tx) {
        p.timers.on_authenticated_packet_sent(tx);
        p.timers.on_authenticated_packet_traversal(tx);
        p.seen_tx = tx;
    }
    if (data_tx != p.seen_data_tx) {
        p.timers.on_data_sent(data_tx);
        p.seen_data_tx = data_tx;
    }
    if (rx != p.seen_rx) {
        p.timers.on_authenticated_packet_received(rx);
        p.timers.on_authenticated_packet_traversal(rx);
        p.seen_rx = rx;
    }
    if (data_rx != p.seen_data_rx) {
        p.timers.on_data_received(data_rx);
        p.seen_data_rx = data_rx;
    }
}

void wireguard_service::on_tick(uint64_t now) {
    flush_initiations();
    bool removed = false;
    for (auto& pp : peers_) {
        if (!pp) {
            continue;
        }
        peer& p = *pp;
        if (p.idle_timeout_ns && now - std::max(p.created_ns, p.last_handshake_ns) >= p.idle_timeout_ns) {
            // Ephemeral: no handshake for idle_timeout_s, so no one uses it; clean up.
            if (hooks_.log) {
                hooks_.log("wireguard: ephemeral peer " + p.cfg.name + " removed after " +
                           std::to_string(p.idle_timeout_ns / k_ns_per_s) + " s without a handshake");
            }
            const cfg::wg_key key = p.cfg.public_key;
            detach(p.slot, now);
            if (hooks_.idle_removed) hooks_.idle_removed(key);
            removed = true;
            continue;
        }
        poll_telemetry(p);
        if (p.timers.next_deadline() > now) {
            continue;
        }
        const crypto::timer_actions a = p.timers.poll(now);
        if (a.has(crypto::timer_actions::wipe_keys)) {
            p.hs->clear();
            command(dp::wg_command::clear_keys, p.slot);
        }
        if (a.has(crypto::timer_actions::send_initiation)) {
            send_initiation(p, now);
        }
        if (a.has(crypto::timer_actions::send_keepalive)) {
            command(dp::wg_command::send_keepalive, p.slot);
        }
        if (a.has(crypto::timer_actions::drop_staged)) {
            command(dp::wg_command::drop_staged, p.slot);  // the handshake gave up
        }
    }
    if (removed && hooks_.republish) {
        hooks_.republish();
    }
    if (now - rate_swept_ns_ >= k_ns_per_s) {
        // A bucket untouched for a second is full again: forget it.
        std::erase_if(rate_, [now](const auto& e) { return now - e.second.last_ns >= k_ns_per_s; });
        rate_swept_ns_ = now;
    }
}

std::vector<wireguard_peer_status> wireguard_service::status(uint64_t now) const {
    std::vector<wireguard_peer_status> out;
    for (const auto& pp : peers_) {
        if (!pp) {
            continue;
        }
        const peer& p = *pp;
        const dp::wg_peer_telemetry& tm = telemetry_[p.slot];
        wireguard_peer_status st;
        st.tunnel = tunnels_[p.tunnel]->cfg.name;
        st.name = p.cfg.name;
        st.public_key = cfg::encode_wg_key(p.cfg.public_key);
        for (const auto& a : p.cfg.allowed_ips) st.allowed_ips.push_back(cfg::to_string(a));
        dp::wg_endpoint e;
        if (endpoint_of(p, e)) st.endpoint = endpoint_text(e);
        st.last_handshake_unix_s = p.last_handshake_wall_ns / k_ns_per_s;
        st.rx_bytes = tm.rx_bytes.load(std::memory_order_relaxed) - p.base.rx_bytes;
        st.tx_bytes = tm.tx_bytes.load(std::memory_order_relaxed) - p.base.tx_bytes;
        st.rx_packets = tm.rx_packets.load(std::memory_order_relaxed) - p.base.rx_packets;
        st.tx_packets = tm.tx_packets.load(std::memory_order_relaxed) - p.base.tx_packets;
        st.drop_not_allowed = tm.drop_not_allowed.load(std::memory_order_relaxed) - p.base.not_allowed;
        st.drop_replayed = tm.drop_replayed.load(std::memory_order_relaxed) - p.base.replayed;
        st.drop_auth = tm.drop_auth.load(std::memory_order_relaxed) - p.base.auth;
        st.drop_no_keypair = tm.drop_no_keypair.load(std::memory_order_relaxed) - p.base.no_keypair;
        st.idle_timeout_s = p.idle_timeout_ns / k_ns_per_s;
        st.handshakes = p.handshakes;
        st.persistent_keepalive_s = p.cfg.persistent_keepalive_s;
        st.has_preshared_key = p.cfg.has_preshared_key;
        // Healthy: a session exists, and traffic we sent lately was answered within
        // the keepalive heartbeat (10 s + slack).
        const uint64_t last_rx = tm.last_rx_ns.load(std::memory_order_relaxed);
        const uint64_t last_tx = tm.last_data_tx_ns.load(std::memory_order_relaxed);
        const bool session = p.last_handshake_wall_ns != 0 && wall_ns() - p.last_handshake_wall_ns < 180 * k_ns_per_s;
        const bool sending = last_tx != 0 && now - last_tx < k_health_window_ns;
        const bool heard = last_rx != 0 && now - last_rx < k_health_window_ns;
        st.healthy = session && (!sending || heard);
        out.push_back(std::move(st));
    }
    return out;
}

}  // namespace eg::ctl
