#include "dataplane/snapshot.hpp"

#include <cstring>

namespace eg::dp {

uint32_t snapshot::source_address4(uint16_t port_index) const {
    if (port_index < ports.size() && !ports[port_index].ipv4.empty()) {
        return ports[port_index].ipv4.front().addr;
    }
    for (const auto& p : ports) {
        if (!p.ipv4.empty()) {
            return p.ipv4.front().addr;
        }
    }
    return 0;
}

const ipv6_bytes& snapshot::source_address6(uint16_t port_index) const {
    const port_info& p = ports[port_index];
    return p.ipv6.empty() ? p.link_local : p.ipv6.front().addr;
}

bool snapshot::is_our_address4(uint16_t port_index, uint32_t addr) const {
    for (const auto& a : ports[port_index].ipv4) {
        if (a.addr == addr) {
            return true;
        }
    }
    return false;
}

bool snapshot::is_our_address6(uint16_t port_index, const uint8_t* addr) const {
    const port_info& p = ports[port_index];
    if (std::memcmp(p.link_local.data(), addr, 16) == 0) {
        return true;
    }
    for (const auto& a : p.ipv6) {
        if (std::memcmp(a.addr.data(), addr, 16) == 0) {
            return true;
        }
    }
    return false;
}

ipv6_bytes link_local_from_mac(const mac_bytes& mac) {
    ipv6_bytes a{};
    a[0] = 0xfe;
    a[1] = 0x80;
    a[8] = mac[0] ^ 0x02;  // flip the universal/local bit
    a[9] = mac[1];
    a[10] = mac[2];
    a[11] = 0xff;
    a[12] = 0xfe;
    a[13] = mac[3];
    a[14] = mac[4];
    a[15] = mac[5];
    return a;
}

}  // namespace eg::dp
