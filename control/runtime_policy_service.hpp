#pragma once
// Runtime forwards and egress policies (control/runtime_policies) kept in the lease
// store, so they survive restarts (docs/lease-store.md: a kv record per entry,
// namespaces "forward" and "egress"). Each change is applied to the table at once and
// appended to the store; the returned ticket says when it is durable (the admin API
// answers only then, as it does for allocations). At start-up the stored entries are
// checked again against this run's config: one that no longer holds (its VM is gone,
// its port is now in the dynamic range, ...) is dropped from the store with a log line.
// Owner: the control thread.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "control/leases/lease_store.hpp"
#include "control/runtime_policies.hpp"

namespace eg::ctl {

/// The upstream proxy ports of the stored runtime `proxy` policies (port -> a VM),
/// for [proxy_ports] to keep from organizations before the policies are restored.
std::map<uint16_t, std::string> stored_runtime_proxy_ports(const leases::store_state::record_map& records);

class runtime_policy_service {
public:
    using log_fn = std::function<void(std::string_view)>;

    /// `store` may be null (no [dhcp] and no [proxy_ports]: no state directory); then
    /// every change is refused with not_configured.
    runtime_policy_service(const cfg::config* config, leases::lease_store* store, log_fn log);

    struct change {
        policy_result r;
        leases::ticket t = 0;   ///< durable from this ticket on (0: nothing was written)
        bool changed = false;   ///< the table changed: a new snapshot is due
        bool created = false;   ///< a new entry (201), not a replacement
    };
    change add_forward(const cfg::nat_forward_config& f, const allocation_lookup& a);
    change remove_forward(std::string_view id);
    change set_egress(std::string_view vm, const egress_setting& e, const allocation_lookup& a);
    change remove_egress(std::string_view vm);

    /// Reads the stored entries into the table; drops those that do not hold any more.
    void restore(const allocation_lookup& a);
    /// Removes the egress policies of allocations that are gone (the policy lives as
    /// long as its allocation); true when something was removed.
    bool prune(const allocation_lookup& a);

    const runtime_policies& table() const { return table_; }
    runtime_policies& table() { return table_; }
    bool persistent() const { return store_ != nullptr; }

private:
    change write(std::string_view ns, std::string_view key, const nlohmann::json* value);
    void log(const std::string& line) const;

    runtime_policies table_;
    leases::lease_store* store_;
    log_fn log_;
};

}  // namespace eg::ctl
