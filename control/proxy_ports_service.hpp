#pragma once
// Proxy-port assignments as the gateway runs them: the sans-I/O table
// (control/proxy_ports) over the lease store, plus what follows a change — the
// organization's proxy VMs get the port in the next snapshot (apply()), the probes
// get the new target set. Start-up: unmanaged VMs' ports are reserved, stored
// assignments restored, and every [[vms]] organization without one is assigned (its
// proxy_port from the config if it has one, else the next free port) and stored.
//
// Persistence: each change is a kv record (namespace "proxy_port") appended to the
// store and handed to its sync thread at once (request_commit); a change carries the
// ticket after which it is durable, and the API answers only then (when_durable), so
// an acknowledged assignment survives kill -9 and power loss.
// Owner: the control thread.
#include <utility>  // before asio: Boost 1.74 uses std::exchange without including it

#include <boost/asio/io_context.hpp>
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

/// How proxy_ports_service's answers wait for the disk. With a shared store its owner
/// hears the store's durability reports, so `shared_when_durable` is the owner's
/// when_durable (dhcp_service::when_durable). With its own store the service hears them
/// on the sync thread and posts them to `io`; without an io_context (tools, tests)
/// when_durable blocks in commit() instead.
struct proxy_ports_durability {
    std::function<void(leases::ticket, std::function<void(std::error_code)>)> shared_when_durable;
    boost::asio::io_context* io = nullptr;
};

class proxy_ports_service {
public:
    using log_fn = std::function<void(std::string_view)>;
    using done_fn = std::function<void(std::error_code)>;
    using durability = proxy_ports_durability;
    /// `shared_store`: the DHCP service's store when [dhcp] runs (one store per
    /// directory); nullptr opens proxy_ports.state_dir. Throws std::runtime_error naming
    /// the directory when it cannot be opened (start-up only).
    proxy_ports_service(const cfg::config& config, leases::lease_store* shared_store, log_fn log_to = {},
                        durability d = {});
    ~proxy_ports_service();

    struct change {
        proxy_port_table::result r;
        bool stored = true;       ///< false: the store refused the record (r holds what was asked)
        std::string store_error;
        /// Answer once this is durable: the change's record, or for an unchanged result
        /// the store's last ticket (the same request may have changed it a moment ago).
        leases::ticket t = 0;
    };
    change assign(std::string_view org);
    change pin(std::string_view org, uint16_t port);
    change erase(std::string_view org);
    /// Calls `done` once ticket `t` is durable (no error), or with the store's error when
    /// it failed first; at once when it already is.
    void when_durable(leases::ticket t, done_fn done);

    /// The ports runtime egress policies use now (runtime_policies::proxy_ports_in_use):
    /// kept from organizations while in use (proxy_port_table::set_runtime_ports).
    void set_runtime_ports(std::map<uint16_t, std::string> port_to_vm) { table_.set_runtime_ports(std::move(port_to_vm)); }

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
    void on_durable(leases::ticket d, std::error_code ec);  // own store, control thread

    log_fn log_;
    durability durability_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  ///< posted reports check it
    std::multimap<leases::ticket, done_fn> durable_waiters_;  ///< own store with an io_context
    std::error_code store_failure_;
    std::unique_ptr<leases::lease_store> own_store_;
    leases::lease_store* store_ = nullptr;
    proxy_port_table table_;
    std::map<std::string, std::string> vm_org_;  ///< [[vms]] name -> organization (proxy VMs with one)
    std::function<void()> on_change_;
};

}  // namespace eg::ctl
