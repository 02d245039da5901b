#pragma once
// WireGuard wire formats (whitepaper §5.4.2-5.4.6; kernel messages.h): parse with
// strict validation and serialise. A message starts with a little-endian u32 whose low
// byte is the type and whose other three bytes must be zero. Types 1-3 have exact sizes;
// transport data is at least 32 bytes (header + tag, a keepalive). Indices are written
// little-endian (wireguard-go). Parsers return an error enum and never throw.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/constants.hpp"

namespace eg::crypto {

enum class message_type : uint8_t { initiation = 1, response = 2, cookie_reply = 3, transport = 4 };

// X-macro: the enum, its text and (for the data path) its drop-reason name, defined once.
#define EG_WG_PARSE_ERRORS(X) \
    X(ok)                     \
    X(too_short)              \
    X(unknown_type)           \
    X(reserved_not_zero)      \
    X(wrong_size)
enum class parse_error : uint8_t {
#define EG_X(name) name,
    EG_WG_PARSE_ERRORS(EG_X)
#undef EG_X
};
const char* to_string(parse_error e);

struct message_initiation {
    uint32_t sender_index = 0;
    public_key ephemeral{};
    std::array<uint8_t, 32 + k_aead_tag_size> encrypted_static{};
    std::array<uint8_t, k_timestamp_size + k_aead_tag_size> encrypted_timestamp{};
    mac16 mac1{};
    mac16 mac2{};

    static constexpr size_t k_size = k_initiation_size;
    static constexpr size_t k_mac1_offset = 116;
    static constexpr size_t k_mac2_offset = 132;
};

struct message_response {
    uint32_t sender_index = 0;
    uint32_t receiver_index = 0;
    public_key ephemeral{};
    std::array<uint8_t, k_aead_tag_size> encrypted_nothing{};
    mac16 mac1{};
    mac16 mac2{};

    static constexpr size_t k_size = k_response_size;
    static constexpr size_t k_mac1_offset = 60;
    static constexpr size_t k_mac2_offset = 76;
};

struct message_cookie_reply {
    uint32_t receiver_index = 0;
    std::array<uint8_t, k_cookie_nonce_size> nonce{};
    std::array<uint8_t, k_cookie_size + k_aead_tag_size> encrypted_cookie{};

    static constexpr size_t k_size = k_cookie_reply_size;
};

/// The transport header, read in place; the ciphertext (payload + tag) follows it.
struct transport_header {
    uint32_t receiver_index = 0;
    uint64_t counter = 0;
};

/// Type of a datagram after checking the 4-byte header (known type, reserved zero).
/// Cheap: the first thing run on every received WireGuard datagram.
parse_error peek_type(std::span<const uint8_t> b, message_type& type);

parse_error parse(std::span<const uint8_t> b, message_initiation& m);
parse_error parse(std::span<const uint8_t> b, message_response& m);
parse_error parse(std::span<const uint8_t> b, message_cookie_reply& m);
/// b must be >= 32 bytes and of type 4; the ciphertext is b.subspan(16).
parse_error parse(std::span<const uint8_t> b, transport_header& h);

void serialise(const message_initiation& m, std::span<uint8_t, k_initiation_size> out);
void serialise(const message_response& m, std::span<uint8_t, k_response_size> out);
void serialise(const message_cookie_reply& m, std::span<uint8_t, k_cookie_reply_size> out);
void serialise(const transport_header& h, std::span<uint8_t, k_transport_header_size> out);

// Little-endian field helpers shared by the formats and the transport path.
inline uint32_t load_le32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t load_le64(const uint8_t* p) { return uint64_t(load_le32(p)) | uint64_t(load_le32(p + 4)) << 32; }
inline void store_le32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void store_le64(uint8_t* p, uint64_t v) {
    store_le32(p, uint32_t(v));
    store_le32(p + 4, uint32_t(v >> 32));
}

}  // namespace eg::crypto
