#pragma once
// When each port is probed: every `interval_ms` +- `jitter_pct` (drawn afresh for each
// probe, so ports added together drift apart and never probe the upstream in lockstep),
// at most one probe per port in flight, and no more than `max_per_second` probes
// started per second over all ports (a token bucket of depth 1: starts are at least
// 1/max_per_second apart). A probe that the limit holds back stays due and goes first
// when a token comes (most overdue first), so a large port set stretches its interval
// instead of piling up. Sans-I/O: times are milliseconds on a monotonic clock given by
// the caller; randomness comes from a seeded engine (tests fix the seed).
// Owner: the control thread.
#include <cstdint>
#include <map>
#include <random>
#include <vector>

namespace eg::ctl::probes {

struct schedule_policy {
    uint32_t interval_ms = 10000;
    uint32_t jitter_pct = 10;      ///< 0..50
    uint32_t max_per_second = 20;  ///< >= 1
};

class scheduler {
public:
    scheduler(schedule_policy p, uint64_t seed);

    /// Adds a port (no-op if present): its first probe is due at a random point of the
    /// first interval after `now_ms`, so a restart does not probe every port at once.
    void add(uint16_t port, uint64_t now_ms);
    /// Removes it; a probe in flight is forgotten (its completion is ignored).
    void remove(uint16_t port);
    bool contains(uint16_t port) const { return targets_.contains(port); }

    /// Ports to start probing now (marked in flight), within the rate limit.
    std::vector<uint16_t> take_due(uint64_t now_ms);
    /// A probe of `port` ended (any outcome): the next is due one jittered interval
    /// after `now_ms`. False if the port is not (any more) scheduled or not in flight.
    bool on_done(uint16_t port, uint64_t now_ms);

    /// When take_due() next has something (or a token for it): now_ms if already; a
    /// far-future value when there are no targets.
    uint64_t next_wakeup(uint64_t now_ms) const;
    /// The jittered interval drawn for one probe (exposed for tests).
    uint64_t draw_interval();

    size_t size() const { return targets_.size(); }
    size_t in_flight() const;

private:
    struct target {
        uint64_t due_ms = 0;
        bool in_flight = false;
    };
    schedule_policy p_;
    std::mt19937_64 rng_;
    std::map<uint16_t, target> targets_;
    uint64_t spacing_us_;            ///< 1e6 / max_per_second
    uint64_t next_token_us_ = 0;     ///< no start before this (microseconds)
};

}  // namespace eg::ctl::probes
