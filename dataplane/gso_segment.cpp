// Software segmentation of GSO super-packets (see gso_segment.hpp).
#include "dataplane/gso_segment.hpp"

#include <algorithm>
#include <cstring>

#include "dataplane/checksum.hpp"
#include "dataplane/headers.hpp"

namespace eg::dp {

namespace {

constexpr uint8_t k_tcp_fin = 0x01, k_tcp_psh = 0x08, k_tcp_cwr = 0x80;

}  // namespace

uint32_t segment_gso(const packet& p, port_io& pool, packet** out_pkts, uint32_t max) {
    const uint8_t* ip = p.l3();
    const bool v6 = p.ether_type == eth::type_ipv6;
    uint32_t l3_header = 0, total = 0;
    uint8_t l4_proto = 0;
    if (v6) {
        l3_header = ipv6::header_len;
        total = ipv6::header_len + load16(ip + ipv6::payload_len);
        l4_proto = ip[ipv6::next_header];
    } else {
        l3_header = (ip[ipv4::ver_ihl] & 0xf) * 4u;
        total = load16(ip + ipv4::total_len);
        l4_proto = ip[ipv4::proto];
    }
    const uint32_t mss = p.offload.gso_size;
    if (p.offload.gso_type == offload_info::gso_udp) {
        return 0;  // UFO means IP fragmentation, not segmentation
    }
    if ((l4_proto != proto::tcp && l4_proto != proto::udp) || mss == 0 || total > p.l3_len() ||
        total < l3_header + 8) {
        return 0;
    }
    const bool tcp = l4_proto == proto::tcp;
    const uint32_t l4_header = tcp ? (ip[l3_header + 12] >> 4) * 4u : 8u;
    const uint32_t headers = l3_header + l4_header;
    // A TCP header is at least 20 bytes (RFC 9293 §3.1): the sequence number, flags and
    // checksum written below lie inside it (the kernel's tcp_gso_segment refuses too).
    if (l4_header < (tcp ? 20u : 8u) || headers > total) {
        return 0;
    }
    const uint32_t payload = total - headers;
    const uint32_t count = std::max<uint32_t>(1, (payload + mss - 1) / mss);
    if (count > max) {
        return 0;
    }
    const uint32_t seq = tcp ? load32(ip + l3_header + 4) : 0;
    const uint16_t id = v6 ? 0 : load16(ip + ipv4::id);
    const uint8_t flags = tcp ? ip[l3_header + 13] : 0;
    for (uint32_t i = 0; i < count; ++i) {
        const uint32_t off = i * mss;
        const uint32_t chunk = std::min(mss, payload - off);
        const uint32_t len = p.l3_offset + headers + chunk;
        packet* q = pool.alloc(len);
        if (q == nullptr || q->tailroom() < len) {
            if (q) {
                out_pkts[i++] = q;
            }
            pool.release(out_pkts, static_cast<uint16_t>(i));
            return 0;
        }
        std::memcpy(q->data, p.data, p.l3_offset + headers);
        std::memcpy(q->data + p.l3_offset + headers, ip + headers + off, chunk);
        q->len = len;
        q->l3_offset = p.l3_offset;
        q->in_port = p.in_port;
        q->ether_type = p.ether_type;
        q->vlan_tci = p.vlan_tci;
        q->offload = offload_info{};
        uint8_t* qip = q->l3();
        uint8_t* l4 = qip + l3_header;
        const uint32_t l4_len = l4_header + chunk;
        if (v6) {
            store16(qip + ipv6::payload_len, static_cast<uint16_t>(l4_len));
        } else {
            store16(qip + ipv4::total_len, static_cast<uint16_t>(headers + chunk));
            store16(qip + ipv4::id, static_cast<uint16_t>(id + i));
            store16(qip + ipv4::csum, 0);
            put_raw16(qip + ipv4::csum, checksum(qip, l3_header));
        }
        uint32_t csum_at = 6;
        if (tcp) {
            store32(l4 + 4, seq + off);
            uint8_t f = flags;
            if (i + 1 < count) f &= static_cast<uint8_t>(~(k_tcp_fin | k_tcp_psh));
            if (i > 0) f &= static_cast<uint8_t>(~k_tcp_cwr);
            l4[13] = f;
            csum_at = 16;
        } else {
            store16(l4 + 4, static_cast<uint16_t>(l4_len));
        }
        store16(l4 + csum_at, 0);
        uint16_t c = checksum(l4, l4_len, pseudo_header_sum_of(qip, v6, l4_proto, l4_len));
        if (c == 0 && !tcp) {
            c = 0xffff;  // UDP (RFC 768): 0 means "no checksum"
        }
        put_raw16(l4 + csum_at, c);
        out_pkts[i] = q;
    }
    return count;
}

}  // namespace eg::dp
