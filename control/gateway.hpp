#pragma once
// The running gateway: opens every port through its backend, starts one worker per
// configured core, publishes the first Snapshot, and runs the control thread's event
// loop (boost.asio): punted frames -> neighbour resolver, periodic router
// advertisements, neighbour aging, RCU reclamation, the status line and signals.
// Owner: the main thread, which becomes the control thread in run().
#include <atomic>
#include <utility>  // before asio: Boost 1.74 uses std::exchange without including it

#include <boost/asio.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "control/dhcp_service.hpp"
#include "control/api/server.hpp"
#include "control/api/v1_reload.hpp"
#include "control/metrics/exposer.hpp"
#include "control/metrics/gateway_stats.hpp"
#include "control/nat_log.hpp"
#include "control/wireguard_peer_records.hpp"
#include "control/wireguard_service.hpp"
#include "control/neighbour_resolver.hpp"
#include "control/probes/prober.hpp"
#include "control/proxy_ports_service.hpp"
#include "control/runtime_policy_service.hpp"
#include "dataplane/counters.hpp"
#include "dataplane/handoff.hpp"
#include "dataplane/io/port_io.hpp"
#include "dataplane/neighbour_table.hpp"
#include "dataplane/rcu.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker.hpp"

namespace eg::dp {
class buffer_pool;
class dpdk_environment;
class dpdk_port;
}  // namespace eg::dp

namespace eg::ctl {

/// The version the admin API and the edgegate_info metric report.
inline constexpr const char* k_version = "0.1.0";

/// Sums of the workers' counters, for the status line and metrics.
struct totals {
    uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0, drops = 0, forwarded4 = 0,
             forwarded6 = 0, punted = 0, to_host = 0, backend_drops = 0, nat_created = 0, nat_expired = 0,
             nat_translated = 0, nat_handed_off = 0;
    uint64_t nat_sessions = 0;  ///< live sessions and mappings over all workers
    std::vector<uint64_t> drops_by_reason;
};

class gateway {
public:
    /// Opens ports and builds workers; throws std::runtime_error with a clear message
    /// when a port cannot be opened (startup only).
    explicit gateway(cfg::config config);
    ~gateway();
    gateway(const gateway&) = delete;
    gateway& operator=(const gateway&) = delete;

    /// Starts the workers and runs the control loop until SIGINT/SIGTERM or stop().
    void run();
    /// Thread-safe: asks run() to return.
    void stop();

    totals sum_counters() const;
    const dp::snapshot& current_snapshot() const { return *snapshots_.acquire(); }

    /// Control thread only: the counters summed (per port too) with the control
    /// thread's own figures, for GET /v1/stats and the metrics.
    metrics::gateway_stats stats();
    /// Any thread (the metrics exposer's): stats() run on the control thread, waited
    /// for at most `wait`; nullopt when the control loop is not running or too slow.
    std::optional<metrics::gateway_stats> stats_from_any_thread(std::chrono::milliseconds wait);

private:
    void open_ports();
    /// Tells the WireGuard service the networks and routes runtime peers may not claim.
    void share_networks_with_wireguard();
    void configure_host_kernel();
    void publish_snapshot();
    void inject(uint16_t port, std::span<const uint8_t> frame, const dp::offload_info& offload);
    /// Wakes worker 0 for the frames injected during this turn of the control loop.
    void wake_injector();
    void drain_punts();
    void arm_punt_wait();
    void on_tick();
    void send_router_advertisements();
    void print_status();
    void collect_backend_drops();
    void drain_nat_events();
    void on_dhcp_frame(const dp::frame_message& m, const dp::snapshot& s, uint64_t now_ms);
    /// Hands an IPv4 packet of ours (after 14 blank bytes) to worker 0 to route.
    void originate(std::span<const uint8_t> frame);
    void arm_reload_signal();

public:
    /// Re-reads the config file (SIGHUP, POST /v1/reload): applies what a running
    /// gateway can change (control/config_reload: routes, port forwards, VMs' egress)
    /// with a new snapshot, or changes nothing and says why (an invalid file; something
    /// that needs a restart changed; a runtime forward or egress policy would clash).
    api::reload_outcome reload();

private:
    void start_control_services();
    void stop_control_services();

