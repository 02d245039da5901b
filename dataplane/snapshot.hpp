#pragma once
// The immutable view of configuration that workers forward with.
//
// Built by the control thread (control/snapshot_builder), published with an atomic
// pointer swap (snapshot_holder, rcu.hpp) and never modified afterwards, so workers
// read it without locks. Everything a stage needs per packet is precomputed here.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/lpm4.hpp"
#include "dataplane/lpm6.hpp"
#include "dataplane/nat44_policy.hpp"
#include "dataplane/vm6_bindings.hpp"
#include "dataplane/wireguard_policy.hpp"

namespace eg::dp {

using mac_bytes = std::array<uint8_t, 6>;
using ipv6_bytes = std::array<uint8_t, 16>;

inline constexpr uint16_t k_no_port = 0xffff;

enum class port_role : uint8_t { vm, uplink, host };

/// An address of ours on a port, with its connected prefix length.
struct port_address4 {
    uint32_t addr = 0;  ///< host byte order
    uint8_t prefix_len = 0;
};
struct port_address6 {
    ipv6_bytes addr{};
    uint8_t prefix_len = 0;
};

struct router_advert_info {
    bool enabled = false;
    uint32_t interval_s = 200;
    uint16_t router_lifetime_s = 1800;
    bool autonomous = false;
    std::vector<port_address6> prefixes;  ///< advertised on-link prefixes
};

struct port_info {
    uint16_t index = 0;
    std::string name;
    port_role role = port_role::vm;
    mac_bytes mac{};
    uint32_t mtu = 1500;  ///< L3 MTU
    std::vector<port_address4> ipv4;
    std::vector<port_address6> ipv6;
    ipv6_bytes link_local{};  ///< fe80::/64 + EUI-64 of mac
    bool nd_proxy = false;
    bool dhcp_server = false;  ///< punt DHCP requests (UDP to port 67) to the control thread
    router_advert_info ra;
};

/// Where a route leads. Next-hop index k_nh_local means "one of our own addresses".
struct next_hop {
    uint16_t port = k_no_port;
    bool via_gateway = false;
    uint32_t gateway4 = 0;   ///< host order, when via_gateway and IPv4
    ipv6_bytes gateway6{};   ///< when via_gateway and IPv6
    uint32_t wg_peer = k_no_wg_peer;  ///< set: into the WireGuard tunnel of this peer slot (port unused)
};

inline constexpr uint32_t k_nh_local = 0;  ///< next_hops[0] is reserved for local delivery

struct snapshot {
    uint64_t generation = 0;
    std::vector<port_info> ports;
    uint16_t host_port = k_no_port;  ///< the TAP to the host kernel, if enabled
    mac_bytes host_kernel_mac{};     ///< the kernel's MAC on that TAP
    lpm4 routes4;
    lpm6 routes6;
    std::vector<next_hop> next_hops;  ///< indexed by the LPM result
    uint32_t icmp_errors_per_second = 1000;
    nat44_policy nat;                 ///< NAT44 and VM egress policies (nat.enabled)
    wireguard_policy wg;              ///< WireGuard tunnels and cryptokey routing (wg.enabled)
    /// The VMs' dedicated IPv6 addresses: routed to the bound MAC on the bound port.
    vm6_bindings vm6;
    /// vm ports accept a global IPv6 source only from its binding in vm6 (link-local
    /// sources still reach the gateway itself: neighbour and router discovery).
    bool anti_spoofing6 = false;

    const port_info& port(uint16_t i) const { return ports[i]; }
    /// Our first IPv4 address on `port`, else on any port, else 0 (host order).
    uint32_t source_address4(uint16_t port) const;
    /// Our first global IPv6 address on `port`, else its link-local address.
    const ipv6_bytes& source_address6(uint16_t port) const;
    /// True if `addr` (host order) is one of our addresses on `port`.
    bool is_our_address4(uint16_t port, uint32_t addr) const;
    /// True if `addr` is one of our addresses (global or link-local) on `port`.
    bool is_our_address6(uint16_t port, const uint8_t* addr) const;
};

/// The fe80::/64 address with the modified EUI-64 interface id of `mac` (RFC 4291 App. A).
ipv6_bytes link_local_from_mac(const mac_bytes& mac);

}  // namespace eg::dp
