#pragma once
// A run-to-completion worker: one thread, pinned to one core, owning one queue of
// every port. Each iteration receives a burst per port, runs the pipeline, transmits
// per egress port, drains frames the control thread injected, and reports an RCU
// quiescent state. When nothing arrived for idle_poll_us it sleeps in epoll on the
// ports' wait fds (adaptive polling: busy under load, asleep when idle).
#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/idle_policy.hpp"
#include "dataplane/io/port_io.hpp"
#include "dataplane/nat44_state.hpp"
#include "dataplane/neighbour_table.hpp"
#include "dataplane/rcu.hpp"
#include "dataplane/snapshot.hpp"
#include "dataplane/worker_context.hpp"

namespace eg::dp {

struct worker_options {
    uint32_t id = 0;              ///< also this worker's RCU reader index
    int core = -1;                ///< CPU to pin to; -1 = not pinned
    uint32_t burst_size = 32;
    idle_policy_options idle;     ///< when to poll, nap or sleep (idle_policy.hpp)
    uint32_t icmp_errors_per_second = 1000;
};

class worker {
public:
    /// `ports[i]` is this worker's queue of port i (same order as snapshot.ports).
    /// `inject_event_fd` is signalled by the control thread after it fills `inject`;
    /// this worker signals `punt_event_fd` after a burst that punted something.
    worker(const worker_options& opts, std::vector<port_io*> ports, rcu_publisher<snapshot>& snapshots,
           const neighbour_table& neighbours, frame_ring& punt, frame_ring& inject, int punt_event_fd,
           int inject_event_fd, worker_counters& counters);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    /// Gives the worker its NAT44 state (before run(); owned by the caller, outlives
    /// the worker). Without one, NAT is off on this worker.
    void set_nat(nat44_state* nat) { ctx_.nat = nat; }
    /// Links to the other workers (several workers with NAT; before run()).
    void set_handoff(handoff_links* links);
    /// Bursts taken from each incoming handoff ring per poll, at most.
    static constexpr uint32_t k_handoff_bursts_per_poll = 4;
    /// Gives the worker its WireGuard state (before run(); owned by the caller). Its
    /// command ring is drained every iteration; the control thread signals the inject
    /// eventfd after pushing to it.
    void set_wireguard(wireguard_state* wg) { ctx_.wg = wg; }
    /// Set while this worker sleeps in epoll (handoff producers then wake it).
    const std::atomic<bool>& asleep() const { return asleep_; }

    /// Thread body: loops until `stop` is set.
    void run(const std::atomic<bool>& stop);

    /// One iteration without sleeping (for tests and benchmarks). Returns the number
    /// of packets received.
    uint32_t poll_once();

    /// What one poll received (the idle policy gates its naps on both).
    struct poll_result {
        uint32_t packets = 0;
        uint64_t bytes = 0;
    };
    /// One iteration on the clock `now_ns` (monotonic; tests set it to reach a timeout).
    poll_result poll_once(uint64_t now_ns);

private:
    void transmit_all();
    void drain_inject(const snapshot& s);
    uint32_t drain_handoff(const snapshot& s);
    void dispatch(burst& b, const snapshot& s);
    void wake_handoff_targets();
    bool handoff_pending() const;
    void fragment(packet& p, const snapshot& s);
    void segment_into_tunnel(packet& p, const snapshot& s);
    void drain_wireguard_commands(const snapshot& s);
    void send_staged(const snapshot& s);
    void originate(const frame_message& m, const snapshot& s);
    void place(packet* p);
    void sleep_until_work();

    worker_options opts_;
    std::vector<port_io*> ports_;
    rcu_publisher<snapshot>& snapshots_;
    frame_ring& inject_;
    int punt_event_fd_;
    int inject_event_fd_;
    int epoll_fd_ = -1;
    int sleep_ms_ = 100;  ///< longest idle sleep; 1 ms when some port cannot wake us
    std::vector<int> sleep_only_fds_;  ///< level fds, in epoll only while asleep (port_io::wait_fd_is_level)
    worker_context ctx_;
    // Per egress port: packets decided for it in this iteration.
    std::vector<std::vector<packet*>> tx_lists_;
    std::vector<packet*> release_list_;
    std::atomic<bool> asleep_{false};
};

/// Monotonic time in nanoseconds (vDSO clock_gettime, ~50 ns: called once per burst).
uint64_t monotonic_ns();

}  // namespace eg::dp
