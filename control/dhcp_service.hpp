#pragma once
// The DHCPv4 server as the gateway runs it: the sans-I/O core (control/dhcp/server)
// over the crash-safe lease store and the address pools (store_lease_book), fed with
// the frames the data plane punts (UDP to port 67 on ports with port_info::dhcp_server)
// and answering with whole frames for the inject ring.
//
//   punted frame ── on_frame ──► dhcp::server ──► send_action ── build_frame ──► send()
//                                      │ commit (ticket)
//   lease_store sync thread ── on_durable(d) ── post(io) ──► server.on_durable ──► held ACKs
//
// An ACK leaves only once its binding is fdatasync'ed (docs/lease-store.md): the store
// group-commits everything appended during one io_context turn (one request_commit per
// turn) and reports durability from its sync thread; the report is posted back here.
//
// Bindings feed the data plane: every (MAC, IPv4) a lease binds, or an allocation
// made through the admin API places (control/allocations), is admitted by NAT44's
// anti-spoofing at once (control/vm_admissions: a new snapshot is published from the
// control thread at its next turn, at most every k_publish_gap) and leaves when the
// lease is released or runs out, or the allocation is deleted.
//
// Owner: the control thread (the io_context's thread). Times are Unix seconds (the
// lease clock the store persists).
#include <utility>  // before asio: Boost 1.74 uses std::exchange without including it

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <set>

#include "config/config.hpp"
#include "control/allocations.hpp"
#include "control/dhcp/server.hpp"
#include "control/metrics/gateway_stats.hpp"
#include "control/snapshot_builder.hpp"
#include "control/vm_admissions.hpp"
#include "control/leases/lease_store.hpp"
#include "control/leases/store_lease_book.hpp"
#include "dataplane/packet.hpp"

namespace eg::ctl {

class dhcp_service {
public:
    /// The MAC a port sends with (the snapshot's port_info::mac).
    using mac_fn = std::function<dp::mac_bytes(uint16_t port)>;
    /// Transmits a whole frame on a port (the gateway's inject).
    using send_fn = std::function<void(uint16_t port, std::span<const uint8_t> frame)>;
    using log_fn = std::function<void(std::string_view line)>;

    /// Opens and replays the lease store in config.dhcp.state_dir and builds the pools.
    /// Throws std::runtime_error naming the directory when the store cannot be opened.
    /// `log` defaults to stderr.
    dhcp_service(const cfg::config& config, boost::asio::io_context& io, mac_fn port_mac, send_fn send,
                 log_fn log = {});
    ~dhcp_service();
    dhcp_service(const dhcp_service&) = delete;
    dhcp_service& operator=(const dhcp_service&) = delete;

    /// A frame punted from `port` (a DHCP request). `now_s`: Unix seconds. `offload`:
    /// the frame's offload metadata; a UDP checksum still to be filled in (needs_csum,
    /// e.g. a renewal a local socket sent over a veth) is completed before parsing.
    void on_frame(uint16_t port, std::span<const uint8_t> frame, uint64_t now_s,
                  const dp::offload_info& offload = {});
    /// Periodic work: ends offer holds, frees expired leases and quarantines.
    void on_tick(uint64_t now_s);

    const dhcp::server& server() const { return *server_; }
    const leases::lease_store& store() const { return *store_; }
    /// For other runtime records in the same store (proxy-port assignments).
    leases::lease_store& store() { return *store_; }
    const leases::store_lease_book& book() const { return *book_; }
    /// Frames handed to send() (replies), and replies that could not be framed.
    uint64_t frames_sent() const { return frames_sent_; }
    uint64_t frames_failed() const { return frames_failed_; }

    /// The lease clock: Unix time in seconds.
    static uint64_t clock_s();

    // --- the data plane's runtime VMs ------------------------------------------------
    /// `publish` builds and publishes a snapshot with runtime_vms() (the gateway's
    /// publish_snapshot, which then calls published()); it is called after bindings
    /// changed, at most once every k_publish_gap. `busy(slot)`: a worker still has
    /// sessions of that runtime slot (nat44_state::vm_sessions_live).
    void set_data_plane(std::function<void()> publish, vm_admissions::busy_fn busy);
    /// The runtime VMs by slot, for build_snapshot.
    std::vector<runtime_vm> runtime_vms() const;
    /// A snapshot built from runtime_vms() is current; `token` is its nat.retire_token.
    void published(const std::shared_ptr<const void>& token);
    const vm_admissions& admissions() const { return admissions_; }
    /// Per DHCP network: its pool's size and use (GET /v1/stats).
    std::vector<metrics::pool_stats> pool_stats() const;
    /// The server's counters and the lease store's, for the metrics. Live leases are
    /// counted over the store (O(records)) at most once per second of `now_s`.
    metrics::dhcp_stats dhcp_counters(uint64_t now_s);
    metrics::lease_store_stats lease_store_counters() const;
    size_t static_vms() const { return static_pairs_.size(); }

