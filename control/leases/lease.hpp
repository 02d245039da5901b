#pragma once
// What the lease store keeps: one lease per VM (keyed by vps_id), and small keyed
// records for runtime configuration that must survive a restart (port forwards,
// egress policies, proxy-port assignments: the admin API stores them as JSON text
// or bytes under a namespace such as "port_forward").
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace eg::ctl::leases {

enum class lease_state : uint8_t {
    offered = 1,       ///< OFFER sent, address held until the offer times out
    bound = 2,         ///< ACKed
    released = 3,      ///< client released it; kept for affinity (RFC 2131 §4.3.4), address free
    declined = 4,      ///< client declined it (RFC 2131 §4.3.3); address quarantined until expires_s
    static_lease = 5,  ///< operator reservation; never expires
};

/// Whether a lease in this state keeps its IPv4 address from anyone else.
constexpr bool holds_address(lease_state s) {
    return s == lease_state::offered || s == lease_state::bound || s == lease_state::static_lease;
}
std::string_view to_string(lease_state s);

using mac_bytes = std::array<uint8_t, 6>;
using ipv6_bytes = std::array<uint8_t, 16>;

struct lease {
    std::string vps_id;           ///< 1..1024 bytes, the key (any bytes)
    std::string organization_id;  ///< 0..255 bytes
    /// The DHCP client this binding belongs to (RFC 2131 §4.2: option 61, else the
    /// hardware address), as opaque bytes - e.g. dhcp::client_key's kind byte then
    /// its id. 0..256 bytes; empty for leases the API made without a DHCP client.
    std::string client_id;
    mac_bytes mac{};
    uint32_t ipv4 = 0;            ///< host byte order; 0 = none
    ipv6_bytes ipv6{};            ///< the VM's /128; all zero = none
    int64_t expires_s = 0;        ///< unix seconds; 0 = never
    lease_state state = lease_state::offered;

    bool operator==(const lease&) const = default;
};

}  // namespace eg::ctl::leases
