#pragma once
// The DHCP server's lease_book (control/dhcp/lease_book.hpp) over the crash-safe lease
// store (lease_store.hpp) and the IPv4 pools (control/pools), as docs/lease-store.md
// maps it:
//
//  - bindings (commit / release) and quarantines (decline) are store records, durable
//    at the ticket put_lease returns; the key of a binding is the network id (4 bytes,
//    big-endian) + the client key's kind byte + its id, so a restart finds bindings by
//    client; a quarantine is keyed "q:" + network + address;
//  - offer holds live in memory only (the interface allows it);
//  - one ipv4_pool per network over its connected prefix, with everything outside the
//    configured ranges, the server's own address and the static reservations that fall
//    inside the ranges excluded from allocation. A bit is "in use" while an offer holds
//    the address or an unexpired binding has it; expire() frees what ran out.
//
// Reservations by MAC are static (from [[vms]]) or placed by the platform through the
// admin API (place / unplace: an "allocation"). A placement is a lease record keyed by
// the VM's vps_id (any key that is not a "b:" binding or "q:" quarantine key), state
// static_lease while no DHCP client has bound it and bound (with the lease's end)
// once the VM's client has: that record is also the client's DHCP binding, so the
// address has one holder in the store. Both kinds are offered first and never handed
// to anyone else. Owner: the control thread (as the store and the pools).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/dhcp/lease_book.hpp"
#include "control/leases/lease_store.hpp"
#include "control/pools/ipv4_pool_set.hpp"

namespace eg::ctl::leases {

/// One network the book serves: its prefix, pool ranges and reservations.
struct book_network {
    uint32_t id = 0;              ///< dhcp::network_config::id (the subnet address)
    uint32_t subnet = 0;          ///< host order
    uint8_t prefix_len = 24;      ///< 8..30
    std::vector<pools::ipv4_range> ranges;     ///< dynamic addresses
    std::vector<uint32_t> excluded;            ///< e.g. the server's own address
    std::map<dp::mac_bytes, uint32_t> reservations;  ///< static, MAC -> address
};

class store_lease_book final : public dhcp::lease_book {
public:
    using client_key = dhcp::client_key;
    using ticket = dhcp::ticket;

    /// Builds the pools and restores holds of addresses from the store's bindings and
    /// quarantines. Problems (a binding outside every configured network, an address
    /// reserved twice) are returned as lines for the log, not fatal. Throws
    /// std::invalid_argument for a network the pools cannot represent (config
    /// validation keeps those out).
    /// The records the restore sorted out of the store, for the rest of a start-up
    /// (allocations' IPv6 bindings, the data plane's admissions) so it need not walk
    /// the store again: with 1M leases a walk over the hash nodes costs 0.1-0.2 s where
    /// they lie scattered (replayed from a journal). Pointers into the store: valid
    /// until its next erase; the caller drops them once started.
    struct restored_records {
        std::vector<const lease*> placements;  ///< every placement-key record
        std::vector<const lease*> bindings;    ///< every "b:" record, any state
    };
    store_lease_book(lease_store& store, const std::vector<book_network>& networks, uint64_t now_s,
                     std::vector<std::string>* problems = nullptr, restored_records* restored = nullptr);

    std::optional<dhcp::lease> find_by_client(uint32_t network, const client_key& client, uint64_t now_s) const override;
    std::optional<dhcp::lease> find_by_address(uint32_t network, uint32_t address, uint64_t now_s) const override;
    std::optional<uint32_t> reserved_address(uint32_t network, const dp::mac_bytes& mac) const override;
    bool hold(uint32_t network, uint32_t address, const client_key& client, const dp::mac_bytes& mac,
              uint64_t now_s, uint64_t until_s) override;
    std::optional<uint32_t> hold_any(uint32_t network, const client_key& client, const dp::mac_bytes& mac,
                                     uint64_t now_s, uint64_t until_s) override;
    void drop_hold(uint32_t network, uint32_t address, const client_key& client) override;
    ticket commit(const dhcp::lease& l) override;
    ticket release(uint32_t network, uint32_t address, const client_key& client, uint64_t now_s) override;
    ticket quarantine(uint32_t network, uint32_t address, uint64_t until_s) override;

    /// Ends offer holds, frees the addresses of bindings and quarantines that ran out.
    /// Call periodically (the gateway's tick). Returns how many addresses it freed.
    size_t expire(uint64_t now_s);

    /// The store key of a client's binding in a network.
    static std::string binding_key(uint32_t network, const client_key& client);
    /// True for a store key that names a placement (an API allocation), i.e. neither a
    /// binding nor a quarantine key.
    static bool is_placement_key(std::string_view key);

