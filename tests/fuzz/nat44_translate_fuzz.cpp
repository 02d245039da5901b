// libFuzzer target for the NAT44 rewrite core (dataplane/nat44_translate.hpp).
// Contract: for any IPv4 packet that passes the header checks validate_ipv4 makes
// (version, IHL, total length; the checksum is irrelevant here), nat44_tuple, every
// rewrite and tcp_flags never read or write outside [l3, l3 + total length), and a
// rewrite keeps a valid IPv4 header checksum valid.
//
// Input layout: byte 0 = flags (bit 0 needs_csum, bit 1 GSO, bits 2-3 which rewrite),
// bytes 1-6 = new address and port, the rest = the IPv4 packet. The packet is copied
// into a buffer of exactly its size so ASan sees any overrun.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dataplane/checksum.hpp"
#include "dataplane/nat44_translate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace eg::dp;
    if (size < 7 + ipv4::min_header_len || size > 65535 + 7) {
        return 0;
    }
    const uint8_t flags = data[0];
    const uint32_t addr = load32(data + 1);
    const uint16_t port = load16(data + 5);
    const size_t ip_len = size - 7;
    // validate_ipv4's structural checks (it needs a worker_context; these are its rules).
    const uint8_t* in = data + 7;
    const uint32_t ihl = (in[0] & 0xfu) * 4u;
    const uint32_t total = load16(in + ipv4::total_len);
    if ((in[0] >> 4) != 4 || ihl < ipv4::min_header_len || ihl > ip_len || total < ihl || total > ip_len) {
        return 0;
    }
    std::vector<uint8_t> frame(total);  // exact size: trimmed as validate_ipv4 trims
    std::memcpy(frame.data(), in, total);
    // Make the header checksum valid so the invariant below can be checked.
    store16(frame.data() + ipv4::csum, 0);
    put_raw16(frame.data() + ipv4::csum, checksum(frame.data(), ihl));

    packet p;
    p.data = frame.data();
    p.buf = frame.data();
    p.len = total;
    p.buf_size = total;
    p.l3_offset = 0;
    p.offload.needs_csum = flags & 1;
    p.offload.gso_type = (flags & 2) ? offload_info::gso_tcpv4 : offload_info::gso_none;

    nat_tuple t;
    const bool ok = nat44_tuple(p, t);
    volatile uint8_t sink = tcp_flags(p);
    (void)sink;
    switch ((flags >> 2) & 3) {
    case 0: nat44_rewrite_src(p, addr, port); break;
    case 1: nat44_rewrite_dst(p, addr, port); break;
    case 2: nat44_rewrite_icmp_error(p, addr, addr ^ 0x01010101u, port); break;
    default: nat44_rewrite_icmp_error(p, nat_side::src, addr, addr, port); break;
    }
    if (checksum(frame.data(), ihl) != 0) {
        std::abort();  // the IPv4 header checksum must stay valid
    }
    if (ok) {
        // The tuple of a translated packet parses again, to the same shape.
        nat_tuple u;
        if (!nat44_tuple(p, u) || u.proto != t.proto || u.flags != t.flags) {
            std::abort();
        }
    }
    return 0;
}
