#include "dataplane/pipeline.hpp"

#include "dataplane/arp.hpp"
#include "dataplane/ethernet.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/ipv4_forward.hpp"
#include "dataplane/ipv6_forward.hpp"

namespace eg::dp {

void process_burst(burst& b, const snapshot& s, worker_context& w) {
    packet* v4[k_max_burst];
    uint32_t v4_dst[k_max_burst];
    uint32_t v4_nh[k_max_burst];
    uint32_t n4 = 0;
    packet* v6[k_max_burst];
    const uint8_t* v6_dst[k_max_burst];
    uint32_t v6_nh[k_max_burst];
    uint32_t n6 = 0;

    w.memo.valid = false;
    const uint16_t n = b.count;
    for (uint16_t i = 0; i < n; ++i) {
        if (i + 2 < n) {
            __builtin_prefetch(b.pkts[i + 2]->data);
        }
        packet& p = *b.pkts[i];
        p.verdict = k_verdict_none;
        if (!parse_ethernet(p, s.port(p.in_port).mac, w.counters)) [[unlikely]] {
            continue;
        }
        switch (p.ether_type) {
        case eth::type_ipv4:
            if (validate_ipv4(p, w)) [[likely]] {
                v4[n4] = &p;
                v4_dst[n4] = load32(p.l3() + ipv4::dst);
                ++n4;
            }
            break;
        case eth::type_ipv6:
            if (classify_ipv6(p, s, w)) [[likely]] {
                v6[n6] = &p;
                v6_dst[n6] = p.l3() + ipv6::dst;
                ++n6;
            }
            break;
        case eth::type_arp:
            process_arp(p, s, w);
            break;
        default:
            w.drop(p, drop_reason::eth_unknown_ethertype);
            break;
        }
    }
    if (n4) {
        s.routes4.lookup_bulk(v4_dst, v4_nh, n4);
        for (uint32_t j = 0; j < n4; ++j) {
            forward_ipv4(*v4[j], s, w, v4_nh[j]);
        }
    }
    if (n6) {
        s.routes6.lookup_bulk(v6_dst, v6_nh, n6);
        for (uint32_t j = 0; j < n6; ++j) {
            forward_ipv6(*v6[j], s, w, v6_nh[j]);
        }
    }
}

}  // namespace eg::dp
