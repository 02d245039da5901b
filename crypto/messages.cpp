// WireGuard message parsing and serialisation (see messages.hpp).
#include "crypto/messages.hpp"

#include <cstring>

namespace eg::crypto {
namespace {

template <size_t N>
void take(std::array<uint8_t, N>& dst, const uint8_t* src) {
    std::memcpy(dst.data(), src, N);
}
template <size_t N>
void put(uint8_t* dst, const std::array<uint8_t, N>& src) {
    std::memcpy(dst, src.data(), N);
}

parse_error expect(std::span<const uint8_t> b, message_type want, size_t exact_size) {
    message_type t;
    if (const parse_error e = peek_type(b, t); e != parse_error::ok) return e;
    if (t != want) return parse_error::unknown_type;
    return b.size() == exact_size ? parse_error::ok : parse_error::wrong_size;
}

}  // namespace

const char* to_string(parse_error e) {
    switch (e) {
#define EG_X(name)          \
    case parse_error::name: \
        return #name;
        EG_WG_PARSE_ERRORS(EG_X)
#undef EG_X
    }
    return "?";
}

parse_error peek_type(std::span<const uint8_t> b, message_type& type) {
    if (b.size() < 4) return parse_error::too_short;
    const uint32_t word = load_le32(b.data());
    if (word & 0xffffff00u) return parse_error::reserved_not_zero;
    if (word < 1 || word > 4) return parse_error::unknown_type;
    type = message_type(word);
    // Length rules that depend only on the type belong to the full parse, except the
    // transport minimum, checked here so the fast path needs a single call.
    if (type == message_type::transport && b.size() < k_transport_min_size) return parse_error::too_short;
    return parse_error::ok;
}

parse_error parse(std::span<const uint8_t> b, message_initiation& m) {
    if (const parse_error e = expect(b, message_type::initiation, k_initiation_size); e != parse_error::ok) return e;
    const uint8_t* p = b.data();
    m.sender_index = load_le32(p + 4);
    take(m.ephemeral, p + 8);
    take(m.encrypted_static, p + 40);
    take(m.encrypted_timestamp, p + 88);
    take(m.mac1, p + message_initiation::k_mac1_offset);
    take(m.mac2, p + message_initiation::k_mac2_offset);
    return parse_error::ok;
}

parse_error parse(std::span<const uint8_t> b, message_response& m) {
    if (const parse_error e = expect(b, message_type::response, k_response_size); e != parse_error::ok) return e;
    const uint8_t* p = b.data();
    m.sender_index = load_le32(p + 4);
    m.receiver_index = load_le32(p + 8);
    take(m.ephemeral, p + 12);
    take(m.encrypted_nothing, p + 44);
    take(m.mac1, p + message_response::k_mac1_offset);
    take(m.mac2, p + message_response::k_mac2_offset);
    return parse_error::ok;
}

parse_error parse(std::span<const uint8_t> b, message_cookie_reply& m) {
    if (const parse_error e = expect(b, message_type::cookie_reply, k_cookie_reply_size); e != parse_error::ok)
        return e;
    const uint8_t* p = b.data();
    m.receiver_index = load_le32(p + 4);
    take(m.nonce, p + 8);
    take(m.encrypted_cookie, p + 32);
    return parse_error::ok;
}

parse_error parse(std::span<const uint8_t> b, transport_header& h) {
    message_type t;
    if (const parse_error e = peek_type(b, t); e != parse_error::ok) return e;
    if (t != message_type::transport) return parse_error::unknown_type;
    h.receiver_index = load_le32(b.data() + 4);
    h.counter = load_le64(b.data() + 8);
    return parse_error::ok;
}

void serialise(const message_initiation& m, std::span<uint8_t, k_initiation_size> out) {
    uint8_t* p = out.data();
    store_le32(p, uint32_t(message_type::initiation));
    store_le32(p + 4, m.sender_index);
    put(p + 8, m.ephemeral);
    put(p + 40, m.encrypted_static);
    put(p + 88, m.encrypted_timestamp);
    put(p + message_initiation::k_mac1_offset, m.mac1);
    put(p + message_initiation::k_mac2_offset, m.mac2);
}

void serialise(const message_response& m, std::span<uint8_t, k_response_size> out) {
    uint8_t* p = out.data();
    store_le32(p, uint32_t(message_type::response));
    store_le32(p + 4, m.sender_index);
    store_le32(p + 8, m.receiver_index);
    put(p + 12, m.ephemeral);
    put(p + 44, m.encrypted_nothing);
    put(p + message_response::k_mac1_offset, m.mac1);
    put(p + message_response::k_mac2_offset, m.mac2);
}

void serialise(const message_cookie_reply& m, std::span<uint8_t, k_cookie_reply_size> out) {
    uint8_t* p = out.data();
    store_le32(p, uint32_t(message_type::cookie_reply));
    store_le32(p + 4, m.receiver_index);
    put(p + 8, m.nonce);
    put(p + 32, m.encrypted_cookie);
}

void serialise(const transport_header& h, std::span<uint8_t, k_transport_header_size> out) {
    store_le32(out.data(), uint32_t(message_type::transport));
    store_le32(out.data() + 4, h.receiver_index);
    store_le64(out.data() + 8, h.counter);
}

}  // namespace eg::crypto
