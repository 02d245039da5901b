#pragma once
// Outside ports for NAT44: one pool per (external address, protocol) per worker.
//
// Each worker owns a contiguous slice of the port range (worker_port_range), so the
// port of a return packet names the worker that owns its session (DESIGN.md: flows
// are owned per worker, ports partitioned). Inside the slice the pool keeps the
// inside source port when it is free (RFC 4787 §4.2.1 port preservation, as VPP's
// NAT44-ED tries first) and otherwise takes the next free port after a random start
// (RFC 6056 §3.3.1, "simple port randomization"). One bit per port: 8 KiB per full
// address and protocol. Owner: one worker; no locks.
#include <cstdint>
#include <utility>
#include <vector>

namespace eg::dp {

class nat_port_pool {
public:
    /// Ports first..last (inclusive, first >= 1). Cold: allocates the bitmap.
    nat_port_pool(uint16_t first, uint16_t last, uint64_t seed = 0x9e3779b97f4a7c15ULL);

    /// `preferred` if it is inside the range and free, else a free port; 0 when the
    /// pool is exhausted (the caller drops and counts: no_free_port).
    uint16_t allocate(uint16_t preferred) { return allocate_in(first_, last_, preferred); }
    /// The same within lo..hi, a part of the range (one VM's port block, when one pool
    /// holds every block of an address): 0 when that part is full or not inside.
    uint16_t allocate_in(uint16_t lo, uint16_t hi, uint16_t preferred);
    /// Takes exactly `port` (static forwards, deterministic blocks); false if taken or
    /// outside the range.
    bool reserve(uint16_t port);
    /// Gives a port back. Precondition: it was allocated or reserved.
    void release(uint16_t port);

    bool in_use(uint16_t port) const;
    uint16_t first() const { return first_; }
    uint16_t last() const { return last_; }
    uint32_t size() const { return uint32_t{last_} - first_ + 1; }
    uint32_t free_count() const { return free_; }

private:
    bool test(uint32_t i) const { return (bits_[i >> 6] >> (i & 63)) & 1; }
    /// The first free bit in from..to (inclusive), or k_none.
    uint32_t first_free(uint32_t from, uint32_t to) const;
    static constexpr uint32_t k_none = 0xffffffff;
    void set(uint32_t i) { bits_[i >> 6] |= uint64_t{1} << (i & 63); }
    void clear(uint32_t i) { bits_[i >> 6] &= ~(uint64_t{1} << (i & 63)); }
    uint64_t next_random();

    uint16_t first_, last_;
    uint32_t free_;
    uint64_t rng_;
    std::vector<uint64_t> bits_;  ///< bit i = port first_ + i in use
};

/// The slice of [lo, hi] that worker `w` of `workers` owns: contiguous, sizes differing
/// by at most one, together covering the range. Precondition: w < workers,
/// workers <= hi - lo + 1.
std::pair<uint16_t, uint16_t> worker_port_range(uint16_t lo, uint16_t hi, uint32_t w, uint32_t workers);

/// The worker whose worker_port_range slice of [lo, hi] holds `port` (the inverse of
/// worker_port_range). Precondition: lo <= port <= hi, workers <= hi - lo + 1.
uint32_t worker_of_port(uint16_t lo, uint16_t hi, uint16_t port, uint32_t workers);

/// Deterministic NAT port blocks (RFC 7422): VM number k on a shared address owns the
/// ports first + k*size .. first + (k+1)*size - 1, so an address:port in an abuse
/// report maps to the VM without any log.
struct port_block_plan {
    uint16_t first_port = 1024;
    uint16_t block_size = 1024;

    /// Blocks that fit below 65536.
    uint32_t blocks() const { return block_size ? (65536u - first_port) / block_size : 0; }
    /// The ports of block k (inclusive); precondition k < blocks().
    std::pair<uint16_t, uint16_t> block(uint32_t k) const {
        const uint32_t lo = first_port + k * uint32_t{block_size};
        return {static_cast<uint16_t>(lo), static_cast<uint16_t>(lo + block_size - 1)};
    }
    /// The block a port belongs to, or -1 when it is outside every block.
    int64_t block_of(uint16_t port) const {
        if (port < first_port || block_size == 0) {
            return -1;
        }
        const uint32_t k = (port - first_port) / uint32_t{block_size};
        return k < blocks() ? static_cast<int64_t>(k) : -1;
    }
};

}  // namespace eg::dp
