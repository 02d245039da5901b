// Known-answer tests for the primitives under the WireGuard core: BLAKE2s (plain and
// keyed), HMAC-BLAKE2s / KDF1..3, ChaCha20-Poly1305 (both the prepared OpenSSL context
// the data path uses and the handshake one-shot), XChaCha20-Poly1305, X25519, TAI64N.
#include <gtest/gtest.h>

#include <string>

#include "crypto/aead.hpp"
#include "crypto/blake2s.hpp"
#include "crypto/tai64n.hpp"
#include "crypto/x25519.hpp"
#include "tests/unit/crypto/test_hex.hpp"

namespace eg::crypto {
namespace {

using test::bytes_of;
using test::hex;
using test::unhex;
using test::unhex_array;

std::vector<uint8_t> iota_bytes(size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(i);
    return v;
}

TEST(CryptoBlake2s, Rfc7693AppendixBAndEmpty) {
    key32 out;
    blake2s_hash(out, bytes_of("abc"));
    EXPECT_EQ(hex(out), "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
    blake2s_hash(out, {});
    EXPECT_EQ(hex(out), "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
    // Two-part input hashes the concatenation.
    blake2s_hash(out, bytes_of("a"), bytes_of("bc"));
    EXPECT_EQ(hex(out), "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
}

TEST(CryptoBlake2s, BlockBoundaries) {
    // Lengths around the 64-byte block; values from Python's hashlib.blake2s.
    struct tc {
        size_t n;
        const char* hash;
    };
    for (const tc& c : {tc{63, "e57cb79487dd57902432b250733813bd96a84efce59f650fac26e6696aefafc3"},
                        tc{64, "56f34e8b96557e90c1f24b52d0c89d51086acf1b00f634cf1dde9233b8eaaa3e"},
                        tc{65, "1b53ee94aaf34e4b159d48de352c7f0661d0a40edff95a0b1639b4090e974472"},
                        tc{128, "1fa877de67259d19863a2a34bcc6962a2b25fcbf5cbecd7ede8f1fa36688a796"},
                        tc{129, "5bd169e67c82c2c2e98ef7008bdf261f2ddf30b1c00f9e7f275bb3e8a28dc9a2"}}) {
        SCOPED_TRACE(c.n);
        const auto in = iota_bytes(c.n);
        key32 out;
        blake2s_hash(out, in);
        EXPECT_EQ(hex(out), c.hash);
        // Split anywhere, the two-part hash is the same.
        blake2s_hash(out, std::span<const uint8_t>(in).first(c.n / 3), std::span<const uint8_t>(in).subspan(c.n / 3));
        EXPECT_EQ(hex(out), c.hash);
    }
    // mac1 and mac2 input lengths of an initiation (116, 132) with a 16-byte digest.
    EXPECT_EQ(hex(blake2s_mac(iota_bytes(32), iota_bytes(116))), "072e94ffbfc684bd8ab2a1b9dade2fd5");
    EXPECT_EQ(hex(blake2s_mac(iota_bytes(32), iota_bytes(132))), "6d19534b4c332741c8ddd79a9644de2d");
}

TEST(CryptoBlake2s, KeyedKatsFromBlake2Testvectors) {
    // BLAKE2/BLAKE2 testvectors/blake2s-kat.txt: key 00..1f, input 00..(n-1).
    struct tc {
        size_t n;
        const char* hash;
    };
    const auto key = iota_bytes(32);
    for (const tc& c : {tc{0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49"},
                        tc{64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4"},
                        tc{255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd"}}) {
        SCOPED_TRACE(c.n);
        key32 out;
        blake2s_keyed(out, key, iota_bytes(c.n));
        EXPECT_EQ(hex(out), c.hash);
    }
}

TEST(CryptoBlake2s, Mac16IsKeyedBlake2sWithDigestLength16NotATruncation) {
    // Derived with Python's hashlib.blake2s(data, digest_size=16, key=key) (an
    // independent implementation); the truncated 32-byte digest is 8975b057....
    const mac16 m = blake2s_mac(iota_bytes(32), iota_bytes(64));
    EXPECT_EQ(hex(m), "f1efa90d2547036841ecd3627fafbc36");
    EXPECT_NE(hex(m), "8975b0577fd35566d750b362b0897a26");
}

TEST(CryptoKdf, WireguardGoKdfVectors) {
    // wireguard-go device/kdf_test.go.
    struct tc {
        const char *key, *input, *t0, *t1, *t2;
    };
    const tc cases[] = {
        {"746573742d6b6579", "746573742d696e707574",
         "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
         "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
         "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24"},
        {"776972656775617264", "776972656775617264",
         "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
         "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
         "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160"},
        {"", "", "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
         "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
         "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e"},
    };
    for (const tc& c : cases) {
        SCOPED_TRACE(c.key);
        const auto key = unhex(c.key), input = unhex(c.input);
        key32 a, b, d;
        kdf(key, input, &a, &b, &d);
        EXPECT_EQ(hex(a), c.t0);
        EXPECT_EQ(hex(b), c.t1);
        EXPECT_EQ(hex(d), c.t2);
        kdf(key, input, &a, &b);
        EXPECT_EQ(hex(a), c.t0);
        EXPECT_EQ(hex(b), c.t1);
        kdf(key, input, &a);
        EXPECT_EQ(hex(a), c.t0);
    }
    // The usual in-place update C = KDF1(C, x).
    key32 ck = unhex_array<32>("6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633");
    key32 expect;
    kdf(ck, bytes_of("x"), &expect);
    kdf(ck, bytes_of("x"), &ck);
    EXPECT_EQ(ck, expect);
}

TEST(CryptoKdf, ConstructionAndIdentifierHashes) {
    // Ci and Hi as the reference (wireguard.md §0) and boringtun's INITIAL_CHAIN_* give them.
    key32 ci, hi;
    blake2s_hash(ci, bytes_of(k_construction));
    blake2s_hash(hi, ci, bytes_of(k_identifier));
    EXPECT_EQ(hex(ci), "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
    EXPECT_EQ(hex(hi), "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
}

// RFC 8439 §2.8.2.
const char* k_rfc8439_plaintext =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    "sunscreen would be it.";
const char* k_rfc8439_ciphertext =
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b"
    "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116";
const char* k_rfc8439_tag = "1ae10b594f09e26a7e902ecbd0600691";

TEST(CryptoAead, Rfc8439VectorThroughThePreparedContext) {
    const key32 key = unhex_array<32>("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    const nonce12 nonce = unhex_array<12>("070000004041424344454647");
    const auto ad = unhex("50515253c0c1c2c3c4c5c6c7");
    const std::string pt = k_rfc8439_plaintext;

    aead_context seal, open;
    ASSERT_TRUE(seal.init(aead_context::mode::seal, key));
    ASSERT_TRUE(open.init(aead_context::mode::open, key));
    // Twice through the same context: the second call must not inherit state.
    for (int round = 0; round < 2; ++round) {
        std::vector<uint8_t> buf(pt.begin(), pt.end());
        uint8_t tag[16];
        ASSERT_TRUE(seal.seal(nonce, buf.data(), buf.size(), buf.data(), tag, ad));
        EXPECT_EQ(hex(buf), k_rfc8439_ciphertext);
        EXPECT_EQ(hex(std::span<const uint8_t>(tag, 16)), k_rfc8439_tag);
        ASSERT_TRUE(open.open(nonce, buf.data(), buf.size(), tag, buf.data(), ad));
        EXPECT_EQ(std::string(buf.begin(), buf.end()), pt);
        // A flipped ciphertext bit, a flipped tag bit and a different AD all fail.
        ASSERT_TRUE(seal.seal(nonce, buf.data(), buf.size(), buf.data(), tag, ad));
        buf[7] ^= 1;
        EXPECT_FALSE(open.open(nonce, buf.data(), buf.size(), tag, buf.data(), ad));
    }
    std::vector<uint8_t> buf(pt.begin(), pt.end());
    uint8_t tag[16];
    ASSERT_TRUE(seal.seal(nonce, buf.data(), buf.size(), buf.data(), tag, ad));
    tag[15] ^= 0x80;
    EXPECT_FALSE(open.open(nonce, buf.data(), buf.size(), tag, buf.data(), ad));
    tag[15] ^= 0x80;
    EXPECT_FALSE(open.open(nonce, buf.data(), buf.size(), tag, buf.data(), bytes_of("other")));
    // A seal context refuses to open and vice versa.
    EXPECT_FALSE(seal.open(nonce, buf.data(), buf.size(), tag, buf.data(), ad));
    EXPECT_FALSE(open.seal(nonce, buf.data(), buf.size(), buf.data(), tag, ad));
}

TEST(CryptoAead, WireguardNonceAndOneShotAgreeWithTheContext) {
    EXPECT_EQ(hex(wg_nonce(0x0102030405060708ULL)), "000000000807060504030201");
    const key32 key = unhex_array<32>("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    const std::string pt = k_rfc8439_plaintext;
    const auto ad = unhex("50515253c0c1c2c3c4c5c6c7");
    std::vector<uint8_t> one_shot(pt.size() + 16);
    aead_seal(one_shot.data(), key, 42, bytes_of(pt), ad);

    aead_context seal;
    ASSERT_TRUE(seal.init(aead_context::mode::seal, key));
    std::vector<uint8_t> ctx(pt.size() + 16);
    ASSERT_TRUE(seal.seal(wg_nonce(42), reinterpret_cast<const uint8_t*>(pt.data()), pt.size(), ctx.data(),
                          ctx.data() + pt.size(), ad));
    EXPECT_EQ(hex(one_shot), hex(ctx));

    std::vector<uint8_t> back(pt.size());
    ASSERT_TRUE(aead_open(back.data(), key, 42, one_shot, ad));
    EXPECT_EQ(std::string(back.begin(), back.end()), pt);
    EXPECT_FALSE(aead_open(back.data(), key, 43, one_shot, ad)) << "wrong counter";
    EXPECT_FALSE(aead_open(back.data(), key, 42, std::span<const uint8_t>(one_shot).first(15), ad));
}

TEST(CryptoAead, XChaCha20Poly1305DraftA31) {
    // draft-irtf-cfrg-xchacha-03 Appendix A.3.1.
    const key32 key = unhex_array<32>("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    const nonce24 nonce = unhex_array<24>("404142434445464748494a4b4c4d4e4f5051525354555657");
    const auto ad = unhex("50515253c0c1c2c3c4c5c6c7");
    const std::string pt = k_rfc8439_plaintext;
    std::vector<uint8_t> out(pt.size() + 16);
    xaead_seal(out.data(), key, nonce, bytes_of(pt), ad);
    EXPECT_EQ(hex(std::span<const uint8_t>(out).first(pt.size())),
              "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39"
              "ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
              "21f9664c97637da9768812f615c68b13b52e");
    EXPECT_EQ(hex(std::span<const uint8_t>(out).last(16)), "c0875924c1c7987947deafd8780acf49");
    std::vector<uint8_t> back(pt.size());
    ASSERT_TRUE(xaead_open(back.data(), key, nonce, out, ad));
    EXPECT_EQ(std::string(back.begin(), back.end()), pt);
    out[0] ^= 1;
    EXPECT_FALSE(xaead_open(back.data(), key, nonce, out, ad));
}

TEST(CryptoX25519, Rfc7748Vectors) {
    // §5.2, first test vector (the second's input u-coordinate has its top bit set,
    // which X25519 masks: covered by the decoding rule too).
    key32 out;
    ASSERT_TRUE(x25519(out, unhex_array<32>("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                       unhex_array<32>("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")));
    EXPECT_EQ(hex(out), "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    // §6.1 Diffie-Hellman.
    const auto alice = x25519_from_private(
        unhex_array<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
    const auto bob = x25519_from_private(
        unhex_array<32>("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
    EXPECT_EQ(hex(alice.pub), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    EXPECT_EQ(hex(bob.pub), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    key32 k1, k2;
    ASSERT_TRUE(x25519(k1, alice.priv, bob.pub));
    ASSERT_TRUE(x25519(k2, bob.priv, alice.pub));
    EXPECT_EQ(hex(k1), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    EXPECT_EQ(k1, k2);
}

TEST(CryptoX25519, RejectsAllZeroSharedSecrets) {
    // Small-order points (0, 1 and the order-8 point of RFC 7748 §6 / kernel
    // curve25519-selftest.c) give an all-zero result: DH must fail.
    const auto me = x25519_generate();
    key32 out;
    for (const char* p : {"0000000000000000000000000000000000000000000000000000000000000000",
                          "0100000000000000000000000000000000000000000000000000000000000000",
                          "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
                          "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"}) {
        SCOPED_TRACE(p);
        EXPECT_FALSE(x25519(out, me.priv, unhex_array<32>(p)));
    }
    // Generated keys are clamped and distinct.
    const auto other = x25519_generate();
    EXPECT_NE(me.pub, other.pub);
    EXPECT_EQ(me.priv[0] & 7, 0);
    EXPECT_EQ(me.priv[31] & 0xc0, 0x40);
}

TEST(CryptoTai64n, EncodingWhiteningAndOrder) {
    EXPECT_EQ(hex(tai64n_from_unix_ns(0)), "400000000000000a00000000");
    EXPECT_EQ(hex(tai64n_from_unix_ns(1'000'000'000ULL)), "400000000000000b00000000");
    // Nanoseconds are rounded down to a multiple of 2^24 (wireguard-go whitenerMask).
    EXPECT_EQ(hex(tai64n_from_unix_ns((1u << 24) - 1)), "400000000000000a00000000");
    EXPECT_EQ(hex(tai64n_from_unix_ns(1u << 24)), "400000000000000a01000000");
    EXPECT_EQ(hex(tai64n_from_unix_ns(999'999'999ULL)), "400000000000000a3b000000");
    // 2024-01-01T00:00:00Z = 1704067200 s.
    EXPECT_EQ(hex(tai64n_from_unix_ns(1704067200ULL * 1'000'000'000ULL)), "400000006592008a00000000");

    const uint64_t t = 1704067200ULL * 1'000'000'000ULL;
    EXPECT_TRUE(tai64n_after(tai64n_from_unix_ns(t + 20'000'000), tai64n_from_unix_ns(t)));
    EXPECT_FALSE(tai64n_after(tai64n_from_unix_ns(t), tai64n_from_unix_ns(t)));
    EXPECT_FALSE(tai64n_after(tai64n_from_unix_ns(t + 1000), tai64n_from_unix_ns(t))) << "same 2^24 ns slot";
    EXPECT_TRUE(tai64n_after(tai64n_from_unix_ns(t + 1'000'000'000ULL), tai64n_from_unix_ns(t + 999'000'000ULL)));
}

}  // namespace
}  // namespace eg::crypto
