// X25519 and randomness over libsodium (see x25519.hpp).
#include "crypto/x25519.hpp"

#include <sodium/core.h>
#include <sodium/crypto_scalarmult_curve25519.h>
#include <sodium/randombytes.h>
#include <sodium/utils.h>

#include <cstdio>
#include <cstdlib>

namespace eg::crypto {
namespace {

// sodium_init picks the fastest implementations and seeds the RNG; it is idempotent and
// thread-safe, and a static makes us call it once.
void ensure_sodium() {
    static const bool ok = sodium_init() >= 0;
    if (!ok) {
        std::fprintf(stderr, "eg::crypto: sodium_init failed\n");
        std::abort();
    }
}

void clamp(private_key& k) {
    k[0] &= 248;
    k[31] = uint8_t((k[31] & 127) | 64);
}

}  // namespace

void x25519_keypair::wipe() { sodium_memzero(priv.data(), priv.size()); }

x25519_keypair x25519_generate() {
    ensure_sodium();
    private_key k;
    randombytes_buf(k.data(), k.size());
    x25519_keypair kp = x25519_from_private(k);
    sodium_memzero(k.data(), k.size());
    return kp;
}

x25519_keypair x25519_from_private(const private_key& priv) {
    x25519_keypair kp;
    kp.priv = priv;
    clamp(kp.priv);
    crypto_scalarmult_curve25519_base(kp.pub.data(), kp.priv.data());
    return kp;
}

bool x25519(key32& shared, const private_key& priv, const public_key& pub) {
    return crypto_scalarmult_curve25519(shared.data(), priv.data(), pub.data()) == 0;
}

void random_bytes(std::span<uint8_t> out) {
    ensure_sodium();
    randombytes_buf(out.data(), out.size());
}

uint32_t random_u32() {
    ensure_sodium();
    return randombytes_random();
}

}  // namespace eg::crypto
