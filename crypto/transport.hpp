#pragma once
// Transport data (whitepaper §5.4.6): one keypair = send key + receive key, the indices
// that name it, a send counter and a receive replay window. Sealing writes the whole
// message (type 4, receiver index, LE64 counter, ciphertext of the zero-padded
// plaintext, 16-byte tag) into a caller-given buffer; opening decrypts in place. An
// empty plaintext is a keepalive (32 bytes on the wire).
//
// Data-path contract: owner = the peer's home worker (the EVP contexts and the replay
// window are single-threaded); per packet no allocation, no exception, no syscall;
// keys are set once in init() and only the nonce changes per packet.
#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/aead.hpp"
#include "crypto/constants.hpp"
#include "crypto/handshake.hpp"
#include "crypto/replay_window.hpp"

namespace eg::crypto {

#define EG_WG_TRANSPORT_ERRORS(X) \
    X(ok)                         \
    X(malformed)                  \
    X(wrong_receiver)             \
    X(key_expired)                \
    X(counter_exhausted)          \
    X(buffer_too_small)           \
    X(authentication_failed)      \
    X(replayed)                   \
    X(crypto_failure)
enum class transport_error : uint8_t {
#define EG_X(name) name,
    EG_WG_TRANSPORT_ERRORS(EG_X)
#undef EG_X
};
const char* to_string(transport_error e);

/// Plaintext length after padding: up to a multiple of 16, but never past mtu (when
/// mtu > 0) unless the packet itself is longer (wireguard-go calculatePaddingSize).
constexpr size_t padded_size(size_t n, size_t mtu = 0) {
    size_t p = (n + k_padding_multiple - 1) / k_padding_multiple * k_padding_multiple;
    if (mtu != 0 && p > mtu) p = n > mtu ? n : mtu;
    return p;
}
/// Bytes on the wire for a plaintext of n bytes.
constexpr size_t sealed_size(size_t n, size_t mtu = 0) {
    return k_transport_header_size + padded_size(n, mtu) + k_aead_tag_size;
}

class keypair {
public:
    keypair() = default;
    keypair(const keypair&) = delete;
    keypair& operator=(const keypair&) = delete;

    /// Cold: keys both directions (two EVP contexts). `now` is the birth time from
    /// which REJECT_AFTER_TIME and REKEY_AFTER_TIME count. False if OpenSSL fails.
    bool init(const session_keys& keys, uint64_t now);

    /// Seals plaintext as one transport message into out; written = its size
    /// (sealed_size(plaintext.size(), mtu)). plaintext may already sit at out + 16
    /// (in place, no copy), or anywhere else (copied). Refuses keys at or past
    /// REJECT_AFTER_TIME and counters at REJECT_AFTER_MESSAGES.
    transport_error seal(std::span<const uint8_t> plaintext, std::span<uint8_t> out, uint64_t now, size_t& written,
                         size_t mtu = 0);

    /// Opens a whole transport message in place. On ok, plaintext = the decrypted,
    /// still padded payload inside packet (empty: keepalive); the caller trims to the
    /// inner IP length. Order (kernel receive.c): header and key checks, cheap replay
    /// pre-check, decrypt and authenticate, then the replay window is updated.
    transport_error open(std::span<uint8_t> packet, uint64_t now, std::span<uint8_t>& plaintext);

    uint32_t local_index() const { return local_index_; }
    uint32_t remote_index() const { return remote_index_; }
    bool initiator() const { return initiator_; }
    uint64_t birth() const { return birth_; }
    /// Time since birth, 0 for a `now` before it. The control thread stamps the birth
    /// when it installs a keypair, and a worker may still be using the timestamp of the
    /// burst it started before: such a keypair is brand new, not 2^64 ns old (the plain
    /// difference wrapped, took it for expired, and the packets staged for the
    /// handshake waited for the next packet to the peer).
    uint64_t age(uint64_t now) const { return now > birth_ ? now - birth_ : 0; }
    uint64_t send_counter() const { return send_counter_; }
    bool valid() const { return valid_; }
    bool expired(uint64_t now) const { return age(now) >= k_reject_after_time; }
    /// The send-side rekey rule (whitepaper §6.2): the counter past REKEY_AFTER_MESSAGES,
    /// or, for the initiator only, the key older than REKEY_AFTER_TIME.
    bool wants_rekey_on_send(uint64_t now) const {
        return send_counter_ > k_rekey_after_messages || (initiator_ && age(now) >= k_rekey_after_time);
    }
    /// Test hook: jump the send counter (exercising REJECT_AFTER_MESSAGES needs 2^64 packets otherwise).
    void set_send_counter_for_test(uint64_t c) { send_counter_ = c; }

private:
    aead_context send_;
    aead_context receive_;
    replay_window replay_;
    uint64_t send_counter_ = 0;
    uint64_t birth_ = 0;
    uint32_t local_index_ = 0;
    uint32_t remote_index_ = 0;
    bool initiator_ = false;
    bool valid_ = false;
};

}  // namespace eg::crypto
