#pragma once
// Compiles the validated configuration into the immutable data-plane Snapshot:
// ports with their addresses and link-local address, routes into LPM tables whose
// results index a next-hop table (next_hops[0] = our own addresses), RA settings.
// Owner: the control thread. Cold code.
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "dataplane/snapshot.hpp"

namespace eg::ctl {

struct port_runtime_info {
    dp::mac_bytes mac{};  ///< the MAC the engine uses on the port
};

/// `ports[i]` belongs to config.ports[i]; when the host TAP is enabled it is the last
/// port (index config.ports.size()) and `host_kernel_mac` is the kernel's MAC there.
std::unique_ptr<dp::snapshot> build_snapshot(const cfg::config& config, const std::vector<port_runtime_info>& ports,
                                             const dp::mac_bytes& host_kernel_mac, uint64_t generation);

}  // namespace eg::ctl
