#pragma once
// The NAT44 part of the snapshot: who the VMs are (anti-spoofing bindings), how each
// one's egress leaves (masquerade, dedicated, port_block, proxy), the public
// addresses, the static port forwards and the timeouts. Immutable once published;
// workers look it up per packet through flat_maps. Built by control/snapshot_builder
// from the [nat] and [[vms]] config tables.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/flat_map.hpp"
#include "dataplane/flow_table.hpp"

namespace eg::dp {

enum class nat_egress : uint8_t { masquerade = 0, dedicated = 1, port_block = 2, proxy = 3 };

struct nat_vm {
    std::string name;
    uint32_t addr = 0;           ///< the VM's IPv4 (host order)
    uint8_t mac[6] = {};         ///< bound with addr (anti-spoofing)
    nat_egress egress = nat_egress::masquerade;
    /// The address its egress leaves from: the paired pool address (masquerade, proxy),
    /// the block address (port_block) or its own address (dedicated).
    uint32_t public_addr = 0;
    uint32_t pool_index = 0;       ///< masquerade/proxy: index in nat44_policy::public_addrs
    uint16_t block_first = 0;      ///< port_block: its ports
    uint16_t block_last = 0;
    uint16_t proxy_port = 0;       ///< proxy: port on the upstream proxy host
    bool proxy_force = false;      ///< proxy: refuse every other egress (ICMP 3/13)
    uint32_t max_sessions = 0;     ///< per worker; 0 = unlimited
    /// False for a runtime slot whose VM left (or was never there): kept for the
    /// sessions it may still own, but not in vm_by_addr, so its traffic is not admitted.
    bool admitted = true;
    /// Some forward targets this VM's address (index()): a dedicated VM's packets from a
    /// forwarded port are replies that must leave from the forward's public port.
    bool forwarded = false;

    /// Sessions (ports) are allocated per flow: everything but dedicated.
    bool stateful() const { return egress != nat_egress::dedicated; }
};

/// A static forward: proto + public address + ports port_first..port_last to
/// to_addr:to_port.. (1:1 over the range). Stateless: the reverse direction is found
/// from the VM's source address and port.
struct nat_forward {
    uint8_t proto = 6;
    uint32_t public_addr = 0;
    uint16_t port_first = 0, port_last = 0;
    uint32_t to_addr = 0;
    uint16_t to_port = 0;
};

/// Bits of nat44_policy::public_lookup values.
namespace nat_public {
inline constexpr uint32_t pool = 1;       ///< a masquerade pool address (dynamic ports)
inline constexpr uint32_t blocks = 2;     ///< the port-block address
inline constexpr uint32_t forwards = 4;   ///< some forward uses it
inline constexpr uint32_t dedicated = 8;  ///< a VM's dedicated address; vm index << 8
}  // namespace nat_public

struct nat44_policy {
    bool enabled = false;
    bool anti_spoofing = false;
    bool endpoint_independent_filtering = true;
    bool log_sessions = false;     ///< emit create/delete events for the mapping log
    uint32_t workers = 1;          ///< ports are sliced among this many workers
    uint16_t port_first = 1024, port_last = 65535;  ///< dynamic range
    std::vector<uint32_t> public_addrs;             ///< the masquerade pool
    uint32_t block_addr = 0;
    uint16_t block_first_port = 0, block_size = 0;
    uint32_t proxy_service_addr = 0;
    uint16_t proxy_service_port = 0;
    uint32_t proxy_upstream = 0;
    flow_timeouts timeouts;
    /// Indexed by a VM's stable slot: the [[vms]] first, then the VMs admitted at
    /// runtime (DHCP leases, API allocations), whose slots outlive them: a slot that
    /// is no longer admitted keeps its entry (not in vm_by_addr) while sessions of
    /// its old VM may still exist, so their expiry finds the VM's port pool. Never
    /// longer than vm_capacity.
    std::vector<nat_vm> vms;
    /// Per-VM state each worker holds (nat44_state): vms.size() never exceeds it, and
    /// it never changes while the gateway runs (it is fixed from [nat] max_vms).
    uint32_t vm_capacity = 0;
    /// Control-plane bookkeeping only (workers never touch it): released when this
    /// policy's snapshot is freed, i.e. once no worker can hold it any more. The
    /// control thread keeps weak references to learn when a VM that left is out of
    /// every snapshot a worker may still use.
    std::shared_ptr<const void> retire_token;
    std::vector<nat_forward> forwards;

    flat_map vm_by_addr;     ///< VM IPv4 -> index in vms
    uint64_t public_bloom = 0;  ///< one bit per public address (public_bit): most packets skip public_lookup
    flat_map public_lookup;  ///< public IPv4 -> nat_public bits (| vm << 8 for dedicated)
    flat_map forward_in;     ///< forward_key(proto, public addr, public port) -> index
    flat_map forward_out;    ///< forward_key(proto, to addr, to port) -> index

    static uint64_t forward_key(uint8_t proto, uint32_t addr, uint16_t port) {
        return (uint64_t{proto} << 48) | (uint64_t{addr} << 16) | port;
    }
    /// Fills the flat_maps from vms, forwards and the addresses (control thread).
    void index();
    /// Makes `vm` a port_block VM with block k (its ports and the block address).
    /// Precondition: k is a whole block (config validation, runtime_policies).
    void give_block(nat_vm& vm, uint32_t k) const;

    static uint32_t public_bit(uint32_t addr) { return (addr * 0x9e3779b1u) >> 26; }
    /// False: `addr` is surely not a public address; true: look it up.
    bool maybe_public(uint32_t addr) const { return (public_bloom >> public_bit(addr)) & 1; }

    const nat_vm* vm_of(uint32_t addr) const {
        const uint32_t i = vm_by_addr.find(addr);
        return i == flat_map::k_missing ? nullptr : &vms[i];
    }
    /// The worker that owns sessions whose public side is addr:port (return traffic
    /// steering): a dynamic or block port names its worker's slice; any other port
    /// (forwards, dedicated: stateless) may be handled anywhere, reported as `self`.
    uint32_t owner_of(uint32_t addr, uint16_t port, uint32_t self) const;
};

}  // namespace eg::dp