    // --- API allocations (control/allocations) ----------------------------------------
    const allocations& allocs() const { return *allocations_; }
    /// Creates (or finds) the allocation and admits its (MAC, IPv4) to the data plane.
    allocations::outcome create_allocation(std::string_view vps_id, std::string_view organization_id,
                                           const dp::mac_bytes& mac, std::string_view network, uint64_t now_s);
    /// Removes the allocation: its address goes back to the pool and its (MAC, IPv4)
    /// is no longer admitted (its DHCP binding was the allocation's record).
    allocations::outcome remove_allocation(std::string_view vps_id);
    /// Calls `done` once ticket `t` is durable (with no error), or with the store's
    /// error when it failed first. At once (synchronously) when it already is.
    void when_durable(leases::ticket t, std::function<void(std::error_code)> done);

private:
    void handle(std::vector<dhcp::action>& actions);
    void on_durable(leases::ticket d, std::error_code ec);
    void schedule_commit();
    void note_binding(const dhcp::lease_action& a);
    void log(std::string_view line) const;
    /// Per-lease lines (bound, released, declined, admitted, withdrawn): one each while
    /// there are at most k_lease_lines_per_s in a second of the clock; beyond that the
    /// rest of the second is one summary line (flush_lease_lines). A storm of thousands
    /// of new clients a second must not cost a formatted line and a write() each.
    bool lease_line_allowed();
    void flush_lease_lines();
    static constexpr uint32_t k_lease_lines_per_s = 100;
    /// Admits (mac, ipv4) for `reason` unless it is a [[vms]] pair; logs the outcome.
    /// `name`: an allocation's vps_id, or empty for a DHCP client's own lease (named
    /// "dhcp-<mac>" only if it takes a slot: vm_admissions::admit).
    void admit(uint8_t reason, const dp::mac_bytes& mac, uint32_t ipv4, std::string_view name, uint64_t expires_s,
               const dp::ipv6_bytes& ipv6 = {});
    void withdraw(uint8_t reason, const dp::mac_bytes& mac, uint32_t ipv4);
    /// Schedules one publish when the admissions changed: at the next turn of the
    /// io_context, or k_publish_gap after the previous one (a storm of new clients
    /// rebuilds the snapshot at most that often).
    void schedule_publish();
    static constexpr std::chrono::milliseconds k_publish_gap{10};

    boost::asio::io_context& io_;
    mac_fn port_mac_;
    send_fn send_;
    log_fn log_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  ///< posted handlers check it
    std::unique_ptr<leases::lease_store> store_;
    std::unique_ptr<leases::store_lease_book> book_;
    std::unique_ptr<dhcp::server> server_;
    std::unique_ptr<allocations> allocations_;
    /// [[vms]] (MAC, IPv4) pairs and addresses: admitted by the config already.
    std::set<std::pair<dp::mac_bytes, uint32_t>> static_pairs_;
    std::set<uint32_t> static_ips_;
    bool nat_ = false;  ///< NAT44 is on: bindings are admitted to its VM table
    vm_admissions admissions_{0};
    std::function<void()> publish_;
    bool publish_posted_ = false;
    boost::asio::steady_timer publish_timer_{io_};
    std::chrono::steady_clock::time_point last_publish_{};
    bool restoring_ = false;     ///< replaying the store at start-up: no line per VM
    uint64_t not_admitted_ = 0;  ///< bindings refused for want of a runtime slot
    std::multimap<leases::ticket, std::function<void(std::error_code)>> durable_waiters_;
    std::error_code store_failure_;
    std::map<uint32_t, std::vector<std::pair<uint32_t, uint32_t>>> pool_ranges_;  ///< network -> configured ranges
    bool commit_posted_ = false;
    uint64_t requested_ = 0;  ///< last ticket handed to request_commit()
    std::vector<dhcp::action> actions_;
    uint64_t frames_sent_ = 0, frames_failed_ = 0;
    uint64_t store_errors_logged_ = 0;
    uint64_t lease_lines_second_ = 0;
    uint32_t lease_lines_ = 0;
    uint64_t lease_lines_suppressed_ = 0;
    uint64_t active_at_s_ = ~uint64_t{0}, active_ = 0;  ///< dhcp_counters()' live-lease count and when
    /// The count also holds while the store has had no write since (its appended
    /// counter) and no binding it counted has ended (the restore's count, until the
    /// earliest end among them; 0 = none ends).
    uint64_t active_appended_ = ~uint64_t{0}, active_until_s_ = 0;
};

/// The server's view of config.dhcp (networks, options) and the lease book's (pools,
/// reservations from [[vms]]). Exposed for tests. Throws std::runtime_error for a
/// network whose port or prefix cannot be found (config validation keeps those out).
struct dhcp_plan {
    dhcp::server_config server;
    std::vector<leases::book_network> networks;
};
dhcp_plan plan_dhcp(const cfg::config& config);

}  // namespace eg::ctl
