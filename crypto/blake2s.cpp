// BLAKE2s (portable, RFC 7693), BLAKE2s-MAC and HMAC-BLAKE2s (OpenSSL 3); see blake2s.hpp.
#include "crypto/blake2s.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium/utils.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace eg::crypto {
namespace {

// Fetched once: OpenSSL 3 pays a provider lookup per implicit fetch (openssl#21005).
struct algorithms {
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
        if (!x.blake2s_mac || !x.hmac) fatal("BLAKE2s algorithms unavailable");
        return x;
    }();
    return a;
}

struct mac_ctx_free {
    void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

// Per-thread contexts, re-initialised per call: init with a new key resets all state.
EVP_MAC_CTX* blake2s_mac_ctx() {
    thread_local std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> c(EVP_MAC_CTX_new(algs().blake2s_mac));
    return c.get();
}
EVP_MAC_CTX* hmac_ctx() {
    thread_local std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> c(EVP_MAC_CTX_new(algs().hmac));
    return c.get();
}

// EVP_MAC_init with a null key keeps the previous key; an empty key must still be a
// non-null pointer or a reused context would silently MAC with the last caller's key.
const uint8_t* key_ptr(bytes_view key) {
    static const uint8_t empty = 0;
    return key.empty() ? &empty : key.data();
}

// --- portable BLAKE2s (RFC 7693 §3) --------------------------------------------------
constexpr uint32_t k_iv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                              0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};
constexpr uint8_t k_sigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
inline uint32_t load32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

class blake2s_state {
public:
    // Parameter block for sequential mode: digest length, key length, fanout 1, depth 1.
    blake2s_state(size_t outlen, bytes_view key) : outlen_(outlen) {
        std::memcpy(h_, k_iv, sizeof h_);
        h_[0] ^= 0x01010000u ^ uint32_t(key.size() << 8) ^ uint32_t(outlen);
        if (!key.empty()) {
            std::memset(buf_, 0, sizeof buf_);
            std::memcpy(buf_, key.data(), key.size());
            buflen_ = 64;  // the key block is compressed as the first block of data
        }
    }
    ~blake2s_state() { sodium_memzero(this, sizeof *this); }

    void update(bytes_view in) {
        const uint8_t* p = in.data();
        size_t n = in.size();
        while (n > 0) {
            // The last block must be compressed with the final flag, so a full buffer is
            // only compressed once more input shows it was not the last.
            if (buflen_ == 64) {
                t_ += 64;
                compress(false);
                buflen_ = 0;
            }
            const size_t take = n < 64 - buflen_ ? n : 64 - buflen_;
            std::memcpy(buf_ + buflen_, p, take);
            buflen_ += take;
            p += take;
            n -= take;
        }
    }

    void final(uint8_t* out) {
        t_ += buflen_;
        std::memset(buf_ + buflen_, 0, 64 - buflen_);
        compress(true);
        uint8_t full[32];
        for (int i = 0; i < 8; ++i)
            for (int b = 0; b < 4; ++b) full[4 * i + b] = uint8_t(h_[i] >> (8 * b));
        std::memcpy(out, full, outlen_);
        sodium_memzero(full, sizeof full);
    }

private:
    void compress(bool last) {
        uint32_t m[16], v[16];
        for (int i = 0; i < 16; ++i) m[i] = load32(buf_ + 4 * i);
        for (int i = 0; i < 8; ++i) {
            v[i] = h_[i];
            v[i + 8] = k_iv[i];
        }
        v[12] ^= uint32_t(t_);
        v[13] ^= uint32_t(t_ >> 32);
        if (last) v[14] = ~v[14];
        auto g = [&](int a, int b, int c, int d, uint32_t x, uint32_t y) {
            v[a] = v[a] + v[b] + x;
            v[d] = rotr(v[d] ^ v[a], 16);
            v[c] = v[c] + v[d];
            v[b] = rotr(v[b] ^ v[c], 12);
            v[a] = v[a] + v[b] + y;
            v[d] = rotr(v[d] ^ v[a], 8);
            v[c] = v[c] + v[d];
            v[b] = rotr(v[b] ^ v[c], 7);
        };
        for (const auto& s : k_sigma) {
            g(0, 4, 8, 12, m[s[0]], m[s[1]]);
            g(1, 5, 9, 13, m[s[2]], m[s[3]]);
            g(2, 6, 10, 14, m[s[4]], m[s[5]]);
            g(3, 7, 11, 15, m[s[6]], m[s[7]]);
            g(0, 5, 10, 15, m[s[8]], m[s[9]]);
            g(1, 6, 11, 12, m[s[10]], m[s[11]]);
            g(2, 7, 8, 13, m[s[12]], m[s[13]]);
            g(3, 4, 9, 14, m[s[14]], m[s[15]]);
        }
        for (int i = 0; i < 8; ++i) h_[i] ^= v[i] ^ v[i + 8];
    }

    uint32_t h_[8];
    uint64_t t_ = 0;
    uint8_t buf_[64];
    size_t buflen_ = 0;
    size_t outlen_;
};

}  // namespace

void blake2s_hash(key32& out, bytes_view a, bytes_view b) {
    blake2s_state s(32, {});
    s.update(a);
    s.update(b);
    s.final(out.data());
}

void blake2s_keyed(std::span<uint8_t> out, bytes_view key, bytes_view data) {
    // Preconditions (1..32-byte key and digest) hold for every WireGuard use; anything
    // else is a programming error, refused loudly rather than hashed wrongly.
    if (key.empty() || key.size() > 32 || out.empty() || out.size() > 32) fatal("BLAKE2s: bad key or digest size");
    blake2s_state s(out.size(), key);
    s.update(data);
    s.final(out.data());
}

void blake2s_keyed_openssl(std::span<uint8_t> out, bytes_view key, bytes_view data) {
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
    char digest[] = "BLAKE2S-256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_END};
    size_t written = 0;
    if (!c || EVP_MAC_init(c, key_ptr(key), key.size(), params) != 1 ||
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