    cfg::config config_;
    uint32_t workers_count_;
    std::vector<dp::worker_counters> counters_;
    dp::neighbour_table neighbours_;
    dp::rcu_publisher<dp::snapshot> snapshots_;
    std::vector<std::unique_ptr<dp::frame_ring>> punt_rings_;
    std::vector<std::unique_ptr<dp::frame_ring>> inject_rings_;
    int punt_event_fd_ = -1;
    std::vector<int> inject_event_fds_;
    // Backends (destroyed after the workers that use them).
    std::vector<std::unique_ptr<dp::buffer_pool>> pools_;
#ifdef EG_WITH_DPDK
    std::unique_ptr<dp::dpdk_environment> dpdk_env_;
    std::vector<std::unique_ptr<dp::dpdk_port>> dpdk_ports_;
#endif
    std::vector<std::vector<std::unique_ptr<dp::port_io>>> worker_ports_;  // [worker][port]
    std::vector<dp::mac_bytes> port_macs_;
    dp::mac_bytes host_kernel_mac_{};
    std::vector<std::unique_ptr<dp::nat44_state>> nat_states_;  // [worker], when NAT is on
    std::unique_ptr<nat_log> nat_log_;
    std::unique_ptr<wireguard_service> wg_;  // with [[wireguard]] tunnels
    uint64_t dhcp_frames_unhandled_ = 0;
    std::unique_ptr<dp::handoff_mesh> handoff_;  // several workers with NAT or WireGuard
    std::vector<std::unique_ptr<dp::worker>> workers_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stop_workers_{false};
    uint64_t generation_ = 0;

    boost::asio::io_context io_;
    boost::asio::signal_set signals_{io_, SIGINT, SIGTERM};
    boost::asio::signal_set reload_signal_{io_, SIGHUP};
    boost::asio::steady_timer tick_timer_{io_};
    boost::asio::steady_timer status_timer_{io_};
    boost::asio::steady_timer ra_timer_{io_};
    std::unique_ptr<boost::asio::posix::stream_descriptor> punt_wait_;
    std::unique_ptr<neighbour_resolver> resolver_;
    totals last_totals_{};
    uint64_t backend_drops_ = 0;
    bool inject_wake_posted_ = false;  ///< a wake_injector() is queued on io_
    uint64_t inject_drops_ = 0;   ///< frames the control thread could not inject (ring full)  ///< frames lost before the engine saw them (all ports)
    uint64_t last_status_ms_ = 0;
    std::unique_ptr<dhcp_service> dhcp_;  ///< when [dhcp] is configured (after io_: it posts to it)

    // Admin API and metrics (README "Admin API", "Metrics"); declared after io_ so they
    // are destroyed before it. Started by run(), stopped when its loop ends.
    uint64_t started_ms_ = 0;
    std::atomic<bool> control_loop_running_{false};
    std::unique_ptr<api::server> api_server_;
    std::unique_ptr<metrics::exposer> metrics_exposer_;

    // Proxy-port assignments ([proxy_ports], after dhcp_: it may share its store) and
    // their health probes ([probes]; started by run() with the API).
    std::unique_ptr<proxy_ports_service> proxy_ports_;
    std::unique_ptr<probes::prober> prober_;
    void start_proxy_ports();

    // Forwards and egress policies set through the API, kept in the lease store
    // (control/runtime_policy_service); laid over every snapshot.
    std::unique_ptr<runtime_policy_service> runtime_;
    // WireGuard peers added through the API, kept in the same store (after wg_ and the
    // services that own the store: it refers to both).
    std::unique_ptr<wireguard_peer_records> wg_records_;
    uint64_t config_generation_ = 1;  ///< moves with every applied reload (API caches)
    /// The allocations and proxy-port holders the runtime checks consult, now.
    allocation_lookup lookups() const;
    /// Durable-ticket waits for the runtime records' store.
    void when_durable(leases::ticket t, std::function<void(std::error_code)> done);
};

/// Milliseconds on the monotonic clock (the control thread's notion of now).
uint64_t now_ms();

}  // namespace eg::ctl
