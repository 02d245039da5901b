#pragma once
// Proxy-port assignment: each user (organization or user id) owns one port of a
// configured range on the upstream proxy (nat.proxy.upstream), the same for all of the
// user's VMs, so the upstream tells users apart by port (README "Proxy ports and
// health probes"). Sans-I/O: this table decides; proxy_port_records() and
// restore_proxy_ports() are the lease store's view of it (namespace "proxy_port",
// key = organization id, value = the port in decimal text), and the gateway persists
// each change and publishes a snapshot in which the organization's proxy VMs use it.
//
// Ports of VMs whose port is set in the config without an organization (unmanaged)
// are reserved: never handed to anyone. So are the ports that runtime egress policies
// (POST /v1/egress with proxy_port) give their VMs, for as long as a VM uses them. Assignment takes the next free port after a
// rotating cursor, so a port just given up is reused last (the upstream may still
// hold state, e.g. whitelists or connections, for its previous user).
// Owner: the control thread.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/leases/store_state.hpp"

namespace eg::ctl {

inline constexpr std::string_view k_proxy_port_namespace = "proxy_port";

enum class proxy_port_errc {
    ok = 0,
    bad_organization,  ///< not a valid organization id
    out_of_range,      ///< a pinned port outside the range
    taken,             ///< the port belongs to another organization or a VM
    exhausted,         ///< no free port left in the range
    not_found,         ///< no assignment for that organization
};
std::string_view to_string(proxy_port_errc e);

class proxy_port_table {
public:
    struct result {
        proxy_port_errc error = proxy_port_errc::ok;
        uint16_t port = 0;
        bool changed = false;  ///< a new assignment or a moved port (persist + publish)
        std::string holder;    ///< taken: who has the port ("org:ID" or "vm:NAME")
        explicit operator bool() const { return error == proxy_port_errc::ok; }
    };

    /// Ports first..last (1 <= first <= last <= 65535).
    proxy_port_table(uint16_t first, uint16_t last);

    /// Marks `port` as used by an unmanaged VM (any port, in the range or not).
    void reserve(uint16_t port, std::string vm_name);
    /// The ports runtime egress policies give their VMs (port -> a VM using it),
    /// replacing the previous set: not assigned or pinned to an organization while
    /// they are in it. An organization that already holds such a port keeps it.
    void set_runtime_ports(std::map<uint16_t, std::string> port_to_vm) { runtime_ = std::move(port_to_vm); }

    /// The organization's port: its existing one, else the next free one.
    result assign(std::string_view org);
    /// Gives the organization exactly `port` (in the range, not someone else's); moves
    /// its assignment if it had another.
    result pin(std::string_view org, uint16_t port);
    /// Gives the assignment up; not_found when there was none.
    result erase(std::string_view org);

    std::optional<uint16_t> port_of(std::string_view org) const;
    /// "org:ID", "vm:NAME" or empty when the port is free. with_runtime = false leaves
    /// out the ports of runtime egress policies (which several runtime VMs may share).
    std::string holder_of(uint16_t port, bool with_runtime = true) const;
    const std::map<std::string, uint16_t, std::less<>>& assignments() const { return by_org_; }
    const std::map<uint16_t, std::string>& reserved() const { return reserved_; }
    uint16_t first() const { return first_; }
    uint16_t last() const { return last_; }
    size_t free_ports() const;
    /// Restore only (restore_proxy_ports): records org -> port as stored, range unchecked.
    void restore_(std::string_view org, uint16_t port) {
        by_port_[port] = std::string(org);
        by_org_.insert_or_assign(std::string(org), port);
    }

private:
    uint16_t first_, last_;
    uint32_t cursor_;  ///< next port to try
    std::map<std::string, uint16_t, std::less<>> by_org_;
    std::map<uint16_t, std::string> by_port_;   ///< assigned: port -> org
    std::map<uint16_t, std::string> reserved_;  ///< unmanaged VMs: port -> VM name
    std::map<uint16_t, std::string> runtime_;   ///< runtime egress policies: port -> a VM

    bool held(uint16_t port) const { return by_port_.contains(port) || reserved_.contains(port) || runtime_.contains(port); }
};

/// The stored value for a port ("10001").
std::string encode_proxy_port(uint16_t port);
/// A stored value back; nullopt unless 1..65535 in plain decimal.
std::optional<uint16_t> decode_proxy_port(const std::vector<uint8_t>& value);

/// Loads the stored assignments into `table` (after its reservations). Returns one
/// line per record that could not be restored (bad id or value, port reserved or
/// already restored for another organization); those are left out. A stored port
/// outside the current range is kept: assignments are sticky across range changes.
std::vector<std::string> restore_proxy_ports(proxy_port_table& table, const leases::store_state::record_map& records);

}  // namespace eg::ctl
