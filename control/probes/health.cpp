#include "control/probes/health.hpp"

namespace eg::ctl::probes {

std::string_view to_string(health h) {
    switch (h) {
    case health::unknown: return "unknown";
    case health::healthy: return "healthy";
    case health::unhealthy: return "unhealthy";
    }
    return "unknown";
}

std::optional<transition> health_tracker::on_result(bool ok) {
    if (ok) {
        ++ok_;
        fail_ = 0;
    } else {
        ++fail_;
        ok_ = 0;
    }
    const health before = state_;
    if (ok && ok_ >= rise_ && state_ != health::healthy) {
        state_ = health::healthy;
    } else if (!ok && fail_ >= fall_ && state_ != health::unhealthy) {
        state_ = health::unhealthy;
    }
    if (state_ == before) return std::nullopt;
    return transition{before, state_};
}

}  // namespace eg::ctl::probes
