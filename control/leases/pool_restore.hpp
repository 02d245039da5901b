#pragma once
// Rebuilding the address pools from the lease store after a restart: every lease
// that holds an IPv4 address reserves it, a declined lease whose quarantine has not
// ended quarantines its address again, and every recorded IPv6 /128 is bound to its
// VM (reserve, not re-derive: the recorded address is the VM's). Anything that does
// not fit - an address outside every pool after a config change, one held twice -
// is counted and named, not fatal: the operator decides (the DHCP server will NAK
// such a lease on renewal).
#include <cstdint>
#include <string>
#include <vector>

#include "control/leases/store_state.hpp"
#include "control/pools/ipv4_pool_set.hpp"
#include "control/pools/ipv6_allocator.hpp"

namespace eg::ctl::leases {

struct restore_report {
    uint64_t ipv4_reserved = 0;
    uint64_t ipv4_quarantined = 0;
    uint64_t ipv6_bound = 0;
    std::vector<std::string> problems;  ///< "vps_id: address: why"
};

/// `v6` may be null (no IPv6 pool configured). now_s decides which quarantines still run.
restore_report restore_pools(const store_state& st, pools::ipv4_pool_set& v4, pools::ipv6_allocator* v6,
                             int64_t now_s);

}  // namespace eg::ctl::leases
