#pragma once
// Address allocations the hosting platform makes through the admin API
// (POST/GET/DELETE /v1/allocations): for a VM {vps_id, organization_id, mac} an IPv4
// from a DHCP network's pool and, where the network has an ipv6_prefix, a dedicated
// IPv6 /128 (control/pools/ipv6_allocator). An allocation is a lease record keyed by
// the vps_id in the crash-safe lease store (store_lease_book::place): it survives
// restarts, the DHCP server hands its address to the VM's MAC, and the data plane
// admits the (MAC, IPv4) pair (the caller, dhcp_service, does that).
//
// Creating is idempotent per vps_id: the same request gets the same allocation back;
// the same vps_id with another MAC, organization or network is a conflict.
// Durability: every outcome carries the ticket after which its change is on disk;
// the API replies only then.
//
// Owner: the control thread. Sans-I/O apart from the store it writes to (which does
// its file I/O on its own thread).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "control/dhcp/server.hpp"
#include "control/leases/lease_store.hpp"
#include "control/leases/store_lease_book.hpp"
#include "control/pools/ipv6_allocator.hpp"

namespace eg::ctl {

class allocations {
public:
    /// One DHCP network, as the API shows and addresses it.
    struct network {
        uint32_t id = 0;                     ///< dhcp::network_config::id (the subnet)
        std::string port;                    ///< the vm port's name
        uint32_t subnet = 0;                 ///< host order
        uint8_t prefix_len = 24;
        std::vector<uint32_t> routers;       ///< what DHCP tells the clients
        std::vector<uint32_t> dns;
        std::string domain;
        uint32_t lease_time_s = 3600;
        std::optional<pools::ipv6_allocator> ipv6;  ///< with an ipv6_prefix
    };

    enum class errc { ok, invalid, not_found, conflict, exhausted, not_configured, store_failed };
    struct outcome {
        errc error = errc::ok;
        std::string message;                 ///< for people, when error != ok
        std::optional<leases::lease> record; ///< the allocation (as it was, for a removal)
        bool created = false;                ///< a new allocation (else it existed)
        leases::ticket t = 0;                ///< the reply waits until this is durable
    };

    /// `networks` in config order (config.dhcp.networks); `server_networks` the DHCP
    /// server's view of them (same order). Reads the IPv6 allocator key from the store
    /// (a random one is made and stored on first use) and rebinds recorded /128s.
    /// Problems (a recorded /128 that no longer fits) go to `problems`. `placements`:
    /// the placement records the book's restore found (store_lease_book::restored_records),
    /// so a start does not walk the store again; null: walk it.
    allocations(leases::lease_store& store, leases::store_lease_book& book, const cfg::config& config,
                const std::vector<dhcp::network_config>& server_networks, std::vector<std::string>* problems = nullptr,
                const std::vector<const leases::lease*>* placements = nullptr);

    /// The checks the API applies to its inputs (the messages name the field).
    static std::optional<std::string> check_vps_id(std::string_view vps_id);
    static std::optional<std::string> check_organization_id(std::string_view org);

    /// network_name: a port name or the network's prefix ("192.168.100.0/24"); empty:
    /// the first network.
    outcome create(std::string_view vps_id, std::string_view organization_id, const dp::mac_bytes& mac,
                   std::string_view network_name, uint64_t now_s);
    outcome remove(std::string_view vps_id);
    const leases::lease* find(std::string_view vps_id) const;
    /// Every allocation, sorted by vps_id.
    std::vector<const leases::lease*> list() const;
    /// O(1): the book counts its placements.
    size_t count() const;

    const std::vector<network>& networks() const { return networks_; }
    /// The network an allocated address lies in, or nullptr.
    const network* network_of(uint32_t address) const;

private:
    const network* find_network(std::string_view name) const;

    leases::lease_store& store_;
    leases::store_lease_book& book_;
    std::vector<network> networks_;
};

}  // namespace eg::ctl
