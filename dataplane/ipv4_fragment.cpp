#include "dataplane/ipv4_fragment.hpp"

#include <cstring>

#include "dataplane/checksum.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/offload_checksum.hpp"

namespace eg::dp {

namespace {

/// The options of `ip` that RFC 791 says are copied into every fragment (copy flag,
/// the top bit of the type octet), written to `out`; returns their length padded to 4.
uint32_t copied_options(const uint8_t* ip, uint32_t ihl, uint8_t* out) {
    uint32_t n = 0;
    for (uint32_t i = ipv4::min_header_len; i < ihl;) {
        const uint8_t type = ip[i];
        if (type == 0) {  // end of option list
            break;
        }
        if (type == 1) {  // no-operation
            ++i;
            continue;
        }
        if (i + 1 >= ihl || ip[i + 1] < 2 || i + ip[i + 1] > ihl) {
            break;  // malformed: copy nothing more
        }
        const uint32_t len = ip[i + 1];
        if (type & 0x80) {
            std::memcpy(out + n, ip + i, len);
            n += len;
        }
        i += len;
    }
    while (n % 4) {
        out[n++] = 0;  // end-of-list padding
    }
    return n;
}

}  // namespace

uint32_t fragment_ipv4(packet& p, uint32_t mtu, port_io& out, packet** frags, uint32_t max, drop_reason& why) {
    why = drop_reason::ipv4_fragmentation_failed;
    if (p.offload.gso_type != offload_info::gso_none) {
        return 0;
    }
    complete_l4_checksum(p);
    const uint8_t* ip = p.l3();
    const uint32_t ihl = (ip[ipv4::ver_ihl] & 0xf) * 4u;
    const uint32_t total = load16(ip + ipv4::total_len);
    const uint16_t frag_word = load16(ip + ipv4::frag);
    const uint32_t base_offset = (frag_word & ipv4::frag_offset_mask) * 8u;
    const bool more_after = (frag_word & ipv4::flag_mf) != 0;  // fragmenting a fragment
    if (total < ihl || base_offset + (total - ihl) > 65535) [[unlikely]] {
        why = drop_reason::ipv4_oversized_fragment;
        return 0;
    }
    uint8_t later_opts[40];
    const uint32_t later_opts_len = copied_options(ip, ihl, later_opts);
    const uint32_t l2 = p.l3_offset;

    uint32_t count = 0;
    uint32_t pos = ihl;  // payload bytes consumed, counted from the IP header start
    while (pos < total) {
        const bool first = count == 0;
        const uint32_t hlen = first ? ihl : ipv4::min_header_len + later_opts_len;
        if (mtu < hlen + 8) {
            break;
        }
        uint32_t chunk = std::min(total - pos, (mtu - hlen) & ~7u);
        const bool last = pos + chunk >= total;
        packet* f = count < max ? out.alloc(l2 + hlen + chunk) : nullptr;
        if (!f || f->tailroom() < l2 + hlen + chunk) {
            if (f) {
                out.release(&f, 1);
            }
            out.release(frags, static_cast<uint16_t>(count));
            return 0;
        }
        std::memcpy(f->data, p.data, l2);  // Ethernet header as resolved for p
        uint8_t* fip = f->data + l2;
        if (first) {
            std::memcpy(fip, ip, ihl);
        } else {
            std::memcpy(fip, ip, ipv4::min_header_len);
            std::memcpy(fip + ipv4::min_header_len, later_opts, later_opts_len);
            fip[ipv4::ver_ihl] = static_cast<uint8_t>(0x40 | (hlen / 4));
        }
        std::memcpy(fip + hlen, ip + pos, chunk);
        store16(fip + ipv4::total_len, static_cast<uint16_t>(hlen + chunk));
        const uint32_t offset = base_offset + (pos - ihl);
        const bool mf = !last || more_after;
        store16(fip + ipv4::frag, static_cast<uint16_t>((offset / 8) | (mf ? ipv4::flag_mf : 0)));
        put_raw16(fip + ipv4::csum, 0);
        put_raw16(fip + ipv4::csum, checksum(fip, hlen));
        f->len = l2 + hlen + chunk;
        f->l3_offset = static_cast<uint16_t>(l2);
        f->in_port = p.in_port;
        frags[count++] = f;
        pos += chunk;
    }
    if (pos < total) {
        out.release(frags, static_cast<uint16_t>(count));
        return 0;
    }
    return count;
}

}  // namespace eg::dp
