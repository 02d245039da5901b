#pragma once
// WireGuard's part of the Snapshot: the tunnels' listen sockets (IPv4, and IPv6 where
// configured) and inner MTU, which peer slot owns each peer, and the allowed-IPs tables
// of cryptokey routing. Outbound,
// a route's next hop names the peer (next_hop::wg_peer: the allowed IPs are installed
// as routes); inbound, a decrypted packet's source must look up to the peer it came
// from. Built by the control thread (control/wireguard_service), read-only here.
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/lpm4.hpp"
#include "dataplane/lpm6.hpp"

namespace eg::dp {

inline constexpr uint32_t k_no_wg_peer = 0xffffffffu;
inline constexpr uint16_t k_no_wg_tunnel = 0xffff;

struct wg_tunnel {
    uint32_t addr = 0;          ///< our IPv4 listen address, host order
    std::array<uint8_t, 16> addr6{};  ///< our IPv6 listen address (has_addr6)
    bool has_addr6 = false;
    uint16_t listen_port = 0;
    uint16_t mtu = 1420;        ///< inner MTU
    bool mss_clamp = true;
    uint64_t rekey_after_ns = 120'000'000'000ULL;  ///< REKEY_AFTER_TIME; shorter only in tests
};

struct wireguard_policy {
    bool enabled = false;
    std::vector<wg_tunnel> tunnels;
    std::vector<uint16_t> peer_tunnel;  ///< by peer slot: its tunnel; k_no_wg_tunnel = slot free
    lpm4 allowed4;                      ///< allowed IPs -> peer slot
    lpm6 allowed6;

    /// The tunnel listening on (dst, UDP port), both host order; k_no_wg_tunnel if none.
    uint16_t listener(uint32_t dst, uint16_t port) const {
        for (uint16_t t = 0; t < tunnels.size(); ++t) {
            if (tunnels[t].listen_port == port && tunnels[t].addr == dst) {
                return t;
            }
        }
        return k_no_wg_tunnel;
    }
    /// The tunnel listening on ([dst], UDP port); k_no_wg_tunnel if none.
    uint16_t listener6(const uint8_t* dst, uint16_t port) const {
        for (uint16_t t = 0; t < tunnels.size(); ++t) {
            if (tunnels[t].listen_port == port && tunnels[t].has_addr6 &&
                std::memcmp(tunnels[t].addr6.data(), dst, 16) == 0) {
                return t;
            }
        }
        return k_no_wg_tunnel;
    }
    bool has_peer(uint32_t slot) const { return slot < peer_tunnel.size() && peer_tunnel[slot] != k_no_wg_tunnel; }
};

}  // namespace eg::dp
