#pragma once
// Ethernet II framing with up to two 802.1Q/802.1ad tags.
//
// parse_ethernet accepts frames addressed to the port's MAC, broadcast or multicast,
// and records where L3 starts. The router is VLAN-unaware: tags are parsed and
// skipped on input; forwarded frames leave untagged (write_ethernet), while replies
// built in place keep the tags they came with.
#include <cstring>

#include "dataplane/counters.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/snapshot.hpp"

namespace eg::dp {

/// True when the frame at `d` is addressed to `port_mac` or to a group (broadcast,
/// multicast). 4 + 2 byte loads instead of a memcmp call: this runs for every frame.
inline bool addressed_to_port(const uint8_t* d, const mac_bytes& port_mac) {
    uint32_t a4, b4;
    uint16_t a2, b2;
    std::memcpy(&a4, d, 4);
    std::memcpy(&b4, port_mac.data(), 4);
    std::memcpy(&a2, d + 4, 2);
    std::memcpy(&b2, port_mac.data() + 4, 2);
    return is_multicast_mac(d) || ((a4 ^ b4) | static_cast<uint32_t>(a2 ^ b2)) == 0;
}

/// parse_ethernet in full: tags, and every drop named by its reason.
bool parse_ethernet_slow(packet& p, const mac_bytes& port_mac, worker_counters& c);

/// Sets p.l3_offset, p.ether_type and p.vlan_tci. False (packet dropped, counted)
/// for runts, truncated tags and unicast frames for another MAC. Inline for the usual
/// frame (untagged, long enough, for our MAC or a group address); tagged frames and
/// drops take the full parse.
inline bool parse_ethernet(packet& p, const mac_bytes& port_mac, worker_counters& c) {
    if (p.len >= eth::header_len) [[likely]] {
        const uint16_t type = load16(p.data + 12);
        if (addressed_to_port(p.data, port_mac) && type != eth::type_vlan && type != eth::type_qinq) [[likely]] {
            p.vlan_tci = 0;
            p.ether_type = type;
            p.l3_offset = eth::header_len;
            return true;
        }
    }
    return parse_ethernet_slow(p, port_mac, c);
}

/// Drops the 802.1Q tags before L3 (p.l3_offset > 14), keeping the offload offsets
/// (which count from the frame start) on the same bytes. Cold: tagged frames are rare.
void strip_vlan_tags(packet& p);

/// Replaces everything before L3 with an untagged Ethernet header. Keeps the offload
/// offsets pointing at the same bytes. Inline: every forwarded packet takes it, and an
/// untagged frame needs only the two addresses and the type written.
inline void write_ethernet(packet& p, const uint8_t* dst, const uint8_t* src, uint16_t ether_type) {
    if (p.l3_offset != eth::header_len) [[unlikely]] {
        strip_vlan_tags(p);
    }
    std::memcpy(p.data + eth::dst, dst, 6);
    std::memcpy(p.data + eth::src, src, 6);
    store16(p.data + 12, ether_type);
}

/// For replies built in place: sends the frame back to its sender from `port_mac`.
void reflect_ethernet(packet& p, const mac_bytes& port_mac);

}  // namespace eg::dp
