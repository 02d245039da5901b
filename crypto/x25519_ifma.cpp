// Eight X25519 Montgomery ladders at once with AVX-512 IFMA (see detail/x25519_ifma.hpp).
//
// Field arithmetic and its bounds: detail/fe52x8.hpp.
//
// Constant time: no branch or address depends on a scalar, point or result. The ladder's
// conditional swap is vpblendmq under a mask computed from the scalar bits (vptestmq),
// the loop counts are fixed (255 ladder steps, a fixed inversion chain), and the final
// reduction to canonical form and the byte conversions are straight-line arithmetic.
// (In the GCC 12 -O2 build the ladder function's only conditional jump is its loop's
// back-edge: `objdump -d` on this object.) Only the function-level target attribute enables AVX-512 here, so the rest of the
// project's -march does not matter and CPUs without IFMA never execute this code.
#include "crypto/detail/x25519_ifma.hpp"

#include <sodium/utils.h>

#include <cstring>

#include "crypto/detail/fe52x8.hpp"

namespace eg::crypto::detail {
namespace {

constexpr uint64_t k_a24 = 121665;  // (486662 - 2) / 4, RFC 7748 §5

// u-coordinate bytes of each lane to limbs (RFC 7748 §5: the top bit is masked; values
// in [p, 2^255) stay as they are, the arithmetic reduces them).
void decode_u(const x25519_lanes32& u, uint64_t limbs[5][k_x25519_lanes]) {
    for (size_t l = 0; l < k_x25519_lanes; ++l) {
        const uint8_t* b = u[l].data();
        const uint64_t w0 = load64_le(b), w1 = load64_le(b + 8), w2 = load64_le(b + 16);
        const uint64_t w3 = load64_le(b + 24) & ~(uint64_t(1) << 63);
        limbs[0][l] = w0 & k_mask52;
        limbs[1][l] = (w0 >> 52 | w1 << 12) & k_mask52;
        limbs[2][l] = (w1 >> 40 | w2 << 24) & k_mask52;
        limbs[3][l] = (w2 >> 28 | w3 << 36) & k_mask52;
        limbs[4][l] = w3 >> 16;
    }
}

// Clamped scalars (RFC 7748 §5 decodeScalar25519) transposed: word w of every lane.
void transpose_scalars(const x25519_lanes32& scalars, uint64_t words[4][k_x25519_lanes]) {
    for (size_t l = 0; l < k_x25519_lanes; ++l) {
        uint8_t k[32];
        std::memcpy(k, scalars[l].data(), 32);
        k[0] &= 248;
        k[31] = uint8_t((k[31] & 127) | 64);
        for (int w = 0; w < 4; ++w) words[w][l] = load64_le(k + 8 * w);
        sodium_memzero(k, sizeof k);
    }
}

// RFC 7748 §5's ladder for eight lanes, x1 the lanes' u. Writes x2 / z2 into `result` in
// loose form.
[[gnu::target(EG_IFMA_TARGET)]] void ladder(const uint64_t words[4][k_x25519_lanes],
                                            const uint64_t u[5][k_x25519_lanes],
                                            uint64_t result[5][k_x25519_lanes]) {
    fe8 x1;
    for (int i = 0; i < 5; ++i) x1.l[i] = _mm512_loadu_si512(u[i]);
    const __m512i zero = _mm512_setzero_si512();
    const __m512i one = splat(1);
    fe8 x2{{one, zero, zero, zero, zero}};
    fe8 z2{{zero, zero, zero, zero, zero}};
    fe8 x3 = x1;
    fe8 z3{{one, zero, zero, zero, zero}};
    __m512i prev = zero;
    for (int t = 254; t >= 0; --t) {
        const __m512i word = _mm512_loadu_si512(words[t >> 6]);
        const __m512i bit = _mm512_and_si512(_mm512_maskz_srlv_epi64(0xff, word, splat(uint64_t(t & 63))), one);
        const __mmask8 swap = _mm512_test_epi64_mask(_mm512_xor_si512(bit, prev), one);
        prev = bit;
        cswap(swap, x2, x3);
        cswap(swap, z2, z3);
        const fe8 a = add(x2, z2);
        const fe8 b = sub(x2, z2);
        const fe8 c = add(x3, z3);
        const fe8 d = sub(x3, z3);
        const fe8 aa = sqr(a);
        const fe8 bb = sqr(b);
        const fe8 da = mul(d, a);
        const fe8 cb = mul(c, b);
        const fe8 e = sub(aa, bb);
        x3 = sqr(add(da, cb));
        const fe8 dmc2 = sqr(sub(da, cb));
        z3 = mul(x1, dmc2);
        x2 = mul(aa, bb);
        z2 = mul(e, mul_small_add(e, k_a24, aa));
    }
    cswap(_mm512_test_epi64_mask(prev, one), x2, x3);
    cswap(_mm512_test_epi64_mask(prev, one), z2, z3);
    const fe8 r = mul(x2, invert(z2));
    for (int i = 0; i < 5; ++i) _mm512_storeu_si512(result[i], r.l[i]);
}

void run(const x25519_lanes32& scalars, const uint64_t u[5][k_x25519_lanes], x25519_lanes32& out) {
    alignas(64) uint64_t words[4][k_x25519_lanes];
    alignas(64) uint64_t result[5][k_x25519_lanes];
    transpose_scalars(scalars, words);
    ladder(words, u, result);
    for (size_t l = 0; l < k_x25519_lanes; ++l) {
        uint64_t r[5] = {result[0][l], result[1][l], result[2][l], result[3][l], result[4][l]};
        encode_canonical(r, out[l].data());
    }
    // The ladder's own registers and stack spills are not wiped (as in libsodium); the
    // scalar copy and the shared secrets' limbs we stored are.
    sodium_memzero(words, sizeof words);
    sodium_memzero(result, sizeof result);
}

}  // namespace

bool x25519_ifma_supported() {
    static const bool ok = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
    }();
    return ok;
}

void x25519_ifma_x8(const x25519_lanes32& scalars, const x25519_lanes32& points, x25519_lanes32& out) {
    alignas(64) uint64_t u[5][k_x25519_lanes];
    decode_u(points, u);
    run(scalars, u, out);
}

}  // namespace eg::crypto::detail
