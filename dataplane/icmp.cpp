#include "dataplane/icmp.hpp"

#include <cstring>

#include "dataplane/checksum.hpp"
#include "dataplane/headers.hpp"

namespace eg::dp {

namespace {

// RFC 1812 §4.3.2.3: quote as much of the original as fits in 576 bytes.
constexpr uint32_t k_icmp4_max_quote = 576 - ipv4::min_header_len - icmp4::header_len;
// RFC 4443 §2.4(c): the error must not exceed the minimum IPv6 MTU.
constexpr uint32_t k_icmp6_max_quote = ipv6::min_mtu - ipv6::header_len - icmp6::header_len;

/// Drops p (the error is not sent) with the reason counted for it.
bool refuse(packet& p, worker_context& w, drop_reason r) {
    w.drop(p, r);
    return false;
}

bool is_icmp4_error_type(uint8_t type) {
    return type == icmp4::dest_unreachable || type == 4 /*source quench*/ || type == 5 /*redirect*/ ||
           type == icmp4::time_exceeded || type == icmp4::param_problem;
}

void set_ttl_and_fix(uint8_t* ip, uint8_t ttl) {
    uint16_t old_word = raw16(ip + ipv4::ttl);
    ip[ipv4::ttl] = ttl;
    put_raw16(ip + ipv4::csum, checksum_update16(raw16(ip + ipv4::csum), old_word, raw16(ip + ipv4::ttl)));
}

}  // namespace

void make_echo_reply4(packet& p) {
    uint8_t* ip = p.l3();
    const uint32_t ihl = (ip[ipv4::ver_ihl] & 0xf) * 4u;
    uint8_t tmp[4];
    std::memcpy(tmp, ip + ipv4::src, 4);
    std::memcpy(ip + ipv4::src, ip + ipv4::dst, 4);
    std::memcpy(ip + ipv4::dst, tmp, 4);  // the header checksum is unchanged by a swap
    set_ttl_and_fix(ip, 64);
    uint8_t* icmp = ip + ihl;
    uint16_t old_word = raw16(icmp);
    icmp[0] = icmp4::echo_reply;
    uint16_t c = checksum_update16(raw16(icmp + 2), old_word, raw16(icmp));
    if (c == 0) {
        // RFC 1624 eqn. 3 gives 0x0000 where a full sum gives 0xffff exactly when the
        // message is all zeros (type 0, id 0, sequence 0, zero data: its sum is +0, not
        // -0); receivers reject that. (Found by nat44_pipeline_fuzz's checksum oracle.)
        const uint32_t len = load16(ip + ipv4::total_len) - ihl;
        bool all_zero = true;
        for (uint32_t i = 0; i < len && all_zero; ++i) {
            all_zero = i == 2 || i == 3 || icmp[i] == 0;
        }
        c = all_zero ? 0xffff : 0;
    }
    put_raw16(icmp + 2, c);
    p.offload = {};
}

void make_echo_reply6(packet& p) {
    uint8_t* ip = p.l3();
    uint8_t tmp[16];
    std::memcpy(tmp, ip + ipv6::src, 16);
    std::memcpy(ip + ipv6::src, ip + ipv6::dst, 16);
    std::memcpy(ip + ipv6::dst, tmp, 16);  // pseudo-header sum unchanged by a swap
    ip[ipv6::hop_limit] = 64;
    uint8_t* icmp = ip + ipv6::header_len;
    uint16_t old_word = raw16(icmp);
    icmp[0] = icmp6::echo_reply;
    put_raw16(icmp + 2, checksum_update16(raw16(icmp + 2), old_word, raw16(icmp)));
    p.offload = {};
}

bool make_icmp4_error(packet& p, worker_context& w, uint8_t type, uint8_t code, uint32_t rest, uint32_t src) {
    const uint8_t* orig = p.l3();
    const uint32_t ihl = (orig[ipv4::ver_ihl] & 0xf) * 4u;
    const uint32_t orig_src = load32(orig + ipv4::src);
    const uint32_t orig_dst = load32(orig + ipv4::dst);
    // RFC 1812 §4.3.2.7: never about ICMP errors, non-first fragments, or packets
    // whose source is not a unicast host or whose destination is not unicast.
    if ((load16(orig + ipv4::frag) & ipv4::frag_offset_mask) != 0 || orig_src == 0 ||
        (orig_src >> 28) >= 0xe || (orig_src >> 24) == 127 || (orig_dst >> 28) >= 0xe ||
        (orig[ipv4::proto] == proto::icmp && p.l3_len() > ihl && is_icmp4_error_type(orig[ihl])) || src == 0) {
        return refuse(p, w, drop_reason::icmp_no_error_for_error);
    }
    if (!w.icmp_limiter.allow(w.now_ns)) {
        return refuse(p, w, drop_reason::icmp_error_rate_limited);
    }
    constexpr uint32_t added = ipv4::min_header_len + icmp4::header_len;
    if (p.headroom() + p.l3_offset < added + 14) {
        return refuse(p, w, drop_reason::icmp_no_headroom);  // backends leave 128 bytes
    }
    uint32_t quote = std::min<uint32_t>(load16(orig + ipv4::total_len), k_icmp4_max_quote);
    quote = std::min(quote, p.l3_len());
    uint8_t* ip = p.l3() - added;
    std::memset(ip, 0, added);
    ip[ipv4::ver_ihl] = 0x45;
    ip[ipv4::tos] = 0xc0;  // internetwork control, as routers send errors
    store16(ip + ipv4::total_len, static_cast<uint16_t>(added + quote));
    ip[ipv4::ttl] = 64;
    ip[ipv4::proto] = proto::icmp;
    store32(ip + ipv4::src, src);
    store32(ip + ipv4::dst, orig_src);
    put_raw16(ip + ipv4::csum, checksum(ip, ipv4::min_header_len));
    uint8_t* icmp = ip + ipv4::min_header_len;
    icmp[0] = type;
    icmp[1] = code;
    store32(icmp + 4, rest);
    put_raw16(icmp + 2, checksum(icmp, icmp4::header_len + quote));
    p.data = ip - eth::header_len;
    p.l3_offset = eth::header_len;
    p.len = eth::header_len + added + quote;
    p.offload = {};
    w.counters.icmp_errors_sent.add();
    return true;
}

uint16_t icmp6_checksum(const uint8_t* l3, uint32_t icmp_len) {
    uint64_t sum = pseudo_header_sum(l3 + ipv6::src, l3 + ipv6::dst, 16, proto::icmpv6, icmp_len);
    return checksum(l3 + ipv6::header_len, icmp_len, sum);
}

bool make_icmp6_error(packet& p, worker_context& w, uint8_t type, uint8_t code, uint32_t rest,
                      const uint8_t* src) {
    const uint8_t* orig = p.l3();
    // RFC 4443 §2.4(e): not about ICMPv6 errors, not to multicast destinations (but
    // packet-too-big), never from an unspecified or multicast source.
    static const uint8_t unspecified[16] = {};
    const bool orig_src_bad = orig[ipv6::src] == 0xff || std::memcmp(orig + ipv6::src, unspecified, 16) == 0;
    const bool orig_dst_multicast = orig[ipv6::dst] == 0xff;
    const bool about_error = orig[ipv6::next_header] == proto::icmpv6 && p.l3_len() > ipv6::header_len &&
                             orig[ipv6::header_len] < 128;
    if (orig_src_bad || about_error || (orig_dst_multicast && type != icmp6::packet_too_big)) {
        return refuse(p, w, drop_reason::icmp_no_error_for_error);
    }
    if (!w.icmp_limiter.allow(w.now_ns)) {
        return refuse(p, w, drop_reason::icmp_error_rate_limited);
    }
    constexpr uint32_t added = ipv6::header_len + icmp6::header_len;
    if (p.headroom() + p.l3_offset < added + 14) {
        return refuse(p, w, drop_reason::icmp_no_headroom);
    }
    const uint32_t quote = std::min(p.l3_len(), k_icmp6_max_quote);
    uint8_t orig_src[16];
    std::memcpy(orig_src, orig + ipv6::src, 16);
    uint8_t* ip = p.l3() - added;
    std::memset(ip, 0, added);
    ip[0] = 0x60;
    store16(ip + ipv6::payload_len, static_cast<uint16_t>(icmp6::header_len + quote));
    ip[ipv6::next_header] = proto::icmpv6;
    ip[ipv6::hop_limit] = 64;
    std::memcpy(ip + ipv6::src, src, 16);
    std::memcpy(ip + ipv6::dst, orig_src, 16);
    uint8_t* icmp = ip + ipv6::header_len;
    icmp[0] = type;
    icmp[1] = code;
    store32(icmp + 4, rest);
    put_raw16(icmp + 2, icmp6_checksum(ip, icmp6::header_len + quote));
    p.data = ip - eth::header_len;
    p.l3_offset = eth::header_len;
    p.len = eth::header_len + added + quote;
    p.offload = {};
    w.counters.icmp_errors_sent.add();
    return true;
}

}  // namespace eg::dp
