#pragma once
// Compiles the validated configuration into the immutable data-plane Snapshot:
// ports with their addresses and link-local address, routes into LPM tables whose
// results index a next-hop table (next_hops[0] = our own addresses), RA settings.
// Owner: the control thread. Cold code.
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "dataplane/snapshot.hpp"

namespace eg::ctl {

struct port_runtime_info {
    dp::mac_bytes mac{};  ///< the MAC the engine uses on the port
};

/// A VM admitted at runtime (control/vm_admissions: a DHCP lease or an API
/// allocation), by its slot: runtime[k] becomes nat.vms[config.vms.size() + k].
struct runtime_vm {
    std::string name;
    dp::mac_bytes mac{};
    uint32_t ipv4 = 0;      ///< host order
    bool admitted = false;  ///< false: the slot's VM left; kept for its sessions
    dp::ipv6_bytes ipv6{};  ///< its dedicated IPv6 (an allocation's /128); zero: none
};

/// A port forward as the data plane holds it ([[nat.forwards]] and the API's alike).
dp::nat_forward to_nat_forward(const cfg::nat_forward_config& f);

/// `ports[i]` belongs to config.ports[i]; when the host TAP is enabled it is the last
/// port (index config.ports.size()) and `host_kernel_mac` is the kernel's MAC there.
/// `runtime`: the VMs admitted at runtime, masquerade with nat.sessions_per_vm; those
/// beyond nat.max_vms are left out. The snapshot's nat.retire_token is a fresh token.
std::unique_ptr<dp::snapshot> build_snapshot(const cfg::config& config, const std::vector<port_runtime_info>& ports,
                                             const dp::mac_bytes& host_kernel_mac, uint64_t generation,
                                             std::span<const runtime_vm> runtime = {});

}  // namespace eg::ctl
