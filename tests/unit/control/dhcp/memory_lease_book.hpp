#pragma once
// An in-memory lease_book for the DHCP server's tests, fuzz target and microbenchmark:
// a pool per network as an address range, reservations by MAC, a map of who holds
// each address, and journal tickets that only count (durability is whatever the test
// says by calling server::on_durable). It is the dependency, not the thing under
// test: the real pools and journal live in control/pools and control/leases.
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "control/dhcp/lease_book.hpp"

namespace eg::test {

class memory_lease_book final : public ctl::dhcp::lease_book {
public:
    using lease = ctl::dhcp::lease;
    using lease_state = ctl::dhcp::lease_state;
    using client_key = ctl::dhcp::client_key;
    using ticket = ctl::dhcp::ticket;

    void add_pool(uint32_t network, uint32_t first, uint32_t last) { pools_[network] = {first, last, first}; }
    void reserve(uint32_t network, const dp::mac_bytes& mac, uint32_t addr) { reservations_[{network, mac}] = addr; }

    std::optional<lease> find_by_client(uint32_t network, const client_key& client, uint64_t now_s) const override {
        const auto c = by_client_.find({network, client});
        if (c == by_client_.end()) return std::nullopt;
        const auto a = by_address_.find({network, c->second});
        if (a == by_address_.end() || a->second.client != client) return std::nullopt;
        lease l = a->second;
        if (l.state == lease_state::offered && l.expires_s <= now_s) return std::nullopt;
        if (l.state == lease_state::bound && l.expires_s <= now_s) l.state = lease_state::expired;
        return l;
    }

    std::optional<lease> find_by_address(uint32_t network, uint32_t address, uint64_t now_s) const override {
        const auto a = by_address_.find({network, address});
        if (a == by_address_.end()) return std::nullopt;
        lease l = a->second;
        switch (l.state) {
            case lease_state::offered:
            case lease_state::quarantined:
                if (l.expires_s <= now_s) return std::nullopt;
                break;
            case lease_state::bound:
                if (l.expires_s <= now_s) l.state = lease_state::expired;
                break;
            case lease_state::released:
            case lease_state::expired: return std::nullopt;
        }
        return l;
    }

    std::optional<uint32_t> reserved_address(uint32_t network, const dp::mac_bytes& mac) const override {
        const auto r = reservations_.find({network, mac});
        if (r == reservations_.end()) return std::nullopt;
        return r->second;
    }

    bool hold(uint32_t network, uint32_t address, const client_key& client, const dp::mac_bytes& mac,
              uint64_t now_s, uint64_t until_s) override {
        if (!may_have(network, address, mac)) return false;
        const auto holder = find_by_address(network, address, now_s);
        if (holder) {
            if (holder->state == lease_state::quarantined) return false;
            if (holder->client != client && holder->state != lease_state::expired) return false;
            if (holder->client == client && holder->state == lease_state::bound) return true;
        }
        // One offer per client: a previous hold elsewhere goes back to the pool.
        if (const auto c = by_client_.find({network, client}); c != by_client_.end() && c->second != address) {
            drop_hold(network, c->second, client);
        }
        by_address_[{network, address}] = lease{network, address, client, mac, lease_state::offered, until_s};
        by_client_[{network, client}] = address;
        ++holds;
        return true;
    }

    std::optional<uint32_t> hold_any(uint32_t network, const client_key& client, const dp::mac_bytes& mac,
                                     uint64_t now_s, uint64_t until_s) override {
        const auto p = pools_.find(network);
        if (p == pools_.end()) return std::nullopt;
        pool& pl = p->second;
        const uint64_t size = uint64_t{pl.last} - pl.first + 1;
        // Next-free cursor, like the bitmap pool's: O(1) while the pool is mostly free.
        for (uint64_t i = 0; i < size; ++i) {
            const uint32_t a = pl.cursor;
            pl.cursor = pl.cursor == pl.last ? pl.first : pl.cursor + 1;
            if (is_reserved(network, a)) continue;
            if (find_by_address(network, a, now_s)) continue;
            if (hold(network, a, client, mac, now_s, until_s)) return a;
        }
        return std::nullopt;
    }

    void drop_hold(uint32_t network, uint32_t address, const client_key& client) override {
        const auto a = by_address_.find({network, address});
        if (a != by_address_.end() && a->second.client == client && a->second.state == lease_state::offered) {
            by_address_.erase(a);
            ++dropped_holds;
        }
    }

    ticket commit(const lease& l) override {
        by_address_[{l.network, l.address}] = l;
        by_client_[{l.network, l.client}] = l.address;
        commits.push_back(l);
        return ++last_ticket;
    }

    ticket release(uint32_t network, uint32_t address, const client_key& client, uint64_t) override {
        auto a = by_address_.find({network, address});
        if (a != by_address_.end() && a->second.client == client) a->second.state = lease_state::released;
        ++releases;
        return ++last_ticket;
    }

    ticket quarantine(uint32_t network, uint32_t address, uint64_t until_s) override {
        by_address_[{network, address}] = lease{network, address, {}, {}, lease_state::quarantined, until_s};
        ++quarantines;
        return ++last_ticket;
    }

    /// Test access: the raw record for an address (whatever its state).
    std::optional<lease> record(uint32_t network, uint32_t address) const {
        const auto a = by_address_.find({network, address});
        if (a == by_address_.end()) return std::nullopt;
        return a->second;
    }

    ticket last_ticket = 0;
    std::vector<lease> commits;
    uint64_t holds = 0, dropped_holds = 0, releases = 0, quarantines = 0;

private:
    struct pool {
        uint32_t first, last, cursor;
    };
    bool is_reserved(uint32_t network, uint32_t address) const {
        for (const auto& [k, a] : reservations_) {
            if (k.first == network && a == address) return true;
        }
        return false;
    }
    /// In the pool and not reserved for another MAC, or reserved for this one.
    bool may_have(uint32_t network, uint32_t address, const dp::mac_bytes& mac) const {
        if (const auto r = reservations_.find({network, mac}); r != reservations_.end() && r->second == address) {
            return true;
        }
        if (is_reserved(network, address)) return false;
        const auto p = pools_.find(network);
        return p != pools_.end() && address >= p->second.first && address <= p->second.last;
    }

    std::map<uint32_t, pool> pools_;
    std::map<std::pair<uint32_t, dp::mac_bytes>, uint32_t> reservations_;
    std::map<std::pair<uint32_t, uint32_t>, lease> by_address_;
    std::map<std::pair<uint32_t, client_key>, uint32_t> by_client_;
};

}  // namespace eg::test
