#pragma once
// X25519 (RFC 7748) and randomness through libsodium. DH results that are all zero
// (a small-order peer point) are failures, as WireGuard requires (whitepaper §5.4:
// "DH(...) ... returns an error if the result is zero"; libsodium returns -1 then).
#include <cstdint>
#include <span>

#include "crypto/constants.hpp"

namespace eg::crypto {

struct x25519_keypair {
    private_key priv{};
    public_key pub{};
    /// Overwrites the private half (sodium_memzero: not optimised away).
    void wipe();
};

/// DH_GENERATE: 32 random bytes, clamped, and their public key.
x25519_keypair x25519_generate();
/// The keypair of a given private key (clamped as RFC 7748 §5 decodes it; the stored
/// private key is clamped too, so it is a valid WireGuard private key).
x25519_keypair x25519_from_private(const private_key& priv);
/// shared = X25519(priv, pub); false when the result is all zero.
[[nodiscard]] bool x25519(key32& shared, const private_key& priv, const public_key& pub);

/// Cryptographically secure random bytes (libsodium randombytes_buf).
void random_bytes(std::span<uint8_t> out);
uint32_t random_u32();

}  // namespace eg::crypto
