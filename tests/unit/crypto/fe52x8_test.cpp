// crypto/detail/fe52x8.hpp at its limb bounds: every operation fed the largest (and
// smallest, and random) limbs its input form allows, results checked against OpenSSL
// BIGNUM arithmetic mod 2^255 - 19 and against the output form's bounds. Random points
// (x25519_batch_test) rarely reach the extremes where a carry would overflow a limb.
#include "crypto/detail/fe52x8.hpp"

#include <gtest/gtest.h>
#include <openssl/bn.h>

#include <cstdint>
#include <memory>
#include <random>

#include "crypto/detail/x25519_ifma.hpp"

namespace eg::crypto::detail {
namespace {

constexpr uint64_t k_loose4 = (uint64_t(1) << 47) + (uint64_t(1) << 12) - 1;  // largest loose limb 4
constexpr uint64_t k_sum4 = (uint64_t(1) << 49) + 3;                          // largest sum-form limb 4

using lanes5 = uint64_t[5][8];

struct bn_free {
    void operator()(BIGNUM* b) const { BN_free(b); }
};
struct ctx_free {
    void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
using bn = std::unique_ptr<BIGNUM, bn_free>;

bn value_of(const lanes5& v, int lane) {
    bn r(BN_new()), t(BN_new());
    BN_zero(r.get());
    for (int i = 4; i >= 0; --i) {
        BN_lshift(r.get(), r.get(), 52);
        BN_set_word(t.get(), v[i][lane]);
        BN_add(r.get(), r.get(), t.get());
    }
    return r;
}

[[gnu::target(EG_IFMA_TARGET)]] void store(const fe8& a, lanes5& out) {
    for (int i = 0; i < 5; ++i) _mm512_storeu_si512(out[i], a.l[i]);
}
[[gnu::target(EG_IFMA_TARGET)]] fe8 load(const lanes5& in) {
    fe8 a;
    for (int i = 0; i < 5; ++i) a.l[i] = _mm512_loadu_si512(in[i]);
    return a;
}

enum class op { mul, sqr, add, sub, add_loose, sub_loose, mul_small_add };

[[gnu::target(EG_IFMA_TARGET)]] void apply(op o, const lanes5& a, const lanes5& b, lanes5& out) {
    const fe8 x = load(a), y = load(b);
    switch (o) {
    case op::mul: return store(mul(x, y), out);
    case op::sqr: return store(sqr(x), out);
    case op::add: return store(add(x, y), out);
    case op::sub: return store(sub(x, y), out);
    case op::add_loose: return store(add_loose(x, y), out);
    case op::sub_loose: return store(sub_loose(x, y), out);
    case op::mul_small_add: return store(mul_small_add(x, 121665, y), out);
    }
}

class Fe52x8 : public ::testing::Test {
    protected:
    void SetUp() override {
        if (!x25519_ifma_supported()) GTEST_SKIP() << "no AVX-512 IFMA on this CPU";
        BN_hex2bn(&p_raw_, "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed");
        p_.reset(p_raw_);
    }
    std::mt19937_64 rng_{20261122};
    BIGNUM* p_raw_ = nullptr;
    bn p_;
    std::unique_ptr<BN_CTX, ctx_free> ctx_{BN_CTX_new()};

    uint64_t pick(uint64_t max) {
        switch (rng_() % 5) {
        case 0: return max;
        case 1: return 0;
        case 2: return max - rng_() % 16;
        case 3: return rng_() % (max + 1);
        default: return max / 2 + rng_() % (max / 2);
        }
    }
    void fill(lanes5& v, uint64_t max4) {
        for (int l = 0; l < 8; ++l) {
            for (int i = 0; i < 4; ++i) v[i][l] = pick((uint64_t(1) << 52) - 1);
            v[4][l] = pick(max4);
        }
    }
    // want = f(a, b) mod p, and every lane of `got` within limbs 0..3 < 2^52, limb 4 ≤ max4.
    void check(op o, uint64_t in4_a, uint64_t in4_b, uint64_t out4) {
        for (int round = 0; round < 2000; ++round) {
            lanes5 a, b, r;
            fill(a, in4_a);
            fill(b, in4_b);
            apply(o, a, b, r);
            for (int l = 0; l < 8; ++l) {
                for (int i = 0; i < 4; ++i) ASSERT_LT(r[i][l], uint64_t(1) << 52) << int(o);
                ASSERT_LE(r[4][l], out4) << int(o);
                bn x = value_of(a, l), y = value_of(b, l), got = value_of(r, l), want(BN_new()), t(BN_new());
                switch (o) {
                case op::mul: BN_mul(want.get(), x.get(), y.get(), ctx_.get()); break;
                case op::sqr: BN_sqr(want.get(), x.get(), ctx_.get()); break;
                case op::add:
                case op::add_loose: BN_add(want.get(), x.get(), y.get()); break;
                case op::sub:
                case op::sub_loose: BN_sub(want.get(), x.get(), y.get()); break;
                case op::mul_small_add:
                    BN_set_word(t.get(), 121665);
                    BN_mul(want.get(), x.get(), t.get(), ctx_.get());
                    BN_add(want.get(), want.get(), y.get());
                    break;
                }
                BN_nnmod(want.get(), want.get(), p_.get(), ctx_.get());
                BN_nnmod(got.get(), got.get(), p_.get(), ctx_.get());
                ASSERT_EQ(BN_cmp(want.get(), got.get()), 0) << "op " << int(o) << " lane " << l;
            }
        }
    }
};

TEST_F(Fe52x8, ProductsOfSumFormsAreLoose) {
    check(op::mul, k_sum4, k_sum4, k_loose4);
    check(op::sqr, k_sum4, k_sum4, k_loose4);
    check(op::mul_small_add, k_sum4, k_loose4, k_loose4);
}

TEST_F(Fe52x8, SumsOfLooseFormsFitTheirForms) {
    check(op::add, k_loose4, k_loose4, k_sum4);
    check(op::sub, k_loose4, k_loose4, k_sum4);
    check(op::add_loose, k_loose4, k_loose4, k_loose4);
    check(op::sub_loose, k_loose4, k_loose4, k_loose4);
}

// freeze: loose or sum-form limbs to the canonical value, including p .. p + 18 and
// 2^255 - 1 (non-canonical encodings of small values) and the bounds' extremes.
TEST_F(Fe52x8, FreezeIsCanonical) {
    const uint64_t m = (uint64_t(1) << 52) - 1;
    const uint64_t p_limbs[5] = {m - 18, m, m, m, (uint64_t(1) << 47) - 1};
    for (int round = 0; round < 20000; ++round) {
        uint64_t r[5];
        for (int i = 0; i < 5; ++i) {
            switch (round % 4) {
            case 0: r[i] = p_limbs[i] + (i == 0 ? uint64_t(round % 19) : 0); break;  // p .. p + 18
            case 1: r[i] = i < 4 ? m : k_sum4; break;
            case 2: r[i] = i < 4 ? pick(m) : pick(k_loose4); break;
            default: r[i] = i < 4 ? pick(m) : pick(k_sum4); break;
            }
        }
        lanes5 in{}, out{};
        for (int i = 0; i < 5; ++i) in[i][0] = r[i];
        freeze(r);
        for (int i = 0; i < 5; ++i) out[i][0] = r[i];
        bn want = value_of(in, 0), got = value_of(out, 0);
        BN_nnmod(want.get(), want.get(), p_.get(), ctx_.get());
        ASSERT_EQ(BN_cmp(want.get(), got.get()), 0) << "round " << round;
    }
}

}  // namespace
}  // namespace eg::crypto::detail
