// OpenSSL 3 backing for BLAKE2s / BLAKE2s-MAC / HMAC-BLAKE2s (see blake2s.hpp).
#include "crypto/blake2s.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium/utils.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace eg::crypto {
namespace {

// Fetched once: OpenSSL 3 pays a provider lookup per implicit fetch (openssl#21005).
struct algorithms {
    EVP_MD* blake2s = EVP_MD_fetch(nullptr, "BLAKE2S-256", nullptr);
    EVP_MAC* blake2s_mac = EVP_MAC_fetch(nullptr, "BLAKE2SMAC", nullptr);
    EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
};

[[noreturn]] void fatal(const char* what) {
    // Only reachable when the OpenSSL installation lacks the default provider: a broken
    // host, found on the first handshake, not a per-packet condition.
    std::fprintf(stderr, "eg::crypto: %s\n", what);
    std::abort();
}

const algorithms& algs() {
    static const algorithms a = [] {
        algorithms x;
        if (!x.blake2s || !x.blake2s_mac || !x.hmac) fatal("BLAKE2s algorithms unavailable");
        return x;
    }();
    return a;
}

struct md_ctx_free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct mac_ctx_free {
    void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

// Per-thread contexts, re-initialised per call: init with a new key resets all state.
EVP_MD_CTX* md_ctx() {
    thread_local std::unique_ptr<EVP_MD_CTX, md_ctx_free> c(EVP_MD_CTX_new());
    return c.get();
}
EVP_MAC_CTX* blake2s_mac_ctx() {
    thread_local std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> c(EVP_MAC_CTX_new(algs().blake2s_mac));
    return c.get();
}
/// HMAC over BLAKE2s-256, the digest set once: passing it by name to every
/// EVP_MAC_init made OpenSSL fetch the digest per call (a provider lookup: locks, string
/// compares and allocations, about a fifth of a responder handshake's time in `perf`).
EVP_MAC_CTX* new_hmac_ctx() {
    EVP_MAC_CTX* c = EVP_MAC_CTX_new(algs().hmac);
    char digest[] = "BLAKE2S-256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
    if (c && EVP_MAC_CTX_set_params(c, params) != 1) {
        EVP_MAC_CTX_free(c);
        return nullptr;
    }
    return c;
}

EVP_MAC_CTX* hmac_ctx() {
    thread_local std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> c(new_hmac_ctx());
    return c.get();
}

// EVP_MAC_init with a null key keeps the previous key; an empty key must still be a
// non-null pointer or a reused context would silently MAC with the last caller's key.
const uint8_t* key_ptr(bytes_view key) {
    static const uint8_t empty = 0;
    return key.empty() ? &empty : key.data();
}

}  // namespace

void blake2s_hash(key32& out, bytes_view a, bytes_view b) {
    EVP_MD_CTX* c = md_ctx();
    if (!c || EVP_DigestInit_ex2(c, algs().blake2s, nullptr) != 1 ||
        EVP_DigestUpdate(c, a.data(), a.size()) != 1 || EVP_DigestUpdate(c, b.data(), b.size()) != 1 ||
        EVP_DigestFinal_ex(c, out.data(), nullptr) != 1)
        fatal("BLAKE2s-256");
}

void blake2s_keyed(std::span<uint8_t> out, bytes_view key, bytes_view data) {
    // Preconditions (1..32-byte key and digest) hold for every WireGuard use; anything
    // else is a programming error, refused loudly rather than hashed wrongly.
    if (key.empty() || key.size() > 32 || out.empty() || out.size() > 32) fatal("BLAKE2s: bad key or digest size");
    EVP_MAC_CTX* c = blake2s_mac_ctx();
    size_t size = out.size();
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_END};
    size_t written = 0;
    if (!c || EVP_MAC_init(c, key_ptr(key), key.size(), params) != 1 ||
        EVP_MAC_update(c, data.data(), data.size()) != 1 ||
        EVP_MAC_final(c, out.data(), &written, out.size()) != 1 || written != out.size())
        fatal("BLAKE2SMAC");
}

void hmac_blake2s(key32& out, bytes_view key, bytes_view a, bytes_view b) {
    EVP_MAC_CTX* c = hmac_ctx();
    size_t written = 0;
    if (!c || EVP_MAC_init(c, key_ptr(key), key.size(), nullptr) != 1 ||
        EVP_MAC_update(c, a.data(), a.size()) != 1 || EVP_MAC_update(c, b.data(), b.size()) != 1 ||
        EVP_MAC_final(c, out.data(), &written, out.size()) != 1 || written != out.size())
        fatal("HMAC-BLAKE2s");
}

void kdf(bytes_view chaining_key, bytes_view input, key32* out1, key32* out2, key32* out3) {
    key32 t0, t;
    hmac_blake2s(t0, chaining_key, input);
    const uint8_t one = 1;
    hmac_blake2s(t, t0, bytes_view(&one, 1));
    key32 t1 = t;
    if (out2 || out3) {
        const uint8_t two = 2;
        hmac_blake2s(t, t0, t1, bytes_view(&two, 1));
        key32 t2 = t;
        if (out3) {
            const uint8_t three = 3;
            hmac_blake2s(t, t0, t2, bytes_view(&three, 1));
            *out3 = t;
        }
        if (out2) *out2 = t2;
        sodium_memzero(t2.data(), t2.size());
    }
    // Written last: out1 may be the chaining key read above.
    *out1 = t1;
    sodium_memzero(t0.data(), t0.size());
    sodium_memzero(t1.data(), t1.size());
    sodium_memzero(t.data(), t.size());
}

}  // namespace eg::crypto
