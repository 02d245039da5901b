// Eight X25519 public keys at once (see detail/x25519_ifma.hpp): k·B on the birationally
// equivalent twisted Edwards curve with a precomputed table, then u = (1 + y) / (1 - y)
// (RFC 7748 §4.1), as libsodium's crypto_scalarmult_curve25519_base does with ref10.
//
// Method (ref10 ge_scalarmult_base): the clamped scalar is recoded into 64 signed radix-16
// digits e_i in [-8, 8]; the table holds j · 256^i · B for j = 1..8 and i = 0..31 in
// affine "Niels" form (y + x, y - x, 2d·x·y), so
//     k·B = 16 · Σ_i e_(2i+1) 256^i B  +  Σ_i e_(2i) 256^i B
// is 64 mixed additions and 4 doublings instead of 255 ladder steps.
//
// Constant time: each lookup reads all eight entries of its row and keeps one per lane by
// masked broadcasts (masks from vpcmpq on the digits), a negative digit negates by blends,
// and the digit recoding is arithmetic; the table row is public (the digit position).
// The table is built once, on first use, from B alone (no secret).
#include <sodium/utils.h>

#include <cstring>

#include "crypto/detail/fe52x8.hpp"
#include "crypto/detail/x25519_ifma.hpp"

namespace eg::crypto::detail {
namespace {

constexpr size_t k_lanes = k_x25519_lanes;

// The Edwards base point B = (x, 4/5) with x even, and 2d = 2 · (-121665 / 121666), as
// radix-2^52 limbs (computed with Python big integers and checked on the curve).
constexpr uint64_t k_base_x[5] = {0x62d608f25d51a, 0x609525a7b2c95, 0xdd6dc5c692cc7, 0x53fec0a4e231f,
                                  0x0216936d3cd6e};
constexpr uint64_t k_base_y[5] = {0x6666666666658, 0x6666666666666, 0x6666666666666, 0x6666666666666,
                                  0x0666666666666};
constexpr uint64_t k_d2[5] = {0x69b9426b2f159, 0x9a8283b156ebd, 0xef3d13000e014, 0xfce7198e80f2e,
                              0x02406d9dc56df};

struct niels_limbs {
    uint64_t ypx[5], ymx[5], xy2d[5];  // canonical
};
struct base_table {
    niels_limbs e[32][8];  // e[i][j - 1] = j · 256^i · B
};

struct p3 {  // extended coordinates: x = X/Z, y = Y/Z, T = XY/Z
    fe8 x, y, z, t;
};
struct niels {
    fe8 ypx, ymx, xy2d;
};

EG_IFMA_INLINE fe8 broadcast(const uint64_t limbs[5]) {
    return fe8{{splat(limbs[0]), splat(limbs[1]), splat(limbs[2]), splat(limbs[3]), splat(limbs[4])}};
}
EG_IFMA_INLINE void store(const fe8& a, uint64_t out[5][k_lanes]) {
#pragma GCC unroll 16
    for (int i = 0; i < 5; ++i) _mm512_storeu_si512(out[i], a.l[i]);
}
EG_IFMA_INLINE fe8 load(const uint64_t in[5][k_lanes]) {
    fe8 a;
#pragma GCC unroll 16
    for (int i = 0; i < 5; ++i) a.l[i] = _mm512_loadu_si512(in[i]);
    return a;
}

// p + q (ref10 ge_madd then ge_p1p1_to_p3): 7 multiplications. p loose; q's entries
// canonical except xy2d, which may be in sum form after a negation (it only meets mul).
EG_IFMA_INLINE p3 madd(const p3& p, const niels& q) {
    const fe8 a = mul(add(p.y, p.x), q.ypx);
    const fe8 b = mul(sub(p.y, p.x), q.ymx);
    const fe8 c = mul(q.xy2d, p.t);
    const fe8 d = add_loose(p.z, p.z);
    const fe8 x = sub(a, b), y = add(a, b), z = add(d, c), t = sub(d, c);
    return p3{mul(x, t), mul(y, z), mul(z, t), mul(x, y)};
}

// 2p (ref10 ge_p2_dbl then ge_p1p1_to_p3; T of p is not read).
EG_IFMA_INLINE p3 dbl(const p3& p) {
    const fe8 xx = sqr(p.x), yy = sqr(p.y), zz = sqr(p.z);
    const fe8 b = add_loose(zz, zz);
    const fe8 aa = sqr(add(p.x, p.y));
    const fe8 y = add_loose(yy, xx), z = sub_loose(yy, xx);
    const fe8 x = sub(aa, y), t = sub(b, z);
    return p3{mul(x, t), mul(y, z), mul(z, t), mul(x, y)};
}

[[gnu::target(EG_IFMA_TARGET)]] niels to_niels(const fe8& x, const fe8& y) {
    return niels{add(y, x), sub(y, x), mul(mul(x, y), broadcast(k_d2))};
}

// Row i of the table in the eight lanes at once: lane j - 1 computes nothing different
// (all lanes carry the same point), but j · P is moved into lane j - 1 so that one
// inversion makes all eight affine. Returns 256 · P in affine form for the next row.
[[gnu::target(EG_IFMA_TARGET)]] void build_row(fe8& px, fe8& py, niels_limbs row[8]) {
    const niels q = to_niels(px, py);
    const fe8 zero{{_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                    _mm512_setzero_si512(), _mm512_setzero_si512()}};
    const fe8 one{{splat(1), zero.l[1], zero.l[2], zero.l[3], zero.l[4]}};
    alignas(64) uint64_t xs[5][k_lanes], ys[5][k_lanes], zs[5][k_lanes], tmp[5][k_lanes];
    p3 acc{px, py, one, mul(px, py)};
    for (size_t j = 1; j <= 8; ++j) {
        if (j > 1) acc = madd(acc, q);
        const fe8* src[3] = {&acc.x, &acc.y, &acc.z};
        uint64_t(*dst[3])[k_lanes] = {xs, ys, zs};
        for (int c = 0; c < 3; ++c) {
            store(*src[c], tmp);
            for (int i = 0; i < 5; ++i) dst[c][i][j - 1] = tmp[i][0];
        }
    }
    const fe8 zi = invert(load(zs));
    const niels n = to_niels(mul(load(xs), zi), mul(load(ys), zi));
    alignas(64) uint64_t ypx[5][k_lanes], ymx[5][k_lanes], xy2d[5][k_lanes];
    store(n.ypx, ypx);
    store(n.ymx, ymx);
    store(n.xy2d, xy2d);
    for (size_t l = 0; l < k_lanes; ++l) {
        for (int i = 0; i < 5; ++i) {
            row[l].ypx[i] = ypx[i][l];
            row[l].ymx[i] = ymx[i][l];
            row[l].xy2d[i] = xy2d[i][l];
        }
        freeze(row[l].ypx);
        freeze(row[l].ymx);
        freeze(row[l].xy2d);
    }
    p3 next{px, py, one, zero};
    for (int d = 0; d < 8; ++d) next = dbl(next);
    const fe8 nzi = invert(next.z);
    px = mul(next.x, nzi);
    py = mul(next.y, nzi);
}

[[gnu::target(EG_IFMA_TARGET)]] void build_table(base_table& t) {
    fe8 x = broadcast(k_base_x), y = broadcast(k_base_y);
    for (int i = 0; i < 32; ++i) build_row(x, y, t.e[i]);
}

const base_table& table() {
    static const base_table* t = [] {
        auto* b = new base_table;  // 30 KiB, kept for the process's life
        build_table(*b);
        return b;
    }();
    return *t;
}

// The entry of `row` for each lane's digit in [-8, 8] (0: the neutral (1, 1, 0)), every
// entry read, one kept per lane by masked broadcasts; a negative digit swaps y + x and
// y - x and negates 2dxy, by blends.
EG_IFMA_INLINE niels select(const niels_limbs row[8], __m512i digit) {
    const __m512i zero = _mm512_setzero_si512();
    const __mmask8 neg = _mm512_cmplt_epi64_mask(digit, zero);
    const __m512i abs = _mm512_maskz_abs_epi64(0xff, digit);  // maskz: see shr()
    const __m512i one = splat(1);
    niels r{{{one, zero, zero, zero, zero}}, {{one, zero, zero, zero, zero}}, {{zero, zero, zero, zero, zero}}};
#pragma GCC unroll 8
    for (int j = 1; j <= 8; ++j) {
        const __mmask8 m = _mm512_cmpeq_epi64_mask(abs, splat(uint64_t(j)));
        const niels_limbs& e = row[j - 1];
#pragma GCC unroll 16
        for (int i = 0; i < 5; ++i) {
            r.ypx.l[i] = _mm512_mask_set1_epi64(r.ypx.l[i], m, int64_t(e.ypx[i]));
            r.ymx.l[i] = _mm512_mask_set1_epi64(r.ymx.l[i], m, int64_t(e.ymx[i]));
            r.xy2d.l[i] = _mm512_mask_set1_epi64(r.xy2d.l[i], m, int64_t(e.xy2d[i]));
        }
    }
    cswap(neg, r.ypx, r.ymx);
    const fe8 zero_fe{{zero, zero, zero, zero, zero}};
    const fe8 minus = sub(zero_fe, r.xy2d);
#pragma GCC unroll 16
    for (int i = 0; i < 5; ++i) r.xy2d.l[i] = _mm512_mask_blend_epi64(neg, r.xy2d.l[i], minus.l[i]);
    return r;
}

// Clamped scalars (RFC 7748 §5) as 64 signed radix-16 digits in [-8, 8] per lane (ref10's
// recoding: the clamped top byte is at most 127, so the last digit stays ≤ 8), transposed
// so digit i of all lanes is one vector. Arithmetic only, no branch on the digits.
void recode(const x25519_lanes32& scalars, int64_t digits[64][k_lanes]) {
    for (size_t l = 0; l < k_lanes; ++l) {
        uint8_t a[32];
        std::memcpy(a, scalars[l].data(), 32);
        a[0] &= 248;
        a[31] = uint8_t((a[31] & 127) | 64);
        int8_t e[64];
        for (int i = 0; i < 32; ++i) {
            e[2 * i] = int8_t(a[i] & 15);
            e[2 * i + 1] = int8_t((a[i] >> 4) & 15);
        }
        int8_t carry = 0;
        for (int i = 0; i < 63; ++i) {
            e[i] = int8_t(e[i] + carry);
            carry = int8_t((e[i] + 8) >> 4);  // arithmetic shift: C++20 defines it
            e[i] = int8_t(e[i] - carry * 16);
        }
        e[63] = int8_t(e[63] + carry);
        for (int i = 0; i < 64; ++i) digits[i][l] = e[i];
        sodium_memzero(a, sizeof a);
        sodium_memzero(e, sizeof e);
    }
}

[[gnu::target(EG_IFMA_TARGET)]] void scalarmult_base(const base_table& t, const int64_t digits[64][k_lanes],
                                                     uint64_t result[5][k_lanes]) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i one = splat(1);
    p3 h{{{zero, zero, zero, zero, zero}}, {{one, zero, zero, zero, zero}}, {{one, zero, zero, zero, zero}},
         {{zero, zero, zero, zero, zero}}};
    for (int i = 1; i < 64; i += 2) h = madd(h, select(t.e[i / 2], _mm512_loadu_si512(digits[i])));
    for (int d = 0; d < 4; ++d) h = dbl(h);
    for (int i = 0; i < 64; i += 2) h = madd(h, select(t.e[i / 2], _mm512_loadu_si512(digits[i])));
    // u = (Z + Y) / (Z - Y); Z - Y ≠ 0 since k·B is never the neutral point (k is a
    // multiple of 8 below 2^255, the order of B is a prime near 2^252).
    store(mul(add(h.z, h.y), invert(sub(h.z, h.y))), result);
}

}  // namespace

void x25519_ifma_base_x8(const x25519_lanes32& scalars, x25519_lanes32& out) {
    const base_table& t = table();
    alignas(64) int64_t digits[64][k_lanes];
    alignas(64) uint64_t result[5][k_lanes];
    recode(scalars, digits);
    scalarmult_base(t, digits, result);
    sodium_memzero(digits, sizeof digits);
    for (size_t l = 0; l < k_lanes; ++l) {
        uint64_t r[5] = {result[0][l], result[1][l], result[2][l], result[3][l], result[4][l]};
        encode_canonical(r, out[l].data());
    }
}

}  // namespace eg::crypto::detail
