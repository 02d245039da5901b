#pragma once
// GF(2^255 - 19) arithmetic on eight elements at once with AVX-512 IFMA, for the batched
// X25519 (crypto/x25519_ifma.cpp, crypto/x25519_ifma_base.cpp). Internal to crypto/.
//
// Representation: an element is five limbs of radix 2^52, limb i of all eight lanes in
// one __m512i. vpmadd52{l,h}uq multiply only the low 52 bits of each input, so every
// limb that reaches a multiplication must be below 2^52. Products return the "loose" form
//     limbs 0..3 < 2^52, limb 4 < 2^47 + 2^12   (value < 2^255 + 2^220),
// sums and differences of loose elements the "sum form" (limb 4 < 2^49 + 4), which only
// products take (add_loose / sub_loose return the loose form, for chains of additions).
// The bounds that keep this true are argued next to each step and tested at their
// extremes against big-integer arithmetic (tests/unit/crypto/fe52x8_test.cpp).
//
// Constant time: every function here is straight-line code over all lanes (the only
// loops have public counts); no branch or address depends on an element's value.
// Everything is compiled for AVX-512 through function-level target attributes, so the
// includer's -march does not matter; callers run it only where x25519_ifma_supported().
#include <immintrin.h>

#include <cstdint>

#define EG_IFMA_TARGET "avx512f,avx512ifma"
#define EG_IFMA_INLINE [[gnu::target(EG_IFMA_TARGET), gnu::always_inline]] inline

namespace eg::crypto::detail {

constexpr uint64_t k_mask52 = (uint64_t(1) << 52) - 1;
constexpr uint64_t k_mask47 = (uint64_t(1) << 47) - 1;

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

// c + a · k for a constant k < 2^20 (the ladder's 121665): the halves of a_i k go to columns i and
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

// a + 2p - b for loose a, b, limb by limb: 2p's limbs (2^53 - 38, 2^53 - 2, 2^53 - 2,
// 2^53 - 2, 2^48 - 2) are each at least the loose bound of b's, so no lane goes
// negative, and limb 4 stays < 2^47 + 2^12 + 2^48.
struct limbs5 {
    __m512i r[5];
};
EG_IFMA_INLINE limbs5 sub_limbs(const fe8& a, const fe8& b) {
    const __m512i p0 = splat((uint64_t(1) << 53) - 38);
    const __m512i p1 = splat((uint64_t(1) << 53) - 2);
    const __m512i p4 = splat((uint64_t(1) << 48) - 2);
    return limbs5{{_mm512_sub_epi64(_mm512_add_epi64(a.l[0], p0), b.l[0]),
                   _mm512_sub_epi64(_mm512_add_epi64(a.l[1], p1), b.l[1]),
                   _mm512_sub_epi64(_mm512_add_epi64(a.l[2], p1), b.l[2]),
                   _mm512_sub_epi64(_mm512_add_epi64(a.l[3], p1), b.l[3]),
                   _mm512_sub_epi64(_mm512_add_epi64(a.l[4], p4), b.l[4])}};
}

// a - b for loose a, b, in sum form.
EG_IFMA_INLINE fe8 sub(const fe8& a, const fe8& b) {
    const limbs5 d = sub_limbs(a, b);
    return carry(d.r[0], d.r[1], d.r[2], d.r[3], d.r[4]);
}

// a + b and a - b for loose a, b, in the loose form: for formulas that add to or
// subtract from a sum (the Edwards doubling).
EG_IFMA_INLINE fe8 add_loose(const fe8& a, const fe8& b) {
    return normalize(_mm512_add_epi64(a.l[0], b.l[0]), _mm512_add_epi64(a.l[1], b.l[1]),
                     _mm512_add_epi64(a.l[2], b.l[2]), _mm512_add_epi64(a.l[3], b.l[3]),
                     _mm512_add_epi64(a.l[4], b.l[4]));
}
EG_IFMA_INLINE fe8 sub_loose(const fe8& a, const fe8& b) {
    const limbs5 d = sub_limbs(a, b);
    return normalize(d.r[0], d.r[1], d.r[2], d.r[3], d.r[4]);
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

[[gnu::target(EG_IFMA_TARGET)]] inline fe8 sqr_n(fe8 a, int n) {
    for (int i = 0; i < n; ++i) a = sqr(a);
    return a;
}

// z^(p - 2) = z^(2^255 - 21) (Fermat), the addition chain of ref10's fe_invert: 254
// squarings and 11 multiplications, the same for every lane. z = 0 gives 0.
[[gnu::target(EG_IFMA_TARGET)]] inline fe8 invert(const fe8& z) {
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

// Scalar (one lane) helpers for loading and storing elements.

inline uint64_t load64_le(const uint8_t* p) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; --i) x = x << 8 | p[i];
    return x;
}

// One carry pass r0 → r4 with the bits above 2^255 folded into r0 first.
inline void fold_and_carry(uint64_t r[5]) {
    const uint64_t top = r[4] >> 47;
    r[4] &= k_mask47;
    r[0] += 19 * top;
    for (int i = 0; i < 4; ++i) {
        r[i + 1] += r[i] >> 52;
        r[i] &= k_mask52;
    }
}

// Loose or sum-form limbs to the canonical value (< p), in place. Two fold-and-carry
// passes bring the value below 2^255 (after the first, limb 4 ≤ 2^47, and it equals 2^47
// only when the low limbs are small, so the second pass cannot carry out again); then it
// is below 2p and q = (v + 19) >> 255 says whether to subtract p, done as v + 19q mod
// 2^255.
inline void freeze(uint64_t r[5]) {
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
}

// Loose limbs to the canonical 32 little-endian bytes.
inline void encode_canonical(uint64_t r[5], uint8_t out[32]) {
    freeze(r);
    const uint64_t w[4] = {r[0] | r[1] << 52, r[1] >> 12 | r[2] << 40, r[2] >> 24 | r[3] << 28,
                           r[3] >> 36 | r[4] << 16};
    for (int i = 0; i < 32; ++i) out[i] = uint8_t(w[i / 8] >> (8 * (i % 8)));
}

}  // namespace eg::crypto::detail
