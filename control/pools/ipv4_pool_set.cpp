#include "control/pools/ipv4_pool_set.hpp"

#include <algorithm>

namespace eg::ctl::pools {

std::error_code ipv4_pool_set::add(uint32_t network, uint8_t prefix_len, const ipv4_pool::options& opts) {
    if (prefix_len < 8 || prefix_len > 30) return pool_errc::bad_prefix;
    const uint64_t size = uint64_t{1} << (32 - prefix_len);
    if ((network & (size - 1)) != 0) return pool_errc::bad_prefix;
    const uint64_t last = network + size - 1;
    for (const ipv4_pool* p : by_network_) {
        const uint64_t plast = uint64_t{p->network()} + (uint64_t{1} << (32 - p->prefix_len())) - 1;
        if (network <= plast && p->network() <= last) return pool_errc::overlap;
    }
    pools_.push_back(std::make_unique<ipv4_pool>(network, prefix_len, opts));
    ipv4_pool* p = pools_.back().get();
    by_network_.insert(std::upper_bound(by_network_.begin(), by_network_.end(), network,
                                        [](uint32_t n, const ipv4_pool* q) { return n < q->network(); }),
                       p);
    return {};
}

const ipv4_pool* ipv4_pool_set::find(uint32_t addr) const {
    auto it = std::upper_bound(by_network_.begin(), by_network_.end(), addr,
                               [](uint32_t a, const ipv4_pool* q) { return a < q->network(); });
    if (it == by_network_.begin()) return nullptr;
    const ipv4_pool* p = *std::prev(it);
    return p->contains(addr) ? p : nullptr;
}

ipv4_pool* ipv4_pool_set::find(uint32_t addr) {
    return const_cast<ipv4_pool*>(static_cast<const ipv4_pool_set*>(this)->find(addr));
}

std::optional<uint32_t> ipv4_pool_set::allocate() {
    // Pools before first_with_space_ were full when last looked at; a release into
    // one of them moves the hint back (see release/reclaim), so none is skipped.
    for (size_t i = first_with_space_; i < pools_.size(); ++i) {
        if (auto a = pools_[i]->allocate()) {
            first_with_space_ = i;
            return a;
        }
    }
    first_with_space_ = pools_.size();
    return std::nullopt;
}

std::error_code ipv4_pool_set::reserve(uint32_t addr) {
    ipv4_pool* p = find(addr);
    return p ? p->reserve(addr) : make_error_code(pool_errc::out_of_range);
}

std::error_code ipv4_pool_set::release(uint32_t addr) {
    ipv4_pool* p = find(addr);
    if (!p) return pool_errc::out_of_range;
    const std::error_code ec = p->release(addr);
    if (!ec) first_with_space_ = 0;
    return ec;
}

std::error_code ipv4_pool_set::quarantine(uint32_t addr, uint64_t until_s) {
    ipv4_pool* p = find(addr);
    return p ? p->quarantine(addr, until_s) : make_error_code(pool_errc::out_of_range);
}

size_t ipv4_pool_set::reclaim_quarantine(uint64_t now_s) {
    size_t n = 0;
    for (auto& p : pools_) n += p->reclaim_quarantine(now_s);
    if (n) first_with_space_ = 0;
    return n;
}

std::optional<uint64_t> ipv4_pool_set::next_quarantine_end() const {
    std::optional<uint64_t> best;
    for (const auto& p : pools_) {
        if (auto t = p->next_quarantine_end(); t && (!best || *t < *best)) best = t;
    }
    return best;
}

ipv4_pool::address_state ipv4_pool_set::state(uint32_t addr) const {
    const ipv4_pool* p = find(addr);
    return p ? p->state(addr) : ipv4_pool::address_state::outside;
}

uint64_t ipv4_pool_set::total() const {
    uint64_t n = 0;
    for (const auto& p : pools_) n += p->total();
    return n;
}
uint64_t ipv4_pool_set::used() const {
    uint64_t n = 0;
    for (const auto& p : pools_) n += p->used();
    return n;
}
uint64_t ipv4_pool_set::quarantined() const {
    uint64_t n = 0;
    for (const auto& p : pools_) n += p->quarantined();
    return n;
}
uint64_t ipv4_pool_set::available() const {
    uint64_t n = 0;
    for (const auto& p : pools_) n += p->available();
    return n;
}

}  // namespace eg::ctl::pools
