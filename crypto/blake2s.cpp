// BLAKE2s (RFC 7693) and WireGuard's HASH / MAC / HMAC / KDF on it (see blake2s.hpp).
//
// Our own BLAKE2s rather than OpenSSL's EVP (measured in bench/wireguard_microbench.cpp,
// BM_WireGuard_hmac against BM_WireGuard_evp_hmac in one run: about half the time per
// HMAC): a handshake makes about 25 short HMAC calls, and through EVP each paid a
// provider-layer re-key (EVP_MAC_init: parameter handling, the digest's ipad/opad
// contexts, cleanse and copies) on top of OpenSSL's plain-C compression. Here the
// compression runs row-wise in SSE registers where the build target has SSSE3 (a
// portable version otherwise), an HMAC is four compressions on stack states, and the
// KDF keys HMAC with τ0 once (its ipad/opad blocks compressed once) for τ1..τn. The
// compression's stack temporaries are not wiped (as in OpenSSL's and libsodium's
// BLAKE2); every state that holds key material is.
//
// Constant time: BLAKE2s has no data-dependent branch or table index (the message
// schedule σ and the last-block flag are public). States holding keys are wiped.
#include "crypto/blake2s.hpp"

#include <sodium/utils.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__SSSE3__)
#include <immintrin.h>
#endif

namespace eg::crypto {
namespace {

constexpr uint32_t k_iv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                              0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

// RFC 7693 §2.7, rounds 0-9.
constexpr uint8_t k_sigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

constexpr size_t k_block = 64;

inline uint32_t load32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
#if defined(__SSSE3__)
/// Half of G (RFC 7693 §3.1) on four lanes at once: a += b + x; d = (d ^ a) >>> 16 or 8
/// (a byte shuffle, `rot_d`); c += d; b = (b ^ c) >>> b_bits (12 or 7).
template <int b_bits>
inline void g_half(__m128i& a, __m128i& b, __m128i& c, __m128i& d, __m128i x, __m128i rot_d) {
    a = _mm_add_epi32(_mm_add_epi32(a, b), x);
    d = _mm_shuffle_epi8(_mm_xor_si128(d, a), rot_d);
    c = _mm_add_epi32(c, d);
    b = _mm_xor_si128(b, c);
    b = _mm_or_si128(_mm_srli_epi32(b, b_bits), _mm_slli_epi32(b, 32 - b_bits));
}
#else
inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
#endif

/// A BLAKE2s state (RFC 7693 §3.3) that buffers the last block until final, as the
/// final compression must carry the last-block flag.
struct state {
    uint32_t h[8];
    uint64_t t = 0;  ///< bytes compressed so far (t0, t1)
    uint8_t buf[k_block];
    size_t buflen = 0;
    size_t outlen = 32;

    void wipe() { sodium_memzero(this, sizeof *this); }

    /// Parameter block: digest length, key length, fanout = depth = 1 (§2.5).
    void init(size_t out_len, size_t key_len) {
        for (int i = 0; i < 8; ++i) h[i] = k_iv[i];
        h[0] ^= 0x01010000u ^ uint32_t(key_len << 8) ^ uint32_t(out_len);
        t = 0;
        buflen = 0;
        outlen = out_len;
    }

