// Eight X25519 Montgomery ladders at once with AVX-512 IFMA (see detail/x25519_ifma.hpp).
//
// Representation: a field element mod p = 2^255 - 19 is five limbs of radix 2^52, limb i
// of all eight lanes in one __m512i. vpmadd52{l,h}uq multiply only the low 52 bits of
// each input, so every limb that reaches a multiplication must be below 2^52. Products
// return the "loose" form
//     limbs 0..3 < 2^52, limb 4 < 2^47 + 2^12   (value < 2^255 + 2^220),
// sums and differences of loose elements the "sum form" (limb 4 < 2^49 + 4), which only
// products take. The bounds that keep this true are argued next to each step; a test
// harness drove every operation with extreme limbs against big-integer arithmetic.
//
// Constant time: no branch or address depends on a scalar, point or result. The ladder's
// conditional swap is vpblendmq under a mask computed from the scalar bits (vptestmq),
// the loop counts are fixed (255 ladder steps, a fixed inversion chain), and the final
// reduction to canonical form and the byte conversions are straight-line arithmetic.
// Only the function-level target attribute enables AVX-512 here, so the rest of the
// project's -march does not matter and CPUs without IFMA never execute this code.
#include "crypto/detail/x25519_ifma.hpp"

#include <immintrin.h>
#include <sodium/utils.h>

#include <cstring>

#define EG_IFMA_TARGET "avx512f,avx512ifma"
#define EG_IFMA_INLINE [[gnu::target(EG_IFMA_TARGET), gnu::always_inline]] inline

