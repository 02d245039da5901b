#pragma once
// The two AEADs of WireGuard (whitepaper §5.4):
//  - aead_context: ChaCha20-Poly1305 (RFC 8439) through OpenSSL 3 EVP, keyed once per
//    keypair and direction and reused per packet (only the nonce is set per call): the
//    data path's cipher. Owner: one thread; a context is never shared.
//  - aead_seal / aead_open: one-shot ChaCha20-Poly1305 with WireGuard's nonce
//    (4 zero bytes ‖ LE64 counter) for the handshake's few small fields (libsodium).
//  - xaead_seal / xaead_open: XChaCha20-Poly1305 for the cookie reply (libsodium;
//    OpenSSL 3.0 has no XChaCha).
// Nothing here throws or allocates per call; in-place operation (out == in) is allowed.
#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/constants.hpp"

namespace eg::crypto {

using nonce12 = std::array<uint8_t, 12>;

/// WireGuard's AEAD nonce: 32 zero bits then the 64-bit counter little-endian.
nonce12 wg_nonce(uint64_t counter);

class aead_context {
public:
    enum class mode : uint8_t { seal, open };

    aead_context() = default;
    ~aead_context();
    aead_context(aead_context&& o) noexcept : ctx_(o.ctx_), mode_(o.mode_) { o.ctx_ = nullptr; }
    aead_context& operator=(aead_context&& o) noexcept;
    aead_context(const aead_context&) = delete;
    aead_context& operator=(const aead_context&) = delete;

    /// Cold: allocates the EVP context and sets the key. False if OpenSSL fails.
    bool init(mode m, const key32& key);
    bool ready() const { return ctx_ != nullptr; }

    /// Encrypts len bytes from in to out (out may equal in) and writes the 16-byte tag
    /// to tag. Precondition: init(mode::seal). False only if OpenSSL fails.
    bool seal(const nonce12& nonce, const uint8_t* in, size_t len, uint8_t* out, uint8_t* tag,
              std::span<const uint8_t> ad = {});
    /// Decrypts and authenticates; false when the tag does not match (out then holds
    /// unauthenticated bytes the caller must discard). Precondition: init(mode::open).
    bool open(const nonce12& nonce, const uint8_t* in, size_t len, const uint8_t* tag, uint8_t* out,
              std::span<const uint8_t> ad = {});

private:
    EVP_CIPHER_CTX* ctx_ = nullptr;
    mode mode_ = mode::seal;
};

/// out[0 .. len+16) = ChaCha20-Poly1305(key, wg_nonce(counter), in[0 .. len), ad).
void aead_seal(uint8_t* out, const key32& key, uint64_t counter, std::span<const uint8_t> in,
               std::span<const uint8_t> ad);
/// out[0 .. in.size()-16) = plaintext; false (out unspecified) on a bad tag or short input.
bool aead_open(uint8_t* out, const key32& key, uint64_t counter, std::span<const uint8_t> in,
               std::span<const uint8_t> ad);

using nonce24 = std::array<uint8_t, 24>;
/// XChaCha20-Poly1305: out[0 .. len+16).
void xaead_seal(uint8_t* out, const key32& key, const nonce24& nonce, std::span<const uint8_t> in,
                std::span<const uint8_t> ad);
bool xaead_open(uint8_t* out, const key32& key, const nonce24& nonce, std::span<const uint8_t> in,
                std::span<const uint8_t> ad);

}  // namespace eg::crypto
