#include "control/leases/store_lease_book.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <stdexcept>

namespace eg::ctl::leases {

namespace {

constexpr std::string_view k_binding_prefix = "b:";
constexpr std::string_view k_quarantine_prefix = "q:";
/// What a write the store refused returns: a ticket that never becomes durable, so
/// the reply waiting for it is never sent (the store logs why).
constexpr dhcp::ticket k_never = ~dhcp::ticket{0} - 1;

void put_u32(std::string& s, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t get_u32(std::string_view s, size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(s[at + i]);
    return v;
}

std::string quarantine_key(uint32_t network, uint32_t address) {
    std::string k(k_quarantine_prefix);
    put_u32(k, network);
    put_u32(k, address);
    return k;
}

std::string client_bytes(const dhcp::client_key& c) {
    std::string s(1, static_cast<char>(c.kind));
    s += c.id;
    return s;
}

dhcp::client_key client_from_bytes(std::string_view s) {
    if (s.empty()) return {};
    return {s[0] == dhcp::client_key::client_id ? dhcp::client_key::client_id : dhcp::client_key::hardware,
            std::string(s.substr(1))};
}

std::string ip_text(uint32_t a) {
    char buf[INET_ADDRSTRLEN];
    const uint32_t n = htonl(a);
    return inet_ntop(AF_INET, &n, buf, sizeof buf) ? buf : "?";
}

bool live(uint64_t expires_s, uint64_t now_s) { return expires_s == 0 || expires_s > now_s; }

}  // namespace

std::string store_lease_book::binding_key(uint32_t network, const client_key& client) {
    std::string k(k_binding_prefix);
    put_u32(k, network);
    k += client_bytes(client);
    return k;
}

bool store_lease_book::is_placement_key(std::string_view key) {
    return !key.empty() && !key.starts_with(k_binding_prefix) && !key.starts_with(k_quarantine_prefix);
}

void store_lease_book::address_set::cover(uint32_t subnet, uint8_t prefix_len) {
    subnet_ = subnet;
    size_ = uint64_t{1} << (32 - prefix_len);
    bits_.assign((size_ + 63) / 64, 0);
}

bool store_lease_book::address_set::contains(uint32_t a) const {
    const uint64_t i = uint64_t{a - subnet_};
    if (i < size_) return bits_[i / 64] >> (i % 64) & 1;
    return outside_.contains(a);
}

bool store_lease_book::address_set::insert(uint32_t a) {
    const uint64_t i = uint64_t{a - subnet_};
    if (i < size_) {
        const uint64_t bit = uint64_t{1} << (i % 64);
        if (bits_[i / 64] & bit) return false;
        bits_[i / 64] |= bit;
        return true;
    }
    return outside_.emplace(a, true).second;
}

bool store_lease_book::address_set::erase(uint32_t a) {
    const uint64_t i = uint64_t{a - subnet_};
    if (i < size_) {
        const uint64_t bit = uint64_t{1} << (i % 64);
        if (!(bits_[i / 64] & bit)) return false;
        bits_[i / 64] &= ~bit;
        return true;
    }
    return outside_.erase(a) != 0;
}

const lease* store_lease_book::placement_of(const net_state& n, const dp::mac_bytes& mac) const {
    const auto p = n.placed_by_mac.find(mac);
    return p == n.placed_by_mac.end() ? nullptr : store_.find_lease(p->second);
}

const lease* store_lease_book::placement_of_client(const net_state& n, const client_key& client) const {
    const auto p = n.placed_client.find(client);
    return p == n.placed_client.end() ? nullptr : store_.find_lease(p->second);
}

uint32_t store_lease_book::network_of(uint32_t address) const {
    for (const auto& [id, n] : nets_) {
        if (address - n.cfg.subnet < (uint64_t{1} << (32 - n.cfg.prefix_len))) return id;
    }
    return 0;
}

const pools::ipv4_pool_set* store_lease_book::pool(uint32_t network) const {
    const net_state* n = net(network);
    return n ? &n->pool : nullptr;
}

store_lease_book::store_lease_book(lease_store& store, const std::vector<book_network>& networks, uint64_t now_s,
                                   std::vector<std::string>* problems, restored_records* restored)
    : store_(store), clock_s_(now_s) {
    const auto problem = [&](std::string text) {
        if (problems) problems->push_back(std::move(text));
    };
    for (const book_network& cfg : networks) {
        net_state& n = nets_[cfg.id];
        n.cfg = cfg;
        n.reserved.cover(cfg.subnet, cfg.prefix_len);
        // One pool over the connected prefix; everything outside the ranges excluded.
        pools::ipv4_pool::options o;
        o.excluded_addresses = cfg.excluded;
        std::vector<pools::ipv4_range> ranges = cfg.ranges;
        std::sort(ranges.begin(), ranges.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        const uint64_t last = uint64_t{cfg.subnet} + (uint64_t{1} << (32 - cfg.prefix_len)) - 1;
        uint64_t next = cfg.subnet;
        for (const auto& r : ranges) {
            if (r.first > next) o.excluded_ranges.push_back({static_cast<uint32_t>(next), r.first - 1});
            next = std::max<uint64_t>(next, uint64_t{r.last} + 1);
        }
        if (next <= last) o.excluded_ranges.push_back({static_cast<uint32_t>(next), static_cast<uint32_t>(last)});
        if (const std::error_code ec = n.pool.add(cfg.subnet, cfg.prefix_len, o)) {
            throw std::invalid_argument("DHCP network " + ip_text(cfg.subnet) + "/" + std::to_string(cfg.prefix_len) +
                                        ": " + ec.message());
        }
        for (const auto& [mac, a] : cfg.reservations) {
            const auto st = n.pool.state(a);
            const bool inside = st != pools::ipv4_pool::address_state::outside &&
                                st != pools::ipv4_pool::address_state::excluded;
            if (!n.reserved.insert(a)) {
                problem("reservation " + ip_text(a) + " is listed for two MACs; the first one keeps it");
                continue;
            }
            if (inside) {
                if (const std::error_code ec = n.pool.reserve(a)) problem("reservation " + ip_text(a) + ": " + ec.message());
            }
        }
    }
    // Restore from the store: placements (reserved like static reservations), live
    // quarantines, then bindings. One walk over the store sorts the records into the
    // three kinds, so the maps below are sized once (with 1M leases each walk over the
    // hash nodes, and each rehash, costs a good part of a second).
    std::vector<const lease*> placements, quarantines, bindings;
    placements.reserve(store_.leases().size());
    bindings.reserve(store_.leases().size());
    for (const auto& [key, rec] : store_.leases()) {
        if (key.starts_with(k_binding_prefix)) {
            bindings.push_back(&rec);
        } else if (key.starts_with(k_quarantine_prefix)) {
            quarantines.push_back(&rec);
        } else if (!key.empty()) {
            placements.push_back(&rec);
        }
    }
    std::vector<std::pair<net_state*, const lease*>> placed;
    placed.reserve(placements.size());
    std::map<net_state*, size_t> per_net;
    for (const lease* rec : placements) {
        net_state* n = net(network_of(rec->ipv4));
        if (!n) {
            problem("allocation " + rec->vps_id + " (" + ip_text(rec->ipv4) + ") is in no network served; left in the store");
            continue;
        }
        placed.emplace_back(n, rec);
        ++per_net[n];
    }
    for (auto& [n, count] : per_net) n->placed_by_mac.reserve(count);
    for (const auto& [n, rec] : placed) {
        if (n->reserved.contains(rec->ipv4) || n->placed_by_mac.contains(rec->mac)) {
            problem("allocation " + rec->vps_id + ": " + ip_text(rec->ipv4) +
                    " or its MAC is reserved twice; the first keeps it");
            continue;
        }
        n->placed_by_mac.emplace(rec->mac, rec->vps_id);
        if (!rec->client_id.empty()) n->placed_client[client_from_bytes(rec->client_id)] = rec->vps_id;
        const bool inside = in_ranges(*n, rec->ipv4);
        n->reserved.insert(rec->ipv4);
        if (inside) n->pool.reserve(rec->ipv4);
    }
    placements_ = placements.size();
    for (const lease* rec : quarantines) {
        const std::string& key = rec->vps_id;
        if (key.size() != k_quarantine_prefix.size() + 8) continue;
        net_state* n = net(get_u32(key, k_quarantine_prefix.size()));
        if (!n || rec->state != lease_state::declined || !live(static_cast<uint64_t>(rec->expires_s), now_s)) continue;
        const auto until = static_cast<uint64_t>(rec->expires_s);
        n->quarantined[rec->ipv4] = until;
        if (in_ranges(*n, rec->ipv4) && !n->reserved.contains(rec->ipv4)) n->pool.quarantine(rec->ipv4, until);
        timers_.emplace(until, std::pair{n->cfg.id, rec->ipv4});
    }
    // The bindings' expiry timers, inserted in time order (each insert at the end).
    std::vector<std::pair<uint64_t, std::pair<uint32_t, uint32_t>>> binding_timers;
    binding_timers.reserve(bindings.size());
    for (const lease* rec : bindings) {
        const std::string& key = rec->vps_id;
        if (key.size() < k_binding_prefix.size() + 4) continue;
        const uint32_t id = get_u32(key, k_binding_prefix.size());
        net_state* n = net(id);
        if (!n) {
            if (rec->state == lease_state::bound && live(static_cast<uint64_t>(rec->expires_s), now_s))
                problem("binding of " + ip_text(rec->ipv4) + " is in network " + ip_text(id) +
                        ", which is no longer served; left in the store");
            continue;
        }
        if (rec->state != lease_state::bound) continue;
        const uint64_t size = uint64_t{1} << (32 - n->cfg.prefix_len);
        if (rec->ipv4 - n->cfg.subnet >= size) {
            problem("binding of " + ip_text(rec->ipv4) + " lies outside " + ip_text(n->cfg.subnet) + "/" +
                    std::to_string(n->cfg.prefix_len) + "; it will be NAKed on renewal");
            continue;
        }
        if (rec->expires_s != 0) binding_timers.push_back({static_cast<uint64_t>(rec->expires_s), {id, rec->ipv4}});
        refresh(*n, rec->ipv4, now_s);
    }
    std::sort(binding_timers.begin(), binding_timers.end());
    for (const auto& t : binding_timers) timers_.emplace_hint(timers_.end(), t);
    if (restored) {
        restored->placements = std::move(placements);
        restored->bindings = std::move(bindings);
    }
}

store_lease_book::net_state* store_lease_book::net(uint32_t id) {
    const auto it = nets_.find(id);
    return it == nets_.end() ? nullptr : &it->second;
}

const store_lease_book::net_state* store_lease_book::net(uint32_t id) const {
    const auto it = nets_.find(id);
    return it == nets_.end() ? nullptr : &it->second;
}

bool store_lease_book::in_ranges(const net_state& n, uint32_t address) const {
    const auto st = n.pool.state(address);
    return st != pools::ipv4_pool::address_state::outside && st != pools::ipv4_pool::address_state::excluded;
}

const lease* store_lease_book::binding_at(const net_state& n, uint32_t address) const {
    const lease* rec = store_.find_by_ipv4(address);
    if (rec && rec->state == lease_state::bound && is_placement_key(rec->vps_id)) {
        return n.placed_by_mac.contains(rec->mac) ? rec : nullptr;
    }
    if (!rec || rec->state != lease_state::bound || !rec->vps_id.starts_with(k_binding_prefix) ||
        rec->vps_id.size() < k_binding_prefix.size() + 4 || get_u32(rec->vps_id, k_binding_prefix.size()) != n.cfg.id) {
        return nullptr;
    }
    return rec;
}

dhcp::lease store_lease_book::to_dhcp(const net_state& n, const leases::lease& rec, uint64_t now_s) {
    dhcp::lease l;
    l.network = n.cfg.id;
    l.address = rec.ipv4;
    l.client = client_from_bytes(rec.client_id);
    l.mac = rec.mac;
    l.expires_s = rec.expires_s == 0 ? dhcp::k_infinite : static_cast<uint64_t>(rec.expires_s);
    if (rec.state == lease_state::released || rec.state == lease_state::static_lease) {
        // (A placement nobody has bound yet is, to the server, an address with affinity.)
        l.state = dhcp::lease_state::released;
    } else {
        l.state = live(static_cast<uint64_t>(rec.expires_s), now_s) ? dhcp::lease_state::bound
                                                                     : dhcp::lease_state::expired;
    }
    return l;
}

std::optional<dhcp::lease> store_lease_book::find_by_address(uint32_t network, uint32_t address,
                                                             uint64_t now_s) const {
    const net_state* n = net(network);
    if (!n) return std::nullopt;
    if (const auto q = n->quarantined.find(address); q != n->quarantined.end() && q->second > now_s) {
        return dhcp::lease{network, address, {}, {}, dhcp::lease_state::quarantined, q->second};
    }
    if (const auto h = n->holds.find(address); h != n->holds.end() && h->second.until_s > now_s) {
        return dhcp::lease{network, address, h->second.client, h->second.mac, dhcp::lease_state::offered, h->second.until_s};
    }
    if (const lease* rec = binding_at(*n, address)) return to_dhcp(*n, *rec, now_s);
    return std::nullopt;
}

std::optional<dhcp::lease> store_lease_book::find_by_client(uint32_t network, const client_key& client,
                                                            uint64_t now_s) const {
    const net_state* n = net(network);
    if (!n) return std::nullopt;
    if (const auto h = n->hold_of.find(client); h != n->hold_of.end()) {
        const auto held_at = n->holds.find(h->second);
        if (held_at != n->holds.end() && held_at->second.until_s > now_s) {
            return dhcp::lease{network, h->second, client, held_at->second.mac, dhcp::lease_state::offered,
                         held_at->second.until_s};
        }
    }
    const lease* rec = placement_of_client(*n, client);
    if (!rec) rec = store_.find_lease(binding_key(network, client));
    if (!rec || (rec->state != lease_state::bound && rec->state != lease_state::released &&
                 rec->state != lease_state::static_lease)) {
        return std::nullopt;
    }
    dhcp::lease l = to_dhcp(*n, *rec, now_s);
    l.client = client;
    if (l.state != dhcp::lease_state::bound) {
        // Affinity only while nobody else has taken the address.
        const auto holder = find_by_address(network, l.address, now_s);
        if (holder && holder->client != client) return std::nullopt;
    }
    return l;
}

std::optional<uint32_t> store_lease_book::reserved_address(uint32_t network, const dp::mac_bytes& mac) const {
    const net_state* n = net(network);
    if (!n) return std::nullopt;
    const auto r = n->cfg.reservations.find(mac);
    if (r != n->cfg.reservations.end()) return r->second;
    if (const lease* p = placement_of(*n, mac)) return p->ipv4;
    return std::nullopt;
}

bool store_lease_book::hold(uint32_t network, uint32_t address, const client_key& client, const dp::mac_bytes& mac,
                            uint64_t now_s, uint64_t until_s) {
    net_state* n = net(network);
    if (!n) return false;
    clock_s_ = std::max(clock_s_, now_s);
    const auto r = n->cfg.reservations.find(mac);
    const lease* placed = placement_of(*n, mac);
    const bool reserved_for_mac =
        (r != n->cfg.reservations.end() && r->second == address) || (placed && placed->ipv4 == address);
    if (!reserved_for_mac && (n->reserved.contains(address) || !in_ranges(*n, address))) return false;
    if (const auto holder = find_by_address(network, address, now_s)) {
        if (holder->state == dhcp::lease_state::quarantined) return false;
        if (holder->client != client && holder->state != dhcp::lease_state::expired) return false;
        if (holder->client == client && holder->state == dhcp::lease_state::bound) return true;
    }
    // One offer per client: a hold elsewhere goes back to the pool.
    if (const auto h = n->hold_of.find(client); h != n->hold_of.end() && h->second != address) {
        const uint32_t old = h->second;
        erase_hold(*n, old);
        refresh(*n, old, now_s);
    }
    erase_hold(*n, address);  // an expired hold of someone else
    n->holds[address] = held{client, mac, until_s};
    n->hold_of[client] = address;
    timers_.emplace(until_s, std::pair{network, address});
    refresh(*n, address, now_s);
    return true;
}

std::optional<uint32_t> store_lease_book::hold_any(uint32_t network, const client_key& client,
                                                   const dp::mac_bytes& mac, uint64_t now_s, uint64_t until_s) {
    net_state* n = net(network);
    if (!n) return std::nullopt;
    bool expired_once = false;
    for (uint64_t tries = 0; tries <= n->pool.total(); ++tries) {
        std::optional<uint32_t> a = n->pool.allocate();
        if (!a && !expired_once) {
            // Holds and leases that ran out since the last tick are free too.
            expire(now_s);
            expired_once = true;
            a = n->pool.allocate();
        }
        if (!a) return std::nullopt;
        // allocate() took the bit; hold() decides with the same rules as for any address.
        n->pool.release(*a);
        if (hold(network, *a, client, mac, now_s, until_s)) return a;
        // Not assignable after all (a state the bitmap did not show): leave its bit as
        // the state says and try the next one.
        refresh(*n, *a, now_s);
    }
    return std::nullopt;
}

void store_lease_book::erase_hold(net_state& n, uint32_t address) {
    const auto h = n.holds.find(address);
    if (h == n.holds.end()) return;
    if (const auto c = n.hold_of.find(h->second.client); c != n.hold_of.end() && c->second == address) {
        n.hold_of.erase(c);
    }
    n.holds.erase(h);
}

void store_lease_book::drop_hold(uint32_t network, uint32_t address, const client_key& client) {
    net_state* n = net(network);
    if (!n) return;
    const auto h = n->holds.find(address);
    if (h == n->holds.end() || h->second.client != client) return;
    erase_hold(*n, address);
    refresh(*n, address, clock_s_);
}

void store_lease_book::refresh(net_state& n, uint32_t address, uint64_t now_s) {
    using st = pools::ipv4_pool::address_state;
    if (!in_ranges(n, address) || n.reserved.contains(address)) return;  // not the allocator's
    if (const auto q = n.quarantined.find(address); q != n.quarantined.end()) {
        if (q->second > now_s) return;  // the pool keeps it quarantined
        n.quarantined.erase(q);
    }
    if (n.pool.state(address) == st::quarantined) n.pool.reclaim_quarantine(now_s);
    if (n.pool.state(address) == st::quarantined) return;
    const auto h = n.holds.find(address);
    const lease* b = binding_at(n, address);
    const bool used = (h != n.holds.end() && h->second.until_s > now_s) ||
                      (b != nullptr && live(static_cast<uint64_t>(b->expires_s), now_s));
    const st now = n.pool.state(address);
    if (used && now == st::free) n.pool.reserve(address);
    if (!used && now == st::in_use) n.pool.release(address);
}

dhcp::ticket store_lease_book::put(const leases::lease& rec) {
    const auto r = store_.put_lease(rec);
    if (!r) {
        ++store_errors_;
        last_error_ = "lease store refused the record for " + ip_text(rec.ipv4) + ": " + r.ec.message();
        return k_never;
    }
    return r.t;
}

void store_lease_book::retire_other_binding(const net_state&, uint32_t address, const std::string& keep_key) {
    const lease* rec = store_.find_by_ipv4(address);
    if (!rec || rec->vps_id == keep_key) return;
    leases::lease old = *rec;
    old.state = lease_state::released;
    put(old);
}

dhcp::ticket store_lease_book::commit(const dhcp::lease& l) {
    net_state* n = net(l.network);
    if (!n) {
        ++store_errors_;
        last_error_ = "commit for unknown network " + ip_text(l.network);
        return k_never;
    }
    if (const lease* placed = placement_of(*n, l.mac); placed && placed->ipv4 == l.address) {
        // The VM the platform placed: its placement record is its binding. A binding the
        // client had under its own key (a pool address before the allocation) ends.
        leases::lease rec = *placed;
        if (placed->state != lease_state::bound || !live(static_cast<uint64_t>(placed->expires_s), clock_s_)) {
            ++new_bindings_;
        }
        const std::string own_key = binding_key(l.network, l.client);
        std::optional<uint32_t> previous;
        if (const lease* old = store_.find_lease(own_key); old && old->state == lease_state::bound) {
            previous = old->ipv4;
            leases::lease r = *old;
            r.state = lease_state::released;
            put(r);
        }
        const std::string old_client = rec.client_id;  // `placed` changes with the put
        rec.client_id = client_bytes(l.client);
        rec.expires_s = l.expires_s == dhcp::k_infinite ? 0 : static_cast<int64_t>(l.expires_s);
        rec.state = lease_state::bound;
        const ticket t = put(rec);
        if (t != k_never) {
            // The record now names its new client; the index follows it (only once the
            // record says so: an entry client -> vps_id always matches its record).
            forget_placed_client(*n, old_client, rec.vps_id);
            n->placed_client[l.client] = rec.vps_id;
        }
        if (const auto h = n->hold_of.find(l.client); h != n->hold_of.end()) {
            const uint32_t other = h->second;
            erase_hold(*n, other);
            refresh(*n, other, clock_s_);
        }
        if (previous) refresh(*n, *previous, clock_s_);
        return t;
    }
    const std::string key = binding_key(l.network, l.client);
    retire_other_binding(*n, l.address, key);
    std::optional<uint32_t> previous;
    const lease* old = store_.find_lease(key);
    if (old && old->ipv4 != l.address) previous = old->ipv4;
    if (!old || old->ipv4 != l.address || old->state != lease_state::bound ||
        !live(static_cast<uint64_t>(old->expires_s), clock_s_)) {
        ++new_bindings_;  // not an extension of the client's current binding
    }
    leases::lease rec;
    rec.vps_id = key;
    rec.client_id = client_bytes(l.client);
    rec.mac = l.mac;
    rec.ipv4 = l.address;
    rec.expires_s = l.expires_s == dhcp::k_infinite ? 0 : static_cast<int64_t>(l.expires_s);
    rec.state = lease_state::bound;
    const ticket t = put(rec);
    if (const auto h = n->holds.find(l.address); h != n->holds.end() && h->second.client == l.client) {
        erase_hold(*n, l.address);
    }
    if (const auto h = n->hold_of.find(l.client); h != n->hold_of.end()) {
        const uint32_t other = h->second;
        erase_hold(*n, other);
        refresh(*n, other, clock_s_);
    }
    if (l.expires_s != dhcp::k_infinite) timers_.emplace(l.expires_s, std::pair{l.network, l.address});
    refresh(*n, l.address, clock_s_);
    if (previous) refresh(*n, *previous, clock_s_);
    return t;
}

dhcp::ticket store_lease_book::release(uint32_t network, uint32_t address, const client_key& client, uint64_t now_s) {
    net_state* n = net(network);
    if (!n) return dhcp::k_no_ticket;
    clock_s_ = std::max(clock_s_, now_s);
    if (const auto h = n->holds.find(address); h != n->holds.end() && h->second.client == client) {
        erase_hold(*n, address);
    }
    ticket t = dhcp::k_no_ticket;
    if (const lease* placed = placement_of_client(*n, client); placed && placed->ipv4 == address) {
        // The placement stays (the platform ends it): only the DHCP binding ends.
        if (placed->state == lease_state::bound) {
            leases::lease r = *placed;
            r.state = lease_state::static_lease;
            r.expires_s = 0;
            t = put(r);
        }
        return t;
    }
    const lease* rec = store_.find_lease(binding_key(network, client));
    if (rec && rec->ipv4 == address && rec->state == lease_state::bound) {
        leases::lease r = *rec;
        r.state = lease_state::released;
        t = put(r);
    }
    refresh(*n, address, now_s);
    return t;
}

dhcp::ticket store_lease_book::quarantine(uint32_t network, uint32_t address, uint64_t until_s) {
    net_state* n = net(network);
    if (!n) return dhcp::k_no_ticket;
    const std::string key = quarantine_key(network, address);
    retire_other_binding(*n, address, key);
    erase_hold(*n, address);
    leases::lease rec;
    rec.vps_id = key;
    rec.ipv4 = address;
    rec.expires_s = until_s == dhcp::k_infinite ? 0 : static_cast<int64_t>(until_s);
    rec.state = lease_state::declined;
    const ticket t = put(rec);
    n->quarantined[address] = until_s;
    if (in_ranges(*n, address) && !n->reserved.contains(address)) n->pool.quarantine(address, until_s);
    timers_.emplace(until_s, std::pair{network, address});
    return t;
}

size_t store_lease_book::expire(uint64_t now_s) {
    clock_s_ = std::max(clock_s_, now_s);
    size_t freed = 0;
    while (!timers_.empty() && timers_.begin()->first <= now_s) {
        const auto [id, address] = timers_.begin()->second;
        timers_.erase(timers_.begin());
        net_state* n = net(id);
        if (!n) continue;
        if (const auto h = n->holds.find(address); h != n->holds.end() && h->second.until_s <= now_s) {
            erase_hold(*n, address);
        }
        if (const auto q = n->quarantined.find(address); q != n->quarantined.end() && q->second <= now_s) {
            n->quarantined.erase(q);
            store_.erase_lease(quarantine_key(id, address));  // over: the record has nothing left to say
        }
        const bool was_used = n->pool.state(address) != pools::ipv4_pool::address_state::free;
        refresh(*n, address, now_s);
        if (was_used && n->pool.state(address) == pools::ipv4_pool::address_state::free) ++freed;
    }
    return freed;
}

store_lease_book::place_result store_lease_book::place(uint32_t network, std::string_view vps_id,
                                                       std::string_view organization_id, const dp::mac_bytes& mac,
                                                       const ipv6_bytes& ipv6, uint64_t now_s) {
    place_result res;
    net_state* n = net(network);
    if (!n) {
        res.error = place_error::unknown_network;
        return res;
    }
    clock_s_ = std::max(clock_s_, now_s);
    if (n->placed_by_mac.contains(mac) || n->cfg.reservations.contains(mac)) {
        res.error = place_error::mac_in_use;
        return res;
    }
    std::optional<uint32_t> a = n->pool.allocate();
    if (!a) {
        expire(now_s);  // holds and leases that ran out since the last tick are free too
        a = n->pool.allocate();
    }
    if (!a) {
        res.error = place_error::exhausted;
        return res;
    }
    // A binding that ran out may still name the address in the store: it is over.
    retire_other_binding(*n, *a, std::string(vps_id));
    leases::lease rec;
    rec.vps_id = std::string(vps_id);
    rec.organization_id = std::string(organization_id);
    rec.mac = mac;
    rec.ipv4 = *a;
    rec.ipv6 = ipv6;
    rec.expires_s = 0;
    rec.state = lease_state::static_lease;
    const auto r = store_.put_lease(rec);
    if (!r) {
        n->pool.release(*a);
        ++store_errors_;
        res.error = place_error::store_failed;
        res.detail = "lease store refused the allocation of " + ip_text(*a) + ": " + r.ec.message();
        last_error_ = res.detail;
        return res;
    }
    // allocate() took the pool bit: it stays taken, as a reservation's.
    n->reserved.insert(*a);
    n->placed_by_mac[mac] = rec.vps_id;
    ++placements_;
    res.record = store_.find_lease(vps_id);
    res.t = r.t;
    return res;
}

void store_lease_book::forget_placed_client(net_state& n, std::string_view client_bytes, std::string_view vps_id) {
    // An entry client -> vps_id is made only from the placement record's own client_id
    // (restore, or commit after the record was stored), so that names the one entry
    // the placement can have: a lookup, not a scan of every bound placement (with 500k
    // DHCP-bound allocations the scan cost milliseconds on each of their renewals).
    if (client_bytes.empty()) return;
    const auto it = n.placed_client.find(client_from_bytes(client_bytes));
    if (it != n.placed_client.end() && it->second == vps_id) n.placed_client.erase(it);
}

void store_lease_book::forget_placement(net_state& n, const lease& rec) {
    n.placed_by_mac.erase(rec.mac);
    forget_placed_client(n, rec.client_id, rec.vps_id);
}

std::optional<dhcp::ticket> store_lease_book::unplace(std::string_view vps_id) {
    if (!is_placement_key(vps_id)) return std::nullopt;
    const lease* rec = store_.find_lease(vps_id);
    if (!rec) return std::nullopt;
    const uint32_t address = rec->ipv4;
    net_state* n = net(network_of(address));
    if (n) {
        const auto p = n->placed_by_mac.find(rec->mac);
        if (p != n->placed_by_mac.end() && p->second == vps_id) {
            forget_placement(*n, *rec);
            // In the pool's ranges, its pool bit was taken for the reservation.
            if (n->reserved.erase(address) && in_ranges(*n, address)) n->pool.release(address);
        }
    }
    const auto r = store_.erase_lease(vps_id);
    if (!r) {
        ++store_errors_;
        last_error_ = "lease store refused to erase allocation " + std::string(vps_id) + ": " + r.ec.message();
        return k_never;
    }
    --placements_;
    if (n) {
        erase_hold(*n, address);
        refresh(*n, address, clock_s_);
    }
    return r.t;
}

uint64_t store_lease_book::available(uint32_t network) const {
    const net_state* n = net(network);
    return n ? n->pool.available() : 0;
}

uint64_t store_lease_book::live_bindings(uint64_t now_s) const {
    // Bindings and bound placements alike are records in state bound.
    uint64_t n = 0;
    for (const auto& [key, rec] : store_.leases()) {
        n += rec.state == lease_state::bound && live(static_cast<uint64_t>(rec.expires_s), now_s);
    }
    return n;
}

size_t store_lease_book::holds() const {
    size_t s = 0;
    for (const auto& [id, n] : nets_) s += n.holds.size();
    return s;
}

}  // namespace eg::ctl::leases