namespace eg::crypto::detail {
namespace {

constexpr uint64_t k_mask52 = (uint64_t(1) << 52) - 1;
constexpr uint64_t k_mask47 = (uint64_t(1) << 47) - 1;
constexpr uint64_t k_a24 = 121665;  // (486662 - 2) / 4, RFC 7748 §5

struct fe8 {
    __m512i l[5];
};

EG_IFMA_INLINE __m512i splat(uint64_t x) { return _mm512_set1_epi64(int64_t(x)); }
// Shifts through the zero-masking forms: GCC 12's unmasked ones read an "undefined"
// vector that -Wuninitialized flags (GCC bug 105593); the instruction is the same.
EG_IFMA_INLINE __m512i shr(__m512i x, unsigned n) { return _mm512_maskz_srli_epi64(0xff, x, n); }
EG_IFMA_INLINE __m512i shl(__m512i x, unsigned n) { return _mm512_maskz_slli_epi64(0xff, x, n); }
EG_IFMA_INLINE __m512i madd_lo(__m512i acc, __m512i a, __m512i b) {
    return _mm512_madd52lo_epu64(acc, a, b);
}
EG_IFMA_INLINE __m512i madd_hi(__m512i acc, __m512i a, __m512i b) {
    return _mm512_madd52hi_epu64(acc, a, b);
}

// Limbs r0..r4, each below 2^63, to the loose form. First the bits of r4 above 2^255
// fold into r0 (2^255 ≡ 19), then one carry pass r0 → r4: after it r0..r3 < 2^52 and
// r4 < 2^47 + (r3 >> 52) < 2^47 + 2^12. Folding before the pass (not after) is what
// keeps r0 below 2^52 without a second pass.
EG_IFMA_INLINE fe8 normalize(__m512i r0, __m512i r1, __m512i r2, __m512i r3, __m512i r4) {
    const __m512i m52 = splat(k_mask52);
    const __m512i top = shr(r4, 47);  // < 2^17: 19 * top is exact in madd_lo
    r4 = _mm512_and_si512(r4, splat(k_mask47));
    r0 = madd_lo(r0, top, splat(19));
    r1 = _mm512_add_epi64(r1, shr(r0, 52));
    r0 = _mm512_and_si512(r0, m52);
    r2 = _mm512_add_epi64(r2, shr(r1, 52));
    r1 = _mm512_and_si512(r1, m52);
    r3 = _mm512_add_epi64(r3, shr(r2, 52));
    r2 = _mm512_and_si512(r2, m52);
    r4 = _mm512_add_epi64(r4, shr(r3, 52));
    r3 = _mm512_and_si512(r3, m52);
    return fe8{{r0, r1, r2, r3, r4}};
}

// Ten product columns c0..c9 (column k has weight 2^(52k)) to the loose form.
// Bounds for loose inputs a, b: every lo/hi half is < 2^52 and a column holds at most
// nine of them (plus doubling when squaring), so c_k < 2^57; products with a4 or b4 are
// < 2^100, so c9 = hi(a4 b4) < 2^44.
EG_IFMA_INLINE fe8 reduce_columns(__m512i c[10]) {
    // 2^260 ≡ 2^5 · 19 = 608 (mod p). Column k ≥ 5 is split as l + h · 2^52: the
    // multiply-adds read only l (the low 52 bits of c_k, no mask needed) and put 608 l
    // into columns k - 5 and k - 4; h < 2^5 has weight 2^(52(k+1)) ≡ 608 · 2^(52(k-4)),
    // and 608 h < 2^15 is exact in one madd_lo. No carry chain runs through the high
    // columns.
    const __m512i k608 = splat(608);
#pragma GCC unroll 16
    for (int k = 5; k < 9; ++k) {
        c[k - 5] = madd_lo(c[k - 5], c[k], k608);
        c[k - 4] = madd_hi(c[k - 4], c[k], k608);
        c[k - 4] = madd_lo(c[k - 4], shr(c[k], 52), k608);
    }
    // Column 9 (weight 2^468 ≡ 608 · 2^208): 19 c9 < 2^49 is exact in madd_lo, and
    // 608 c9 = 19 c9 << 5 < 2^54 goes whole into column 4.
    c[4] = _mm512_add_epi64(c[4], shl(madd_lo(_mm512_setzero_si512(), c[9], splat(19)), 5));
    return normalize(c[0], c[1], c[2], c[3], c[4]);
}

// Schoolbook: the low half of a_i b_j lands in column i + j, the high half (bits 52..103)
// in column i + j + 1. (Separate low/high accumulators, for shorter dependency chains,
// measured no faster: the eight lanes and the ladder's independent products already
// keep the multipliers busy.)
EG_IFMA_INLINE fe8 mul(const fe8& a, const fe8& b) {
    __m512i c[10];
#pragma GCC unroll 16
    for (int k = 0; k < 10; ++k) c[k] = _mm512_setzero_si512();
#pragma GCC unroll 16
    for (int i = 0; i < 5; ++i) {
#pragma GCC unroll 16
        for (int j = 0; j < 5; ++j) {
            c[i + j] = madd_lo(c[i + j], a.l[i], b.l[j]);
            c[i + j + 1] = madd_hi(c[i + j + 1], a.l[i], b.l[j]);
        }
    }
    return reduce_columns(c);
}

// Squaring: the ten cross products a_i a_j (i < j) once, their columns doubled, then the
// five squares: 30 multiply-adds instead of 50. Doubling a column (not an input, which
// could reach 2^53) keeps every multiplier input below 2^52; columns stay < 2^57.
EG_IFMA_INLINE fe8 sqr(const fe8& a) {
    __m512i c[10];
#pragma GCC unroll 16
    for (int k = 0; k < 10; ++k) c[k] = _mm512_setzero_si512();
#pragma GCC unroll 16
    for (int i = 0; i < 5; ++i) {
#pragma GCC unroll 16
        for (int j = i + 1; j < 5; ++j) {
            c[i + j] = madd_lo(c[i + j], a.l[i], a.l[j]);
            c[i + j + 1] = madd_hi(c[i + j + 1], a.l[i], a.l[j]);
        }
    }
#pragma GCC unroll 16
    for (int k = 0; k < 10; ++k) c[k] = _mm512_add_epi64(c[k], c[k]);
#pragma GCC unroll 16
    for (int i = 0; i < 5; ++i) {
        c[2 * i] = madd_lo(c[2 * i], a.l[i], a.l[i]);
        c[2 * i + 1] = madd_hi(c[2 * i + 1], a.l[i], a.l[i]);
    }
    return reduce_columns(c);
}

// c + a · k for a constant k < 2^20 (121665, 9): the halves of a_i k go to columns i and
// i + 1, the high half of a4 k (< 2^13, weight 2^260) folds into column 0 as 608 times
// itself. Each column stays < 2^54, and one normalisation covers the sum (the ladder's
// AA + a24 E).
EG_IFMA_INLINE fe8 mul_small_add(const fe8& a, uint64_t k, const fe8& c) {
    const __m512i kk = splat(k);
    __m512i lo[5], hi[5];
#pragma GCC unroll 16
    for (int i = 0; i < 5; ++i) {
        lo[i] = madd_lo(c.l[i], a.l[i], kk);
        hi[i] = madd_hi(_mm512_setzero_si512(), a.l[i], kk);
    }
    return normalize(madd_lo(lo[0], hi[4], splat(608)), _mm512_add_epi64(lo[1], hi[0]),
                     _mm512_add_epi64(lo[2], hi[1]), _mm512_add_epi64(lo[3], hi[2]),
                     _mm512_add_epi64(lo[4], hi[3]));
}

// Sums and differences only ever feed a multiplication, which accepts limb 4 up to
// 2^49 (then a4 b4 < 2^98 and c9 < 2^47, still exact in reduce_columns' 19 c9), so they
// skip normalize's fold and only carry r0 → r4: limbs 0..3 < 2^52, limb 4 < 2^49 + 4.
// That "sum form" must not reach add or sub itself (sub's 2p bound needs the loose form).
EG_IFMA_INLINE fe8 carry(__m512i r0, __m512i r1, __m512i r2, __m512i r3, __m512i r4) {
    const __m512i m52 = splat(k_mask52);
    r1 = _mm512_add_epi64(r1, shr(r0, 52));
    r0 = _mm512_and_si512(r0, m52);
    r2 = _mm512_add_epi64(r2, shr(r1, 52));
    r1 = _mm512_and_si512(r1, m52);
    r3 = _mm512_add_epi64(r3, shr(r2, 52));
    r2 = _mm512_and_si512(r2, m52);
    r4 = _mm512_add_epi64(r4, shr(r3, 52));
    r3 = _mm512_and_si512(r3, m52);
    return fe8{{r0, r1, r2, r3, r4}};
}

// a + b for loose a, b, in sum form.
EG_IFMA_INLINE fe8 add(const fe8& a, const fe8& b) {
    return carry(_mm512_add_epi64(a.l[0], b.l[0]), _mm512_add_epi64(a.l[1], b.l[1]),
                 _mm512_add_epi64(a.l[2], b.l[2]), _mm512_add_epi64(a.l[3], b.l[3]),
                 _mm512_add_epi64(a.l[4], b.l[4]));
}

// a - b for loose a, b as a + 2p - b, in sum form: 2p's limbs (2^53 - 38, 2^53 - 2,
// 2^53 - 2, 2^53 - 2, 2^48 - 2) are each at least the loose bound of b's, so no lane
// goes negative, and limb 4 stays < 2^47 + 2^12 + 2^48.
EG_IFMA_INLINE fe8 sub(const fe8& a, const fe8& b) {
    const __m512i p0 = splat((uint64_t(1) << 53) - 38);
    const __m512i p1 = splat((uint64_t(1) << 53) - 2);
    const __m512i p4 = splat((uint64_t(1) << 48) - 2);
    return carry(_mm512_sub_epi64(_mm512_add_epi64(a.l[0], p0), b.l[0]),
                 _mm512_sub_epi64(_mm512_add_epi64(a.l[1], p1), b.l[1]),
                 _mm512_sub_epi64(_mm512_add_epi64(a.l[2], p1), b.l[2]),
                 _mm512_sub_epi64(_mm512_add_epi64(a.l[3], p1), b.l[3]),
                 _mm512_sub_epi64(_mm512_add_epi64(a.l[4], p4), b.l[4]));
}

// Swaps a and b in the lanes whose bit in `swap` is set: a blend, the same instructions
// and timing whatever the mask.
EG_IFMA_INLINE void cswap(__mmask8 swap, fe8& a, fe8& b) {
#pragma GCC unroll 16
    for (int i = 0; i < 5; ++i) {
        const __m512i x = a.l[i];
        a.l[i] = _mm512_mask_blend_epi64(swap, a.l[i], b.l[i]);
        b.l[i] = _mm512_mask_blend_epi64(swap, b.l[i], x);
    }
}

[[gnu::target(EG_IFMA_TARGET)]] fe8 sqr_n(fe8 a, int n) {
    for (int i = 0; i < n; ++i) a = sqr(a);
    return a;
}

// z^(p - 2) = z^(2^255 - 21) (Fermat), the addition chain of ref10's fe_invert: 254
// squarings and 11 multiplications, the same for every lane. z = 0 gives 0.
[[gnu::target(EG_IFMA_TARGET)]] fe8 invert(const fe8& z) {
    const fe8 z2 = sqr(z);                            // 2
    const fe8 z9 = mul(sqr_n(z2, 2), z);              // 9
    const fe8 z11 = mul(z9, z2);                      // 11
    const fe8 z_5_0 = mul(sqr(z11), z9);              // 2^5 - 1
    const fe8 z_10_0 = mul(sqr_n(z_5_0, 5), z_5_0);   // 2^10 - 1
    const fe8 z_20_0 = mul(sqr_n(z_10_0, 10), z_10_0);
    const fe8 z_40_0 = mul(sqr_n(z_20_0, 20), z_20_0);
    const fe8 z_50_0 = mul(sqr_n(z_40_0, 10), z_10_0);
    const fe8 z_100_0 = mul(sqr_n(z_50_0, 50), z_50_0);
    const fe8 z_200_0 = mul(sqr_n(z_100_0, 100), z_100_0);
    const fe8 z_250_0 = mul(sqr_n(z_200_0, 50), z_50_0);
    return mul(sqr_n(z_250_0, 5), z11);               // 2^255 - 32 + 11
}

uint64_t load64_le(const uint8_t* p) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; --i) x = x << 8 | p[i];
    return x;
}

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

