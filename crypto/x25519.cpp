// X25519 and randomness over libsodium (see x25519.hpp).
#include "crypto/x25519.hpp"

#include <sodium/core.h>
#include <sodium/crypto_scalarmult_curve25519.h>
#include <sodium/randombytes.h>
#include <sodium/utils.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "crypto/x25519_batch.hpp"

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

namespace {

/// Fresh keypairs made k_x25519_lanes at a time: the batched fixed-base multiplication
/// (x25519_batch.hpp) makes eight public keys for about half of what libsodium spends on
/// one, and every handshake needs a new ephemeral. One pool per thread, so no lock; a key
/// leaves the pool wiped behind it, and what is left is wiped when the thread ends.
/// (edgegated never forks, so no two processes can hand out the same pooled key.)
class keypair_pool {
public:
    ~keypair_pool() {
        for (x25519_keypair& k : keys_) k.wipe();
    }
    x25519_keypair take() {
        if (left_ == 0) refill();
        --left_;
        x25519_keypair kp = keys_[left_];
        keys_[left_].wipe();
        return kp;
    }

private:
    void refill() {
        std::array<private_key, k_x25519_lanes> priv;
        std::array<public_key, k_x25519_lanes> pub;
        randombytes_buf(priv.data(), sizeof priv);
        for (private_key& k : priv) clamp(k);
        x25519_batch_base(priv, pub);
        for (size_t i = 0; i < k_x25519_lanes; ++i) keys_[i] = {priv[i], pub[i]};
        sodium_memzero(priv.data(), sizeof priv);
        left_ = k_x25519_lanes;
    }

    std::array<x25519_keypair, k_x25519_lanes> keys_{};
    size_t left_ = 0;
};

}  // namespace

x25519_keypair x25519_generate() {
    ensure_sodium();
    thread_local keypair_pool pool;
    return pool.take();
}

x25519_keypair x25519_from_private(const private_key& priv) {
    x25519_keypair kp;
    kp.priv = priv;
    clamp(kp.priv);
    // One key through the batched table method still costs about half of libsodium's
    // ladder (the other lanes are padding).
    x25519_batch_base(std::span<const private_key>(&kp.priv, 1), std::span<public_key>(&kp.pub, 1));
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
