#include "control/pools/ipv4_pool.hpp"

#include <algorithm>
#include <stdexcept>

namespace eg::ctl::pools {

namespace {
uint64_t checked_size(uint32_t network, uint8_t prefix_len) {
    if (prefix_len < 8 || prefix_len > 30) {
        throw std::invalid_argument("ipv4_pool: prefix length must be between /8 and /30");
    }
    const uint64_t size = uint64_t{1} << (32 - prefix_len);
    if ((network & (size - 1)) != 0) {
        throw std::invalid_argument("ipv4_pool: network address has host bits set");
    }
    return size;
}
}  // namespace

ipv4_pool::ipv4_pool(uint32_t network, uint8_t prefix_len, const options& opts)
    : network_(network), prefix_len_(prefix_len), size_(checked_size(network, prefix_len)), bits_(size_) {
    std::vector<ipv4_range> ex;
    if (opts.exclude_network_and_broadcast) {
        ex.push_back({0, 0});
        ex.push_back({static_cast<uint32_t>(size_ - 1), static_cast<uint32_t>(size_ - 1)});
    }
    for (uint32_t a : opts.excluded_addresses) {
        if (contains(a)) ex.push_back({a - network_, a - network_});
    }
    const uint64_t last_addr = network_ + size_ - 1;
    for (const auto& r : opts.excluded_ranges) {
        if (r.last < r.first || r.last < network_ || r.first > last_addr) continue;
        const uint32_t lo = std::max(r.first, network_) - network_;
        const uint32_t hi = static_cast<uint32_t>(std::min<uint64_t>(r.last, last_addr) - network_);
        ex.push_back({lo, hi});
    }
    // Merge into sorted disjoint ranges so state() can binary-search them.
    std::sort(ex.begin(), ex.end(), [](const ipv4_range& a, const ipv4_range& b) { return a.first < b.first; });
    for (const auto& r : ex) {
        if (!exclusions_.empty() && uint64_t{r.first} <= uint64_t{exclusions_.back().last} + 1) {
            exclusions_.back().last = std::max(exclusions_.back().last, r.last);
        } else {
            exclusions_.push_back(r);
        }
    }
    for (const auto& r : exclusions_) {
        bits_.set_range(r.first, r.last);
        excluded_ += uint64_t{r.last} - r.first + 1;
    }
}

bool ipv4_pool::is_excluded(uint32_t offset) const {
    auto it = std::upper_bound(exclusions_.begin(), exclusions_.end(), offset,
                               [](uint32_t o, const ipv4_range& r) { return o < r.first; });
    return it != exclusions_.begin() && std::prev(it)->contains(offset);
}

std::optional<uint32_t> ipv4_pool::allocate() {
    if (available() == 0) return std::nullopt;
    uint64_t i = bits_.find_free_from(cursor_);
    if (i == free_bitmap::npos) i = bits_.find_free_from(0);
    if (i == free_bitmap::npos) return std::nullopt;  // unreachable while available() > 0
    bits_.set(i);
    ++used_;
    cursor_ = i + 1;
    return static_cast<uint32_t>(network_ + i);
}

std::error_code ipv4_pool::reserve(uint32_t addr) {
    if (!contains(addr)) return pool_errc::out_of_range;
    const uint32_t o = addr - network_;
    if (bits_.test(o)) {
        if (is_excluded(o)) return pool_errc::excluded;
        return quarantine_.contains(o) ? pool_errc::quarantined : pool_errc::in_use;
    }
    bits_.set(o);
    ++used_;
    return {};
}

std::error_code ipv4_pool::release(uint32_t addr) {
    if (!contains(addr)) return pool_errc::out_of_range;
    const uint32_t o = addr - network_;
    if (!bits_.test(o)) return pool_errc::not_in_use;
    if (is_excluded(o)) return pool_errc::excluded;
    if (quarantine_.contains(o)) return pool_errc::quarantined;
    bits_.clear(o);
    --used_;
    return {};
}

std::error_code ipv4_pool::quarantine(uint32_t addr, uint64_t until_s) {
    if (!contains(addr)) return pool_errc::out_of_range;
    const uint32_t o = addr - network_;
    if (is_excluded(o)) return pool_errc::excluded;
    auto it = quarantine_.find(o);
    if (it != quarantine_.end()) {
        it->second = until_s;  // the old heap entry is skipped when it comes up
    } else {
        if (bits_.test(o)) {
            --used_;  // in use -> quarantined
        } else {
            bits_.set(o);
        }
        quarantine_.emplace(o, until_s);
    }
    expiry_.emplace(until_s, o);
    return {};
}

size_t ipv4_pool::reclaim_quarantine(uint64_t now_s) {
    size_t n = 0;
    while (!expiry_.empty() && expiry_.top().first <= now_s) {
        const auto [until, o] = expiry_.top();
        expiry_.pop();
        auto it = quarantine_.find(o);
        if (it == quarantine_.end() || it->second != until) continue;  // moved or gone
        quarantine_.erase(it);
        bits_.clear(o);
        ++n;
    }
    return n;
}

std::optional<uint64_t> ipv4_pool::next_quarantine_end() const {
    // The heap top may be a stale entry; it is never later than the true minimum,
    // so a timer armed for it fires early at worst and reclaim_quarantine() re-arms.
    if (expiry_.empty()) return std::nullopt;
    return expiry_.top().first;
}

ipv4_pool::address_state ipv4_pool::state(uint32_t addr) const {
    if (!contains(addr)) return address_state::outside;
    const uint32_t o = addr - network_;
    if (!bits_.test(o)) return address_state::free;
    if (is_excluded(o)) return address_state::excluded;
    if (quarantine_.contains(o)) return address_state::quarantined;
    return address_state::in_use;
}

}  // namespace eg::ctl::pools
