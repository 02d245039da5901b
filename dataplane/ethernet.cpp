#include "dataplane/ethernet.hpp"

#include <cstring>

#include "dataplane/headers.hpp"

namespace eg::dp {

bool parse_ethernet_slow(packet& p, const mac_bytes& port_mac, worker_counters& c) {
    if (p.len < eth::header_len) [[unlikely]] {
        p.drop(reason_index(drop_reason::eth_runt));
        c.drop(drop_reason::eth_runt);
        return false;
    }
    const uint8_t* d = p.data;
    if (!addressed_to_port(d, port_mac)) [[unlikely]] {
        p.drop(reason_index(drop_reason::eth_not_for_us));
        c.drop(drop_reason::eth_not_for_us);
        return false;
    }
    uint32_t off = 12;
    uint16_t type = load16(d + off);
    p.vlan_tci = 0;
    // At most two tags (QinQ outer 0x88a8 or 0x8100, then 0x8100).
    for (int tags = 0; (type == eth::type_vlan || type == eth::type_qinq) && tags < 2; ++tags) {
        if (p.len < off + 2 + eth::vlan_tag_len) [[unlikely]] {
            p.drop(reason_index(drop_reason::eth_bad_vlan));
            c.drop(drop_reason::eth_bad_vlan);
            return false;
        }
        p.vlan_tci = load16(d + off + 2);
        off += eth::vlan_tag_len;
        type = load16(d + off);
    }
    if (type == eth::type_vlan || type == eth::type_qinq) [[unlikely]] {
        p.drop(reason_index(drop_reason::eth_bad_vlan));
        c.drop(drop_reason::eth_bad_vlan);
        return false;
    }
    p.ether_type = type;
    p.l3_offset = static_cast<uint16_t>(off + 2);
    return true;
}

void strip_vlan_tags(packet& p) {
    const uint16_t shift = static_cast<uint16_t>(p.l3_offset - eth::header_len);
    p.data += shift;
    p.len -= shift;
    p.l3_offset = eth::header_len;
    if (p.offload.needs_csum) {
        p.offload.csum_start = static_cast<uint16_t>(p.offload.csum_start - shift);
    }
    if (p.offload.hdr_len > shift) {
        p.offload.hdr_len = static_cast<uint16_t>(p.offload.hdr_len - shift);
    }
}

void reflect_ethernet(packet& p, const mac_bytes& port_mac) {
    std::memcpy(p.data + eth::dst, p.data + eth::src, 6);
    std::memcpy(p.data + eth::src, port_mac.data(), 6);
}

}  // namespace eg::dp
