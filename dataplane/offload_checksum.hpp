#pragma once
// Finishing a checksum that a frame's offload state leaves partial (packet.hpp
// offload_info, virtio_net_hdr NEEDS_CSUM): the L4 checksum field holds only the
// pseudo-header sum, and summing from csum_start to the end of the frame completes it.
// Needed wherever a frame leaves without the kernel's help: fragmentation, and
// encryption into a tunnel (the far end cannot finish it).
#include "dataplane/checksum.hpp"
#include "dataplane/headers.hpp"
#include "dataplane/packet.hpp"

namespace eg::dp {

/// Completes the L4 checksum if offload says it is partial; clears needs_csum.
/// The offsets are the sender's (a virtio header): ones outside the frame, or reaching
/// back into the IP header (p.l3(), IPv4 or IPv6 by p.ether_type), leave the frame as
/// it is — writing there would change a header already validated, its length included.
inline void complete_l4_checksum(packet& p) {
    if (!p.offload.needs_csum) {
        return;
    }
    const uint32_t l3_header = p.ether_type == eth::type_ipv6 ? ipv6::header_len : (p.l3()[ipv4::ver_ihl] & 0xf) * 4u;
    const uint32_t start = p.offload.csum_start;
    const uint32_t field = start + p.offload.csum_offset;
    if (start >= p.l3_offset + l3_header && start < p.len && field + 2 <= p.len) {
        // The field holds the pseudo-header sum; summing over it completes the checksum.
        uint16_t c = checksum(p.data + start, p.len - start);
        if (c == 0 && p.offload.csum_offset == 6) {
            c = 0xffff;  // UDP (RFC 768): 0 means "no checksum"
        }
        put_raw16(p.data + field, c);
    }
    p.offload.needs_csum = 0;
}

}  // namespace eg::dp