    void compress(const uint8_t* block, bool last) {
        uint32_t m[16];
        for (int i = 0; i < 16; ++i) m[i] = load32(block + 4 * i);
#if defined(__SSSE3__)
        // Row-wise (RFC 7693 §3.2's four G of a column step run as one vector step, then
        // the diagonal step after rotating rows 1-3), as the BLAKE2 reference SSE code.
        const __m128i rot16 = _mm_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
        const __m128i rot8 = _mm_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12);
        __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h));
        __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 4));
        const __m128i h0 = a, h1 = b;
        __m128i c = _mm_setr_epi32(int(k_iv[0]), int(k_iv[1]), int(k_iv[2]), int(k_iv[3]));
        __m128i d = _mm_setr_epi32(int(k_iv[4] ^ uint32_t(t)), int(k_iv[5] ^ uint32_t(t >> 32)),
                                   int(last ? ~k_iv[6] : k_iv[6]), int(k_iv[7]));
        for (int r = 0; r < 10; ++r) {
            const uint8_t* s = k_sigma[r];
            auto words = [&](int i0) {  // message words s[i0], s[i0 + 2], s[i0 + 4], s[i0 + 6]
                return _mm_setr_epi32(int(m[s[i0]]), int(m[s[i0 + 2]]), int(m[s[i0 + 4]]), int(m[s[i0 + 6]]));
            };
            // Column step: G on the four columns.
            g_half<12>(a, b, c, d, words(0), rot16);
            g_half<7>(a, b, c, d, words(1), rot8);
            // Diagonal step: rows 1-3 rotated so the diagonals line up as columns.
            b = _mm_shuffle_epi32(b, _MM_SHUFFLE(0, 3, 2, 1));
            c = _mm_shuffle_epi32(c, _MM_SHUFFLE(1, 0, 3, 2));
            d = _mm_shuffle_epi32(d, _MM_SHUFFLE(2, 1, 0, 3));
            g_half<12>(a, b, c, d, words(8), rot16);
            g_half<7>(a, b, c, d, words(9), rot8);
            b = _mm_shuffle_epi32(b, _MM_SHUFFLE(2, 1, 0, 3));
            c = _mm_shuffle_epi32(c, _MM_SHUFFLE(1, 0, 3, 2));
            d = _mm_shuffle_epi32(d, _MM_SHUFFLE(0, 3, 2, 1));
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(h), _mm_xor_si128(h0, _mm_xor_si128(a, c)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(h + 4), _mm_xor_si128(h1, _mm_xor_si128(b, d)));
#else
        uint32_t v[16];
        for (int i = 0; i < 8; ++i) {
            v[i] = h[i];
            v[i + 8] = k_iv[i];
        }
        v[12] ^= uint32_t(t);
        v[13] ^= uint32_t(t >> 32);
        if (last) v[14] = ~v[14];  // the flag is public (message length), not secret
#define EG_B2S_G(a, b, c, d, x, y)       \
    v[a] = v[a] + v[b] + (x);            \
    v[d] = rotr(v[d] ^ v[a], 16);        \
    v[c] = v[c] + v[d];                  \
    v[b] = rotr(v[b] ^ v[c], 12);        \
    v[a] = v[a] + v[b] + (y);            \
    v[d] = rotr(v[d] ^ v[a], 8);         \
    v[c] = v[c] + v[d];                  \
    v[b] = rotr(v[b] ^ v[c], 7);
        for (int r = 0; r < 10; ++r) {
            const uint8_t* s = k_sigma[r];
            EG_B2S_G(0, 4, 8, 12, m[s[0]], m[s[1]])
            EG_B2S_G(1, 5, 9, 13, m[s[2]], m[s[3]])
            EG_B2S_G(2, 6, 10, 14, m[s[4]], m[s[5]])
            EG_B2S_G(3, 7, 11, 15, m[s[6]], m[s[7]])
            EG_B2S_G(0, 5, 10, 15, m[s[8]], m[s[9]])
            EG_B2S_G(1, 6, 11, 12, m[s[10]], m[s[11]])
            EG_B2S_G(2, 7, 8, 13, m[s[12]], m[s[13]])
            EG_B2S_G(3, 4, 9, 14, m[s[14]], m[s[15]])
        }
#undef EG_B2S_G
        for (int i = 0; i < 8; ++i) h[i] ^= v[i] ^ v[i + 8];
#endif
    }

    void update(const uint8_t* in, size_t n) {
        if (n == 0) return;
        const size_t fill = k_block - buflen;
        if (n > fill) {
            // The buffer is compressed only once more input follows it.
            std::memcpy(buf + buflen, in, fill);
            t += k_block;
            compress(buf, false);
            buflen = 0;
            in += fill;
            n -= fill;
            while (n > k_block) {
                t += k_block;
                compress(in, false);
                in += k_block;
                n -= k_block;
            }
        }
        std::memcpy(buf + buflen, in, n);
        buflen += n;
    }
    void update(bytes_view b) { update(b.data(), b.size()); }

    void final(uint8_t* out) {
        t += buflen;
        std::memset(buf + buflen, 0, k_block - buflen);
        compress(buf, true);
        uint8_t full[32];
        for (int i = 0; i < 8; ++i) {
            full[4 * i] = uint8_t(h[i]);
            full[4 * i + 1] = uint8_t(h[i] >> 8);
            full[4 * i + 2] = uint8_t(h[i] >> 16);
            full[4 * i + 3] = uint8_t(h[i] >> 24);
        }
        std::memcpy(out, full, outlen);
        sodium_memzero(full, sizeof full);
        wipe();
    }
};

[[noreturn]] void fatal(const char* what) {
    std::fprintf(stderr, "eg::crypto: %s\n", what);
    std::abort();
}

/// RFC 2104's key block: the key zero-padded to the 64-byte block, or its BLAKE2s-256
/// digest, zero-padded, when it is longer than a block. The caller wipes k.
void hmac_key_block(uint8_t (&k)[k_block], bytes_view key) {
    std::memset(k, 0, k_block);
    if (key.size() > k_block) {
        key32 d;
        blake2s_hash(d, key);
        std::memcpy(k, d.data(), d.size());
        sodium_memzero(d.data(), d.size());
    } else if (!key.empty()) {
        std::memcpy(k, key.data(), key.size());
    }
}

