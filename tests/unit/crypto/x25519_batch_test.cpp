// x25519_batch / x25519_batch_base on both paths (AVX-512 IFMA where the CPU has it,
// libsodium forced): RFC 7748 §5.2 vectors and iterations, §6.1 Diffie-Hellman, small-order
// points, and every lane cross-checked against libsodium on random and edge-case inputs.
#include "crypto/x25519_batch.hpp"

#include <gtest/gtest.h>
#include <sodium/core.h>
#include <sodium/crypto_scalarmult_curve25519.h>
#include <sodium/randombytes.h>

#include <array>
#include <cstdint>
#include <vector>

#include "tests/unit/crypto/test_hex.hpp"

namespace eg::crypto {
namespace {

using test::hex;
using test::unhex_array;
using b32 = std::array<uint8_t, 32>;

// IFMA is skipped (not failed) on CPUs without it: x25519_batch then never takes it.
class X25519Batch : public ::testing::TestWithParam<x25519_batch_path> {
    protected:
    void SetUp() override {
        ASSERT_GE(sodium_init(), 0);
        if (GetParam() == x25519_batch_path::ifma && x25519_batch_default_path() != x25519_batch_path::ifma) {
            GTEST_SKIP() << "no AVX-512 IFMA on this CPU";
        }
    }
    x25519_batch_path path() const { return GetParam(); }
};

b32 random32() {
    b32 b;
    randombytes_buf(b.data(), b.size());
    return b;
}

// Each lane against libsodium: same bytes, and ok exactly when libsodium returns 0.
void expect_matches_sodium(const std::vector<b32>& s, const std::vector<b32>& u, x25519_batch_path path) {
    std::vector<b32> out(s.size());
    std::unique_ptr<bool[]> ok(new bool[s.size()]);
    x25519_batch(s, u, out, {ok.get(), s.size()}, path);
    for (size_t i = 0; i < s.size(); ++i) {
        b32 want;
        const bool want_ok = crypto_scalarmult_curve25519(want.data(), s[i].data(), u[i].data()) == 0;
        ASSERT_EQ(hex(out[i]), hex(want)) << "lane " << i << " of " << s.size() << " k=" << hex(s[i])
                                          << " u=" << hex(u[i]);
        ASSERT_EQ(ok[i], want_ok) << "lane " << i << " u=" << hex(u[i]);
    }
}

TEST_P(X25519Batch, Rfc7748Section52VectorsInEveryLanePosition) {
    const b32 k1 = unhex_array<32>("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
    const b32 u1 = unhex_array<32>("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    const std::string r1 = "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552";
    const b32 k2 = unhex_array<32>("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
    const b32 u2 = unhex_array<32>("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
    const std::string r2 = "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957";
    // Counts 1..17: a lone call, padded remainders, full groups and a group plus rest.
    for (size_t n = 1; n <= 17; ++n) {
        std::vector<b32> s(n), u(n), out(n);
        std::unique_ptr<bool[]> ok(new bool[n]);
        for (size_t i = 0; i < n; ++i) {
            s[i] = i % 2 ? k2 : k1;
            u[i] = i % 2 ? u2 : u1;
        }
        x25519_batch(s, u, out, {ok.get(), n}, path());
        for (size_t i = 0; i < n; ++i) {
            EXPECT_EQ(hex(out[i]), i % 2 ? r2 : r1) << "n=" << n << " lane " << i;
            EXPECT_TRUE(ok[i]);
        }
    }
}

// §5.2: k = u = 9, then k, u = X25519(k, u), k. Every lane of a group iterates the same
// chain, so each lane must reach the published values.
TEST_P(X25519Batch, Rfc7748Section52Iterations) {
    const size_t lanes = path() == x25519_batch_path::ifma ? k_x25519_lanes : 1;
    std::vector<b32> k(lanes), u(lanes), out(lanes);
    std::unique_ptr<bool[]> ok(new bool[lanes]);
    b32 nine{};
    nine[0] = 9;
    for (size_t l = 0; l < lanes; ++l) k[l] = u[l] = nine;
    for (int it = 1; it <= 1000; ++it) {
        x25519_batch(k, u, out, {ok.get(), lanes}, path());
        u = k;
        k = out;
        if (it == 1 || it == 1000) {
            const std::string want = it == 1 ? "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"
                                             : "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51";
            for (size_t l = 0; l < lanes; ++l) EXPECT_EQ(hex(k[l]), want) << "after " << it << ", lane " << l;
        }
    }
}

TEST_P(X25519Batch, Rfc7748Section61DiffieHellman) {
    const std::vector<b32> priv = {
        unhex_array<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
        unhex_array<32>("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")};
    std::vector<b32> pub(2), shared(2);
    x25519_batch_base(priv, pub, path());
    EXPECT_EQ(hex(pub[0]), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    EXPECT_EQ(hex(pub[1]), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    bool ok[2];
    const std::vector<b32> peer = {pub[1], pub[0]};
    x25519_batch(priv, peer, shared, ok, path());
    for (int i = 0; i < 2; ++i) {
        EXPECT_TRUE(ok[i]);
        EXPECT_EQ(hex(shared[i]), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    }
}

// Points of small order (0, 1, the order-8 points, p - 1, and non-canonical p, p + 1
// and 2^255 - 1), also with the ignored top bit set: the result is all zero and not ok,
// as libsodium's -1, in every lane and among valid lanes.
TEST_P(X25519Batch, SmallOrderPointsAreNotOk) {
    const char* small[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    };
    std::vector<b32> s, u;
    for (const char* p : small) {
        for (int top = 0; top < 2; ++top) {
            b32 x = unhex_array<32>(p);
            x[31] = uint8_t(x[31] | (top << 7));
            s.push_back(random32());
            u.push_back(x);
            s.push_back(random32());  // a valid lane between the bad ones
            u.push_back(random32());
        }
    }
    std::vector<b32> out(s.size());
    std::unique_ptr<bool[]> ok(new bool[s.size()]);
    x25519_batch(s, u, out, {ok.get(), s.size()}, path());
    for (size_t i = 0; i < s.size(); i += 2) {
        EXPECT_FALSE(ok[i]) << hex(u[i]);
        EXPECT_EQ(out[i], b32{}) << hex(u[i]);
    }
    expect_matches_sodium(s, u, path());
}

// Random scalars against random u (top bit random, so half are masked by RFC 7748 §5),
// u in [p, 2^255) and just below p, u with every limb boundary set, and small-order u,
// across counts that exercise full groups, padding and the libsodium remainder.
TEST_P(X25519Batch, EveryLaneMatchesLibsodium) {
    std::vector<b32> s, u;
    for (int i = 0; i < 4096; ++i) {
        s.push_back(random32());
        b32 x = random32();
        switch (i % 16) {
        case 1:  // non-canonical: p + (0..18), top bit random
            x.fill(0xff);
            x[0] = uint8_t(0xed + i % 19);
            x[31] = uint8_t(0x7f | (i & 32 ? 0x80 : 0));
            break;
        case 2:  // below p
            x.fill(0xff);
            x[0] = uint8_t(0xda + i % 19);
            x[31] = 0x7f;
            break;
        case 3:  // all ones (2^256 - 1)
            x.fill(0xff);
            break;
        case 4:  // small values
            x.fill(0);
            x[0] = uint8_t(i);
            break;
        case 5:  // small order inside the mix
            x = unhex_array<32>("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157");
            break;
        case 6:  // extreme scalars: all bits set or clear before clamping
            s.back().fill(i & 32 ? 0xff : 0);
            break;
        default:
            break;
        }
        u.push_back(x);
    }
    expect_matches_sodium(s, u, path());
    for (size_t n : {1u, 2u, 3u, 7u, 9u, 15u, 23u}) {
        expect_matches_sodium(std::vector<b32>(s.begin(), s.begin() + n), std::vector<b32>(u.begin(), u.begin() + n),
                              path());
    }
}

TEST_P(X25519Batch, BaseMatchesLibsodium) {
    for (size_t n : {1u, 5u, 8u, 16u, 1024u + 3u}) {
        std::vector<b32> s(n), pub(n);
        for (auto& k : s) k = random32();
        // Byte patterns that put the signed radix-16 recoding of the table method at its
        // extremes (digits ±8, carries through every position, none at all).
        const uint8_t patterns[] = {0x00, 0xff, 0x88, 0x77, 0x78, 0x87, 0x80, 0x08, 0xf0, 0x0f};
        for (size_t p = 0; p < sizeof patterns && p < n; ++p) s[p].fill(patterns[p]);
        x25519_batch_base(s, pub, path());
        for (size_t i = 0; i < n; ++i) {
            b32 want;
            ASSERT_EQ(crypto_scalarmult_curve25519_base(want.data(), s[i].data()), 0);
            ASSERT_EQ(hex(pub[i]), hex(want)) << "n=" << n << " lane " << i;
        }
    }
}

TEST_P(X25519Batch, EmptyBatchesDoNothing) {
    x25519_batch({}, {}, {}, {}, path());
    x25519_batch_base({}, {}, path());
}

INSTANTIATE_TEST_SUITE_P(Paths, X25519Batch,
                         ::testing::Values(x25519_batch_path::ifma, x25519_batch_path::sodium),
                         [](const auto& p) {
                             return p.param == x25519_batch_path::ifma ? "ifma" : "sodium";
                         });

TEST(X25519BatchDispatch, DefaultPathFollowsTheCpu) {
    __builtin_cpu_init();
    const bool ifma = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
    EXPECT_EQ(x25519_batch_default_path(), ifma ? x25519_batch_path::ifma : x25519_batch_path::sodium);
}

}  // namespace
}  // namespace eg::crypto
