#pragma once
// Proxy-port assignments as the gateway runs them: the sans-I/O table
// (control/proxy_ports) over the lease store, plus what follows a change — the
// organization's proxy VMs get the port in the next snapshot (apply()), the probes
// get the new target set. Start-up: unmanaged VMs' ports are reserved, stored
// assignments restored, and every [[vms]] organization without one is assigned (its
// proxy_port from the config if it has one, else the next free port) and stored.
//
// Persistence: each change is a kv record (namespace "proxy_port") appended to the
// store and handed to its sync thread at once (request_commit); the API answer does
// not wait for the fdatasync (an assignment lost to a crash in that window is
// re-assigned on the next request, possibly to another port).
// Owner: the control thread.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "control/leases/lease_store.hpp"
#include "control/proxy_ports.hpp"
#include "dataplane/nat44_policy.hpp"

namespace eg::ctl {

class proxy_ports_service {
public:
    using log_fn = std::function<void(std::string_view)>;
    /// `shared_store`: the DHCP service's store when [dhcp] runs (one store per
    /// directory); nullptr opens proxy_ports.state_dir. Throws std::runtime_error naming
    /// the directory when it cannot be opened (start-up only).
    proxy_ports_service(const cfg::config& config, leases::lease_store* shared_store, log_fn log_to = {});
    ~proxy_ports_service();

    struct change {
        proxy_port_table::result r;
        bool stored = true;       ///< false: the store refused the record (r holds what was asked)
        std::string store_error;
    };
    change assign(std::string_view org);
    change pin(std::string_view org, uint16_t port);
    change erase(std::string_view org);

    /// Sets the proxy_port of every snapshot VM whose [[vms]] entry names an organization.
    void apply(dp::nat44_policy& nat) const;
    /// Every port in use on the upstream and who holds it ("org:ID" / "vm:NAME").
    std::map<uint16_t, std::string> targets() const;
    /// The [[vms]] names that use this organization's port.
    std::vector<std::string> vms_of(std::string_view org) const;

    const proxy_port_table& table() const { return table_; }
    /// The store the assignments live in (shared with other runtime records).
    leases::lease_store& store() { return *store_; }
    /// Called after every change that was applied (the gateway publishes a snapshot and
    /// updates the probes).
    void on_change(std::function<void()> f) { on_change_ = std::move(f); }

private:
    bool persist(std::string_view org, std::optional<uint16_t> port, std::string& error);
    void log(std::string_view line) const;

    log_fn log_;
    std::unique_ptr<leases::lease_store> own_store_;
    leases::lease_store* store_ = nullptr;
    proxy_port_table table_;
    std::map<std::string, std::string> vm_org_;  ///< [[vms]] name -> organization (proxy VMs with one)
    std::function<void()> on_change_;
};

}  // namespace eg::ctl