/// HMAC-BLAKE2s with the key's ipad and opad blocks already compressed (RFC 2104: the
/// key, zero-padded to the 64-byte block, XOR 0x36 / 0x5c). Valid for messages of at
/// least one byte: with an empty message the ipad block would have to be the final one.
struct hmac_key {
    state inner, outer;

    explicit hmac_key(bytes_view key) {
        uint8_t k[k_block];
        hmac_key_block(k, key);
        uint8_t pad[k_block];
        for (size_t i = 0; i < k_block; ++i) pad[i] = k[i] ^ 0x36;
        inner.init(32, 0);
        inner.t = k_block;
        inner.compress(pad, false);
        for (size_t i = 0; i < k_block; ++i) pad[i] = k[i] ^ 0x5c;
        outer.init(32, 0);
        outer.t = k_block;
        outer.compress(pad, false);
        sodium_memzero(k, sizeof k);
        sodium_memzero(pad, sizeof pad);
    }
    ~hmac_key() {
        inner.wipe();
        outer.wipe();
    }
    hmac_key(const hmac_key&) = delete;
    hmac_key& operator=(const hmac_key&) = delete;

    /// out = HMAC(key, a ‖ b); a ‖ b must not be empty.
    void mac(key32& out, bytes_view a, bytes_view b = {}) const {
        state in = inner;
        in.update(a);
        in.update(b);
        uint8_t ih[32];
        in.final(ih);
        state o = outer;
        o.update(ih, sizeof ih);
        o.final(out.data());
        sodium_memzero(ih, sizeof ih);
    }
};

}  // namespace

void blake2s_hash(key32& out, bytes_view a, bytes_view b) {
    state s;
    s.init(32, 0);
    s.update(a);
    s.update(b);
    s.final(out.data());
}

void blake2s_keyed(std::span<uint8_t> out, bytes_view key, bytes_view data) {
    // Preconditions (1..32-byte key and digest) hold for every WireGuard use; anything
    // else is a programming error, refused loudly rather than hashed wrongly.
    if (key.empty() || key.size() > 32 || out.empty() || out.size() > 32) fatal("BLAKE2s: bad key or digest size");
    state s;
    s.init(out.size(), key.size());
    // The key, zero-padded, is the first block (RFC 7693 §3.3).
    uint8_t block[k_block] = {};
    std::memcpy(block, key.data(), key.size());
    s.update(block, k_block);
    sodium_memzero(block, sizeof block);
    s.update(data);
    s.final(out.data());
}

void hmac_blake2s(key32& out, bytes_view key, bytes_view a, bytes_view b) {
    if (a.empty() && b.empty()) {
        // H(ipad-block) with the block as the final one: the prepared form cannot say that.
        uint8_t k[k_block], pad[k_block];
        hmac_key_block(k, key);
        uint8_t ih[32];
        state s;
        for (size_t i = 0; i < k_block; ++i) pad[i] = k[i] ^ 0x36;
        s.init(32, 0);
        s.update(pad, k_block);
        s.final(ih);
        for (size_t i = 0; i < k_block; ++i) pad[i] = k[i] ^ 0x5c;
        s.init(32, 0);
        s.update(pad, k_block);
        s.update(ih, sizeof ih);
        s.final(out.data());
        sodium_memzero(k, sizeof k);
        sodium_memzero(pad, sizeof pad);
        sodium_memzero(ih, sizeof ih);
        return;
    }
    hmac_key(key).mac(out, a, b);
}

void kdf(bytes_view chaining_key, bytes_view input, key32* out1, key32* out2, key32* out3) {
    key32 t0, t1;
    hmac_blake2s(t0, chaining_key, input);
    const hmac_key k0(t0);  // τ0 keys all of τ1..τn: its pads are compressed once
    sodium_memzero(t0.data(), t0.size());
    const uint8_t one = 1, two = 2, three = 3;
    k0.mac(t1, bytes_view(&one, 1));
    if (out2 || out3) {
        key32 t2;
        k0.mac(t2, t1, bytes_view(&two, 1));
        if (out3) k0.mac(*out3, t2, bytes_view(&three, 1));
        if (out2) *out2 = t2;
        sodium_memzero(t2.data(), t2.size());
    }
    // Written last: out1 may be the chaining key read above.
    *out1 = t1;
    sodium_memzero(t1.data(), t1.size());
}

}  // namespace eg::crypto
