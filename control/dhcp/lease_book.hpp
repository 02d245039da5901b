#pragma once
// What the DHCP server core needs from address allocation and lease persistence, and
// nothing more. The real implementation (bitmap pools in control/pools, a journaled
// store in control/leases) lives elsewhere; the server is tested against an in-memory
// one.
//
// Durability: every call that changes a binding the client will rely on returns a
// `ticket`. Tickets grow monotonically; a journal that group-commits (append records,
// one fdatasync per batch) tells the server `on_durable(t)` once every record up to
// and including ticket t is on disk, and the server releases the ACKs waiting for it
// (RFC 2131 §3.1 step 4: commit the binding to persistent storage, then ACK).
//
// Owner: the control thread; calls are synchronous and must not block on I/O.
// Times are seconds on the lease clock (the clock leases are persisted in, e.g. the
// Unix epoch), the same `now_s` the server is given.
#include <cstdint>
#include <optional>
#include <string>

#include "dataplane/snapshot.hpp"

namespace eg::ctl::dhcp {

/// A journal sequence number. 0 means "nothing to wait for".
using ticket = uint64_t;
inline constexpr ticket k_no_ticket = 0;
inline constexpr uint64_t k_infinite = ~uint64_t{0};

/// Who a binding belongs to (RFC 2131 §3.1 step 4, §4.2): the client identifier
/// (option 61, its whole value including the type byte) when the client sent one,
/// else the hardware address. The two never compare equal, so a client that starts
/// sending option 61 is a new client, as in RFC 2131.
struct client_key {
    enum kind_t : uint8_t { hardware = 0, client_id = 1 };
    kind_t kind = hardware;
    std::string id;  ///< raw bytes: 6 MAC bytes, or the option 61 value

    static client_key from_mac(const dp::mac_bytes& mac) {
        return {hardware, std::string(reinterpret_cast<const char*>(mac.data()), mac.size())};
    }
    static client_key from_client_id(const uint8_t* p, size_t n) {
        return {client_id, std::string(reinterpret_cast<const char*>(p), n)};
    }
    bool operator==(const client_key&) const = default;
    auto operator<=>(const client_key&) const = default;
};

enum class lease_state : uint8_t {
    offered,      ///< held for an OFFER until `expires_s`
    bound,        ///< committed; the client owns it until `expires_s`
    released,     ///< the client released it; kept for affinity, address free
    expired,      ///< ran out; kept for affinity, address free
    quarantined,  ///< declined (RFC 2131 §4.3.3); unusable until `expires_s`
};

struct lease {
    uint32_t network = 0;
    uint32_t address = 0;  ///< host order
    client_key client;     ///< empty for a quarantined address
    dp::mac_bytes mac{};
    lease_state state = lease_state::offered;
    uint64_t expires_s = 0;  ///< absolute; k_infinite for an infinite lease
};

class lease_book {
public:
    virtual ~lease_book() = default;

    /// The client's binding in `network` at `now_s`: its offer hold, its current
    /// lease, or its previous one (state released or expired) kept for affinity while
    /// no other client has taken the address. nullopt if none.
    virtual std::optional<lease> find_by_client(uint32_t network, const client_key& client,
                                                uint64_t now_s) const = 0;

    /// What holds `address` at `now_s`: an unexpired offer, a binding (state expired
    /// once past its end, while no one else has taken the address) or an unexpired
    /// quarantine. nullopt when free (never used, released, hold or quarantine over).
    virtual std::optional<lease> find_by_address(uint32_t network, uint32_t address, uint64_t now_s) const = 0;

    /// The address reserved for this MAC: a static reservation, or an address the
    /// platform allocated to that VM through the API. nullopt when none.
    virtual std::optional<uint32_t> reserved_address(uint32_t network, const dp::mac_bytes& mac) const = 0;

    /// Holds `address` for `client` until `until_s` (an OFFER's hold) if it may go to
    /// it: inside the network's pool or reserved for `mac`; not reserved for another
    /// MAC; not offered to or bound (unexpired) to another client; not quarantined
    /// (at `now_s`). True when the hold is in place. A binding the client already has
    /// on that address stays as it is (a hold never shortens or unbinds a lease).
    virtual bool hold(uint32_t network, uint32_t address, const client_key& client, const dp::mac_bytes& mac,
                      uint64_t now_s, uint64_t until_s) = 0;

    /// Picks a free pool address and holds it as hold() does. nullopt: pool exhausted.
    virtual std::optional<uint32_t> hold_any(uint32_t network, const client_key& client, const dp::mac_bytes& mac,
                                             uint64_t now_s, uint64_t until_s) = 0;

    /// Ends `client`'s offer hold on `address` (it chose another server, RFC 2131
    /// §3.1 step 4). A bound lease is left alone. Holds are not journaled.
    virtual void drop_hold(uint32_t network, uint32_t address, const client_key& client) = 0;

    /// Binds `l.address` to `l.client` until `l.expires_s` (new lease or extension).
    /// Precondition: hold() for the same client and address returned true during the
    /// same call into the server. Returns the ticket the binding is durable at.
    virtual ticket commit(const lease& l) = 0;

    /// The client gave `address` back (RFC 2131 §4.3.4): free it, keep the record for
    /// affinity. Returns the ticket the release is durable at.
    virtual ticket release(uint32_t network, uint32_t address, const client_key& client, uint64_t now_s) = 0;

    /// The address is in use by someone else (DECLINE, §4.3.3): unusable until
    /// `until_s`. Returns the ticket the quarantine is durable at.
    virtual ticket quarantine(uint32_t network, uint32_t address, uint64_t until_s) = 0;
};

}  // namespace eg::ctl::dhcp
