#pragma once
// Internet checksum (RFC 1071) and its incremental update (RFC 1624). Header-only so
// the compiler can inline it into every stage.
#include <cstdint>
#include <cstring>

#include "dataplane/headers.hpp"

namespace eg::dp {

/// Adds `len` bytes to a running 32-bit ones'-complement sum (unfolded). Bytes are
/// taken as big-endian 16-bit words; an odd trailing byte is padded with zero.
inline uint64_t checksum_add(uint64_t sum, const uint8_t* p, uint32_t len) {
    // Eight bytes at a time into a 64-bit accumulator; carries folded at the end.
    while (len >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        sum += (w & 0xffffffffULL) + (w >> 32);
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        uint32_t w;
        std::memcpy(&w, p, 4);
        sum += w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        std::memcpy(&w, p, 2);
        sum += w;
        p += 2;
        len -= 2;
    }
    if (len) {
        sum += p[0];  // little-endian host: the lone byte is the high byte of a BE word
    }
    return sum;
}

/// Verifies a 20-byte IPv4 header without options (the common case): true if valid.
inline bool ipv4_header_checksum_ok20(const uint8_t* p) {
    uint32_t w[5];
    std::memcpy(w, p, 20);
    uint64_t sum = uint64_t{w[0]} + w[1] + w[2] + w[3] + w[4];
    sum = (sum & 0xffffffffULL) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

/// Folds a sum to 16 bits, in network byte order as stored in memory.
inline uint16_t checksum_fold(uint64_t sum) {
    sum = (sum & 0xffffffffULL) + (sum >> 32);
    sum = (sum & 0xffffffffULL) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

/// The checksum to store in a header: ~fold(sum over the bytes), in memory order.
inline uint16_t checksum(const uint8_t* p, uint32_t len, uint64_t initial = 0) {
    return static_cast<uint16_t>(~checksum_fold(checksum_add(initial, p, len)));
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field changing from m to m'.
/// All three values in memory (network) order.
inline uint16_t checksum_update16(uint16_t hc, uint16_t old_word, uint16_t new_word) {
    uint32_t sum = static_cast<uint16_t>(~hc);
    sum += static_cast<uint16_t>(~old_word);
    sum += new_word;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

/// Decrements the TTL of the IPv4 header at `ip` and updates its checksum in place:
/// RFC 1624's update specialised to this one change, as Linux's ip_decrease_ttl does.
/// The (TTL, protocol) word falls by 0x0100, so the stored checksum rises by 0x0100 in
/// ones'-complement arithmetic; read as a little-endian word that is +1, and the
/// end-around carry (`>= 0xffff`) also turns 0xffff into 0x0000, so the result equals a
/// full recomputation. Precondition: TTL > 0. One add and one compare per forwarded
/// packet instead of the general three-term update.
inline void ipv4_decrement_ttl(uint8_t* ip) {
    uint32_t check = uint32_t{raw16(ip + ipv4::csum)} + 1;  // + htons(0x0100) on a little-endian host
    check += check >= 0xffff;
    put_raw16(ip + ipv4::csum, static_cast<uint16_t>(check));
    ip[ipv4::ttl] -= 1;
}

/// Ones'-complement sum of the TCP/UDP pseudo-header (RFC 793 / RFC 8200 §8.1).
/// `src`/`dst` point at 4 or 16 address bytes; l4_len in host order.
inline uint64_t pseudo_header_sum(const uint8_t* src, const uint8_t* dst, uint32_t addr_len,
                                  uint8_t proto, uint32_t l4_len) {
    uint64_t sum = checksum_add(0, src, addr_len);
    sum = checksum_add(sum, dst, addr_len);
    uint8_t tail[8] = {static_cast<uint8_t>(l4_len >> 24), static_cast<uint8_t>(l4_len >> 16),
                       static_cast<uint8_t>(l4_len >> 8), static_cast<uint8_t>(l4_len), 0, 0, 0, proto};
    return checksum_add(sum, tail, 8);
}

/// pseudo_header_sum with the addresses of the IPv4 or IPv6 header at ip.
inline uint64_t pseudo_header_sum_of(const uint8_t* ip, bool v6, uint8_t proto, uint32_t l4_len) {
    return v6 ? pseudo_header_sum(ip + ipv6::src, ip + ipv6::dst, 16, proto, l4_len)
              : pseudo_header_sum(ip + ipv4::src, ip + ipv4::dst, 4, proto, l4_len);
}

}  // namespace eg::dp
