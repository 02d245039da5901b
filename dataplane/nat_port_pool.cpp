#include "dataplane/nat_port_pool.hpp"

#include <bit>
#include <stdexcept>

namespace eg::dp {

nat_port_pool::nat_port_pool(uint16_t first, uint16_t last, uint64_t seed)
    : first_(first), last_(last), free_(0), rng_(seed | 1) {
    if (first == 0 || last < first) {
        throw std::invalid_argument("nat_port_pool: empty or invalid port range");
    }
    free_ = size();
    bits_.assign((size() + 63) / 64, 0);
    // Bits past the end of the range read as taken, so scans never return them.
    for (uint32_t i = size(); i < bits_.size() * 64; ++i) {
        set(i);
    }
}

uint64_t nat_port_pool::next_random() {
    // xorshift64*: cheap and good enough to pick a starting point (RFC 6056 needs
    // unpredictability of the choice, not cryptographic strength, for NAT ports).
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 0x2545f4914f6cdd1dULL;
}

uint16_t nat_port_pool::allocate_in(uint16_t lo, uint16_t hi, uint16_t preferred) {
    if (free_ == 0 || lo < first_ || hi > last_ || hi < lo) [[unlikely]] {
        return 0;
    }
    if (preferred >= lo && preferred <= hi && !test(preferred - first_)) {
        set(preferred - first_);
        --free_;
        return preferred;
    }
    // The next free port after a random start, wrapping around within lo..hi.
    const uint32_t a = lo - first_, b = hi - first_;
    const uint32_t start = a + static_cast<uint32_t>(next_random() % (b - a + 1));
    uint32_t i = first_free(start, b);
    if (i == k_none && start > a) {
        i = first_free(a, start - 1);
    }
    if (i == k_none) {
        return 0;
    }
    set(i);
    --free_;
    return static_cast<uint16_t>(first_ + i);
}

uint32_t nat_port_pool::first_free(uint32_t from, uint32_t to) const {
    // 64 ports per step: the free bits of a word, masked to from..to at both ends.
    uint32_t w = from >> 6;
    const uint32_t last_w = to >> 6;
    uint64_t avail = ~bits_[w] & (~uint64_t{0} << (from & 63));
    for (;;) {
        if (w == last_w) {
            avail &= ~uint64_t{0} >> (63 - (to & 63));
            return avail ? (w << 6) + static_cast<uint32_t>(std::countr_zero(avail)) : k_none;
        }
        if (avail) {
            return (w << 6) + static_cast<uint32_t>(std::countr_zero(avail));
        }
        avail = ~bits_[++w];
    }
}

bool nat_port_pool::reserve(uint16_t port) {
    if (port < first_ || port > last_ || test(port - first_)) {
        return false;
    }
    set(port - first_);
    --free_;
    return true;
}

void nat_port_pool::release(uint16_t port) {
    if (port < first_ || port > last_ || !test(port - first_)) {
        return;  // not ours or already free: never double-count
    }
    clear(port - first_);
    ++free_;
}

bool nat_port_pool::in_use(uint16_t port) const {
    return port >= first_ && port <= last_ && test(port - first_);
}

std::pair<uint16_t, uint16_t> worker_port_range(uint16_t lo, uint16_t hi, uint32_t w, uint32_t workers) {
    const uint32_t total = uint32_t{hi} - lo + 1;
    const uint32_t base = total / workers, extra = total % workers;
    // The first `extra` workers get one port more.
    const uint32_t begin = lo + w * base + std::min(w, extra);
    const uint32_t len = base + (w < extra ? 1 : 0);
    return {static_cast<uint16_t>(begin), static_cast<uint16_t>(begin + len - 1)};
}

uint32_t worker_of_port(uint16_t lo, uint16_t hi, uint16_t port, uint32_t workers) {
    const uint32_t total = uint32_t{hi} - lo + 1;
    const uint32_t base = total / workers, extra = total % workers;
    const uint32_t off = uint32_t{port} - lo;
    const uint32_t long_part = extra * (base + 1);  // the first `extra` slices are one longer
    return off < long_part ? off / (base + 1) : extra + (off - long_part) / base;
}

}  // namespace eg::dp