    // --- placements (API allocations) ---------------------------------------------
    enum class place_error { none, unknown_network, mac_in_use, exhausted, store_failed };
    struct place_result {
        place_error error = place_error::none;
        const lease* record = nullptr;  ///< the stored placement (valid until the next write)
        ticket t = 0;                   ///< durable once this ticket is
        std::string detail;             ///< why, for store_failed
    };
    /// Allocates a free pool address of `network` for the VM and stores the placement
    /// record (state static_lease, never expires): from now on `mac` is offered that
    /// address and nobody else is. The caller checked that vps_id has no record yet
    /// and that it is a placement key.
    place_result place(uint32_t network, std::string_view vps_id, std::string_view organization_id,
                       const dp::mac_bytes& mac, const ipv6_bytes& ipv6, uint64_t now_s);
    /// Removes the placement: its record is erased and its address goes back to the
    /// pool. nullopt when vps_id is not a placement.
    std::optional<ticket> unplace(std::string_view vps_id);
    /// The network a placement record's address lies in (0 when none).
    uint32_t network_of(uint32_t address) const;
    /// The pools of a network (statistics); nullptr for an unknown network.
    const pools::ipv4_pool_set* pool(uint32_t network) const;
    /// Pool statistics for the log and tests.
    uint64_t available(uint32_t network) const;
    size_t holds() const;
    /// Store writes refused (each is logged by the caller through last_error()).
    uint64_t store_errors() const { return store_errors_; }
    /// Bindings committed that were not an extension of the client's live binding of
    /// the same address: addresses newly handed out (edgegate_dhcp_allocations_total).
    uint64_t new_bindings() const { return new_bindings_; }
    /// Bindings live now (bound, not yet expired), counted over the store: O(records).
    uint64_t live_bindings(uint64_t now_s) const;
    /// Placement records (API allocations) in the store, those in no network served
    /// included: O(1), kept by restore, place and unplace.
    uint64_t placements() const { return placements_; }
    const std::string& last_error() const { return last_error_; }

private:
    struct mac_hash {
        size_t operator()(const dp::mac_bytes& m) const {
            uint64_t v = 0;
            for (uint8_t b : m) v = v << 8 | b;
            return std::hash<uint64_t>{}(v);
        }
    };
    /// A set of addresses: one bit per address of the network's prefix (a /12 is
    /// 128 KiB, a /8 2 MiB, touched lazily), anything outside it in a side table. Holds
    /// the reservations, static and placed: 500k placements were 500k hash nodes.
    class address_set {
    public:
        void cover(uint32_t subnet, uint8_t prefix_len);
        bool contains(uint32_t a) const;
        /// False if it was there already.
        bool insert(uint32_t a);
        /// False if it was not there.
        bool erase(uint32_t a);

    private:
        uint32_t subnet_ = 0;
        uint64_t size_ = 0;  ///< addresses covered by bits_
        std::vector<uint64_t> bits_;
        std::unordered_map<uint32_t, bool> outside_;
    };
    struct held {
        client_key client;
        dp::mac_bytes mac{};
        uint64_t until_s = 0;
    };
    struct net_state {
        book_network cfg;
        pools::ipv4_pool_set pool;
        /// Reserved addresses (static and placed); those inside the pool's ranges have
        /// their pool bit taken.
        address_set reserved;
        std::unordered_map<uint32_t, held> holds;     ///< address -> offer hold
        std::map<client_key, uint32_t> hold_of;       ///< client -> held address
        std::unordered_map<uint32_t, uint64_t> quarantined;  ///< address -> until_s (all, in pool or not)
        std::unordered_map<dp::mac_bytes, std::string, mac_hash> placed_by_mac;  ///< placements: MAC -> vps_id
        std::map<client_key, std::string> placed_client;     ///< DHCP client bound to a placement -> vps_id
    };

    net_state* net(uint32_t id);
    const net_state* net(uint32_t id) const;
    /// The binding record holding `address` (state bound), if it belongs to this network.
    const lease* binding_at(const net_state& n, uint32_t address) const;
    static dhcp::lease to_dhcp(const net_state& n, const leases::lease& rec, uint64_t now_s);
    bool in_ranges(const net_state& n, uint32_t address) const;
    /// Sets the address's pool bit from the state: in use while a hold or an unexpired
    /// binding has it (or a static reservation inside the ranges); quarantine is the
    /// pool's own state.
    void refresh(net_state& n, uint32_t address, uint64_t now_s);
    void erase_hold(net_state& n, uint32_t address);
    /// Rewrites another client's binding of `address` as released (it expired, or the
    /// address is quarantined): the store keeps one holder per address.
    void retire_other_binding(const net_state& n, uint32_t address, const std::string& keep_key);
    ticket put(const leases::lease& rec);
    /// The placement record for `mac` in n, if any.
    const lease* placement_of(const net_state& n, const dp::mac_bytes& mac) const;
    const lease* placement_of_client(const net_state& n, const client_key& client) const;
    void forget_placement(net_state& n, const lease& rec);
    /// Drops the placed_client entry of `client_bytes` (a record's client_id) if it
    /// names `vps_id`.
    static void forget_placed_client(net_state& n, std::string_view client_bytes, std::string_view vps_id);

    lease_store& store_;
    std::map<uint32_t, net_state> nets_;
    /// Times from which refresh() must look again (holds, bindings, quarantines).
    std::multimap<uint64_t, std::pair<uint32_t, uint32_t>> timers_;
    uint64_t clock_s_ = 0;  ///< the latest now_s seen (for refresh() calls without one)
    uint64_t store_errors_ = 0;
    uint64_t new_bindings_ = 0;
    uint64_t placements_ = 0;
    std::string last_error_;
};

}  // namespace eg::ctl::leases
