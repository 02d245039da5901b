#include "control/probes/scheduler.hpp"

#include <algorithm>
#include <limits>

namespace eg::ctl::probes {

scheduler::scheduler(schedule_policy p, uint64_t seed)
    : p_(p), rng_(seed), spacing_us_(1'000'000 / std::max<uint32_t>(p.max_per_second, 1)) {
    p_.jitter_pct = std::min<uint32_t>(p_.jitter_pct, 50);
    p_.interval_ms = std::max<uint32_t>(p_.interval_ms, 1);
}

uint64_t scheduler::draw_interval() {
    const uint64_t base = p_.interval_ms;
    const uint64_t j = base * p_.jitter_pct / 100;
    if (j == 0) return base;
    std::uniform_int_distribution<uint64_t> d(0, 2 * j);
    return base - j + d(rng_);
}

void scheduler::add(uint16_t port, uint64_t now_ms) {
    if (targets_.contains(port)) return;
    std::uniform_int_distribution<uint64_t> d(0, p_.interval_ms - 1);
    targets_.emplace(port, target{now_ms + d(rng_), false});
}

void scheduler::remove(uint16_t port) { targets_.erase(port); }

std::vector<uint16_t> scheduler::take_due(uint64_t now_ms) {
    std::vector<std::pair<uint64_t, uint16_t>> due;
    for (const auto& [port, t] : targets_) {
        if (!t.in_flight && t.due_ms <= now_ms) due.emplace_back(t.due_ms, port);
    }
    std::sort(due.begin(), due.end());  // most overdue first
    std::vector<uint16_t> out;
    const uint64_t now_us = now_ms * 1000;
    // A token bucket of depth 1: idle time does not save up a burst.
    if (next_token_us_ < now_us) next_token_us_ = now_us;
    for (const auto& [due_ms, port] : due) {
        if (next_token_us_ > now_us) break;
        next_token_us_ += spacing_us_;
        targets_[port].in_flight = true;
        out.push_back(port);
    }
    return out;
}

bool scheduler::on_done(uint16_t port, uint64_t now_ms) {
    auto it = targets_.find(port);
    if (it == targets_.end() || !it->second.in_flight) return false;
    it->second.in_flight = false;
    it->second.due_ms = now_ms + draw_interval();
    return true;
}

uint64_t scheduler::next_wakeup(uint64_t now_ms) const {
    uint64_t next = std::numeric_limits<uint64_t>::max();
    for (const auto& [port, t] : targets_) {
        if (!t.in_flight) next = std::min(next, t.due_ms);
    }
    if (next == std::numeric_limits<uint64_t>::max()) return next;
    const uint64_t token_ms = (next_token_us_ + 999) / 1000;
    return std::max({next, token_ms, now_ms});
}

size_t scheduler::in_flight() const {
    return static_cast<size_t>(std::count_if(targets_.begin(), targets_.end(), [](const auto& kv) { return kv.second.in_flight; }));
}

}  // namespace eg::ctl::probes