// One carry pass r0 → r4 with the bits above 2^255 folded into r0 first.
void fold_and_carry(uint64_t r[5]) {
    const uint64_t top = r[4] >> 47;
    r[4] &= k_mask47;
    r[0] += 19 * top;
    for (int i = 0; i < 4; ++i) {
        r[i + 1] += r[i] >> 52;
        r[i] &= k_mask52;
    }
}

// Loose limbs to the canonical 32 little-endian bytes. Two fold-and-carry passes bring
// the value below 2^255 (after the first, limb 4 ≤ 2^47, and it equals 2^47 only when
// the low limbs are small, so the second pass cannot carry out again); then it is below
// 2p and q = (v + 19) >> 255 says whether to subtract p, done as v + 19q mod 2^255.
void encode_canonical(uint64_t r[5], uint8_t out[32]) {
    fold_and_carry(r);
    fold_and_carry(r);
    uint64_t q = (r[0] + 19) >> 52;
    q = (r[1] + q) >> 52;
    q = (r[2] + q) >> 52;
    q = (r[3] + q) >> 52;
    q = (r[4] + q) >> 47;
    r[0] += 19 * q;
    for (int i = 0; i < 4; ++i) {
        r[i + 1] += r[i] >> 52;
        r[i] &= k_mask52;
    }
    r[4] &= k_mask47;
    const uint64_t w[4] = {r[0] | r[1] << 52, r[1] >> 12 | r[2] << 40, r[2] >> 24 | r[3] << 28,
                           r[3] >> 36 | r[4] << 16};
    for (int i = 0; i < 32; ++i) out[i] = uint8_t(w[i / 8] >> (8 * (i % 8)));
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

// RFC 7748 §5's ladder for eight lanes; x1 is the lanes' u, or the base point's 9 when
// k_base (z3 = 9 · (DA - CB)^2 is then a small-constant product). Writes x2 / z2 into
// `limbs` in loose form.
template <bool k_base>
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
        if constexpr (k_base) {
            z3 = mul_small_add(dmc2, 9, fe8{{zero, zero, zero, zero, zero}});
        } else {
            z3 = mul(x1, dmc2);
        }
        x2 = mul(aa, bb);
        z2 = mul(e, mul_small_add(e, k_a24, aa));
    }
    cswap(_mm512_test_epi64_mask(prev, one), x2, x3);
    cswap(_mm512_test_epi64_mask(prev, one), z2, z3);
    const fe8 r = mul(x2, invert(z2));
    for (int i = 0; i < 5; ++i) _mm512_storeu_si512(result[i], r.l[i]);
}

template <bool k_base>
void run(const x25519_lanes32& scalars, const uint64_t u[5][k_x25519_lanes], x25519_lanes32& out) {
    alignas(64) uint64_t words[4][k_x25519_lanes];
    alignas(64) uint64_t result[5][k_x25519_lanes];
    transpose_scalars(scalars, words);
    ladder<k_base>(words, u, result);
    for (size_t l = 0; l < k_x25519_lanes; ++l) {
        uint64_t r[5] = {result[0][l], result[1][l], result[2][l], result[3][l], result[4][l]};
        encode_canonical(r, out[l].data());
    }
    // The ladder's own registers and stack spills are not wiped (as in libsodium); the
    // scalar copy we made is.
    sodium_memzero(words, sizeof words);
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
    run<false>(scalars, u, out);
}

void x25519_ifma_base_x8(const x25519_lanes32& scalars, x25519_lanes32& out) {
    alignas(64) uint64_t u[5][k_x25519_lanes] = {};
    for (size_t l = 0; l < k_x25519_lanes; ++l) u[0][l] = 9;
    run<true>(scalars, u, out);
}

}  // namespace eg::crypto::detail
