#include "dataplane/nat44_translate.hpp"

namespace eg::dp {

namespace detail {

namespace {

/// The embedded IPv4 header of an ICMP error at `icmp` (icmp_len bytes present), or
/// nullptr when the quote does not hold one: version 4, 20 <= IHL*4 <= what is there.
const uint8_t* embedded_ipv4(const uint8_t* icmp, uint32_t icmp_len, uint32_t& inner_ihl) {
    if (icmp_len < icmp4::header_len + ipv4::min_header_len) {
        return nullptr;
    }
    const uint8_t* inner = icmp + icmp4::header_len;
    inner_ihl = ihl_of(inner);
    if ((inner[ipv4::ver_ihl] >> 4) != 4 || inner_ihl < ipv4::min_header_len ||
        inner_ihl > icmp_len - icmp4::header_len) {
        return nullptr;
    }
    return inner;
}

}  // namespace

bool nat44_icmp_error_tuple(const uint8_t* icmp, uint32_t icmp_len, nat_tuple& out) {
    if (!is_icmp_error_type(icmp[0])) {
        return false;  // other queries (timestamp, ...) and redirects are not translated
    }
    uint32_t ihl = 0;
    const uint8_t* inner = embedded_ipv4(icmp, icmp_len, ihl);
    if (inner == nullptr) {
        return false;
    }
    const uint32_t l4_len = icmp_len - icmp4::header_len - ihl;
    const uint8_t* l4 = inner + ihl;
    // Reversed: the error travels against the packet it quotes (RFC 5508 §4.2).
    out.src_addr = load32(inner + ipv4::dst);
    out.dst_addr = load32(inner + ipv4::src);
    out.proto = inner[ipv4::proto];
    out.src_port = 0;
    out.dst_port = 0;
    out.flags |= nat_tuple::icmp_error;
    if (non_first_fragment(inner)) {
        out.flags |= nat_tuple::no_ports;
        return true;
    }
    if (out.proto != proto::tcp && out.proto != proto::udp && out.proto != proto::icmp) {
        out.flags |= nat_tuple::no_ports;
        return true;
    }
    if (l4_len < 8) {
        return false;  // RFC 792: the quote holds at least 8 bytes of transport
    }
    if (out.proto == proto::icmp) {
        // RFC 1122 §3.2.2: never an error about an error; other queries not translated.
        if (l4[0] == icmp4::echo_request) {
            out.dst_port = load16(l4 + k_icmp_id);  // request id is its src port, reversed
            return true;
        }
        if (l4[0] == icmp4::echo_reply) {
            out.src_port = load16(l4 + k_icmp_id);
            return true;
        }
        return false;
    }
    out.src_port = load16(l4 + 2);
    out.dst_port = load16(l4);
    return true;
}

}  // namespace detail

void nat44_rewrite_icmp_error(packet& p, nat_side side, uint32_t outer_addr, uint32_t inner_addr,
                              uint16_t inner_port) {
    using namespace detail;
    const uint32_t s = static_cast<uint32_t>(side);
    uint8_t* ip = p.l3();
    const uint32_t ihl = ihl_of(ip);
    const uint32_t icmp_len = total_of(p, ip) - ihl;
    uint8_t* icmp = ip + ihl;
    // Only a first fragment of an ICMP error that quotes an IPv4 header; anything else
    // is left untouched (a non-first fragment goes through nat44_rewrite_dst).
    if (non_first_fragment(ip) || ip[ipv4::proto] != proto::icmp || icmp_len < icmp4::header_len ||
        !is_icmp_error_type(icmp[0])) {
        return;
    }
    uint32_t inner_ihl = 0;
    uint8_t* inner = const_cast<uint8_t*>(embedded_ipv4(icmp, icmp_len, inner_ihl));
    if (inner == nullptr) {
        return;
    }
    // The outer address is in the IPv4 header only: ICMP has no pseudo-header.
    const uint32_t da_outer = put_addr(ip + ipv4::src + 4 * s, outer_addr);
    put_raw16(ip + ipv4::csum, csum_apply(raw16(ip + ipv4::csum), da_outer));
    // The embedded packet went the other way: its opposite end is the one translated.
    const uint32_t is = 1 - s;
    // Every 16-bit word changed inside the ICMP message adds to `d` (all at even
    // offsets from the ICMP header, so the word arithmetic lines up).
    const uint32_t da = put_addr(inner + ipv4::src + 4 * is, inner_addr);
    uint64_t d = da;
    {
        const uint16_t o = raw16(inner + ipv4::csum);
        const uint16_t n = csum_apply(o, da);
        put_raw16(inner + ipv4::csum, n);
        d += delta16(o, n);
    }
    const uint32_t l4_len = icmp_len - icmp4::header_len - inner_ihl;
    uint8_t* l4 = inner + inner_ihl;
    // Changes an embedded checksum field by `delta` if the quote holds it.
    auto fix = [&](uint32_t off, uint64_t delta, bool udp) {
        if (l4_len < off + 2) {
            return;
        }
        const uint16_t o = raw16(l4 + off);
        if (udp && o == 0) {
            return;  // RFC 768: no checksum
        }
        uint16_t n = csum_apply(o, delta);
        if (udp && n == 0) {
            n = 0xffff;
        }
        put_raw16(l4 + off, n);
        d += delta16(o, n);
    };
    if (!non_first_fragment(inner)) {
        switch (inner[ipv4::proto]) {
        case proto::tcp:
        case proto::udp:
            if (l4_len >= 2 * is + 2) {  // the port rewritten is there
                const uint32_t dp = put_port(l4 + 2 * is, inner_port);
                d += dp;
                const bool udp = inner[ipv4::proto] == proto::udp;
                fix(udp ? k_udp_csum : k_tcp_csum, uint64_t{da} + dp, udp);
            }
            break;
        case proto::icmp:
            // Identifier: src slot of a request, dst slot of a reply.
            if (l4_len >= k_icmp_id + 2 && l4[0] == (is ? icmp4::echo_reply : icmp4::echo_request)) {
                const uint32_t dp = put_port(l4 + k_icmp_id, inner_port);
                d += dp;
                fix(k_icmp_csum, dp, false);
            }
            break;
        default:
            break;
        }
    }  // a non-first fragment quotes no transport header: the address was all
    if (!partial_csum(p)) {
        put_raw16(icmp + k_icmp_csum, csum_apply(raw16(icmp + k_icmp_csum), d));
    }
}

}  // namespace eg::dp
