#pragma once
// Rise/fall health of one probed port, as HAProxy counts it: `rise` consecutive good
// probes make it healthy, `fall` consecutive bad ones unhealthy; anything between
// keeps the current state. A port starts `unknown` (not yet proven either way) and
// leaves it by whichever threshold it reaches first. Sans-I/O: results in, transitions
// out (the caller logs them and stamps the time).
// Owner: the control thread.
#include <cstdint>
#include <optional>
#include <string_view>

namespace eg::ctl::probes {

enum class health : uint8_t { unknown = 0, healthy = 1, unhealthy = 2 };
std::string_view to_string(health h);

struct transition {
    health from, to;
};

class health_tracker {
public:
    /// rise, fall >= 1 (config keeps them so; 0 is taken as 1).
    health_tracker(uint32_t rise, uint32_t fall) : rise_(rise ? rise : 1), fall_(fall ? fall : 1) {}

    /// One probe's outcome; returns the state change it caused, if any.
    std::optional<transition> on_result(bool ok);

    health state() const { return state_; }
    uint32_t consecutive_ok() const { return ok_; }
    uint32_t consecutive_fail() const { return fail_; }

private:
    uint32_t rise_, fall_;
    health state_ = health::unknown;
    uint32_t ok_ = 0, fail_ = 0;
};

}  // namespace eg::ctl::probes
