#pragma once
// What the probes know about one port, as a plain copy for GET /v1/probes and the
// metrics (any thread may hold one).
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "control/probes/health.hpp"

namespace eg::ctl::probes {

/// Upper bounds (seconds) of the probe latency histogram's buckets (+Inf implied).
inline constexpr std::array<double, 12> k_latency_buckets_s = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                               0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

struct port_status {
    uint16_t port = 0;
    std::string owner;                       ///< "org:ID" or "vm:NAME"
    health state = health::unknown;
    uint32_t consecutive_ok = 0, consecutive_fail = 0;
    std::optional<double> last_latency_ms;   ///< of the last probe that got an answer
    std::string exit_address;                ///< the last one seen
    std::optional<bool> matches;             ///< the last one seen vs probes.expect_address
    std::string last_error;                  ///< of the last probe; empty if it was good
    int64_t last_probe_unix_s = 0;           ///< 0 = not probed yet
    int64_t last_change_unix_s = 0;          ///< 0 = never changed state
    uint64_t probes = 0, failures = 0;
    /// Latency of answered probes: per-bucket counts (not cumulative), the last one +Inf.
    std::array<uint64_t, k_latency_buckets_s.size() + 1> latency_buckets{};
    double latency_sum_s = 0;
    uint64_t latency_count = 0;
};

}  // namespace eg::ctl::probes
