#pragma once
// The IPv4 pools of one network, in the order an operator added them: a network
// starts with one /24 and grows by adding more /24s, a /16 or a /8 without touching
// the existing leases. allocate() takes from the first pool with space (so the
// oldest, smallest pools fill first and the addresses VMs see stay compact);
// find() says which pool holds an address (binary search over the pools sorted by
// network). Owner: the control thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

#include "control/pools/ipv4_pool.hpp"

namespace eg::ctl::pools {

class ipv4_pool_set {
public:
    /// Adds a pool; pool_errc::overlap if it overlaps one already in the set,
    /// pool_errc::bad_prefix if the prefix is not a valid /8../30 network.
    std::error_code add(uint32_t network, uint8_t prefix_len, const ipv4_pool::options& opts = {});

    std::optional<uint32_t> allocate();
    std::error_code reserve(uint32_t addr);
    std::error_code release(uint32_t addr);
    std::error_code quarantine(uint32_t addr, uint64_t until_s);
    size_t reclaim_quarantine(uint64_t now_s);
    std::optional<uint64_t> next_quarantine_end() const;

    /// The pool holding `addr`, or nullptr.
    ipv4_pool* find(uint32_t addr);
    const ipv4_pool* find(uint32_t addr) const;
    ipv4_pool::address_state state(uint32_t addr) const;

    size_t pool_count() const { return pools_.size(); }
    const ipv4_pool& pool(size_t i) const { return *pools_[i]; }  ///< in the order added
    uint64_t total() const;
    uint64_t used() const;
    uint64_t quarantined() const;
    uint64_t available() const;

private:
    std::vector<std::unique_ptr<ipv4_pool>> pools_;  ///< order added (allocation order)
    std::vector<ipv4_pool*> by_network_;             ///< sorted by network
    size_t first_with_space_ = 0;                    ///< hint: pools before it were full
};

}  // namespace eg::ctl::pools
