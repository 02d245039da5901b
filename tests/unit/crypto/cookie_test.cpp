// mac1 / mac2 and cookie replies: mac1 gates everything, under load only a valid mac2
// gets through, and the initiator's cookie round trip makes the retry acceptable.
#include "crypto/cookie.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "crypto/handshake.hpp"
#include "tests/unit/crypto/test_hex.hpp"

namespace eg::crypto {
namespace {

constexpr uint64_t k_wall = 1704067200ULL * k_ns_per_s;
const uint8_t k_src_a[6] = {192, 0, 2, 7, 0xca, 0x6c};    // 192.0.2.7:51820
const uint8_t k_src_b[6] = {198, 51, 100, 9, 0xca, 0x6c};  // another source

struct fixture {
    local_identity a = local_identity::from_private(x25519_generate().priv);
    local_identity b = local_identity::from_private(x25519_generate().priv);
    key32 psk{};
    handshake a_hs{a, b.static_keys.pub, psk};
    cookie_maker a_maker{b.static_keys.pub};
    cookie_checker b_checker{b.static_keys.pub};

    std::array<uint8_t, k_initiation_size> initiation(uint64_t now, uint64_t wall = k_wall) {
        message_initiation m;
        EXPECT_EQ(a_hs.create_initiation(42, wall, m), handshake_error::ok);
        std::array<uint8_t, k_initiation_size> bytes{};
        serialise(m, bytes);
        a_maker.add_macs(bytes, now);
        return bytes;
    }
};

TEST(WireguardCookie, Mac1KeyIsHashOfLabelAndKey) {
    // HASH("mac1----" ‖ pub) / HASH("cookie--" ‖ pub), checked against Python hashlib.
    public_key pub{};
    for (size_t i = 0; i < 32; ++i) pub[i] = uint8_t(i);
    const mac_keys k = mac_keys::for_public_key(pub);
    EXPECT_EQ(test::hex(k.mac1), "4fb2527ac956001553dc1ad9b55171b7d9daa3de1cdbcd71451830170c7e6cac");
    EXPECT_EQ(test::hex(k.cookie), "3dd5869c5202e45146936d1644f76ff697061661c181f3fd450eae43932eacec");
}

TEST(WireguardCookie, Mac1IsCheckedFirstAndCoversTheMessage) {
    fixture f;
    auto msg = f.initiation(0);
    EXPECT_EQ(f.b_checker.validate(msg, k_src_a, 0, false), cookie_checker::verdict::valid);
    for (size_t pos : {size_t(0) + 4, size_t(50), size_t(115), size_t(116), size_t(131)}) {
        SCOPED_TRACE(pos);
        auto bad = msg;
        bad[pos] ^= 1;
        EXPECT_EQ(f.b_checker.validate(bad, k_src_a, 0, false), cookie_checker::verdict::invalid_mac1);
        EXPECT_EQ(f.b_checker.validate(bad, k_src_a, 0, true), cookie_checker::verdict::invalid_mac1)
            << "no cookie reply for a bad mac1, even under load";
    }
    // mac2 is not covered by mac1 and is ignored when not under load.
    auto other_mac2 = msg;
    other_mac2[140] ^= 1;
    EXPECT_EQ(f.b_checker.validate(other_mac2, k_src_a, 0, false), cookie_checker::verdict::valid);
    // Sent to someone else: mac1 was keyed with b's key, c refuses it.
    cookie_checker c_checker(x25519_generate().pub);
    EXPECT_EQ(c_checker.validate(msg, k_src_a, 0, false), cookie_checker::verdict::invalid_mac1);
    // Wrong sizes never pass.
    EXPECT_FALSE(verify_mac1(f.b.macs.mac1, std::span<const uint8_t>(msg).first(147)));
}

TEST(WireguardCookie, UnderLoadOnlyAValidMac2IsAccepted) {
    fixture f;
    const uint64_t t0 = 1000 * k_ns_per_s;

    // 1. Under load, no cookie yet: mac2 is zero, the responder answers with a cookie reply.
    auto first = f.initiation(t0);
    ASSERT_EQ(f.b_checker.validate(first, k_src_a, t0, true), cookie_checker::verdict::need_cookie);
    message_cookie_reply reply;
    f.b_checker.create_reply(first, k_src_a, t0, reply);
    EXPECT_EQ(reply.receiver_index, 42u) << "addressed to the initiation's sender index";
    std::array<uint8_t, k_cookie_reply_size> reply_bytes{};
    serialise(reply, reply_bytes);
    message_cookie_reply parsed;
    ASSERT_EQ(parse(reply_bytes, parsed), parse_error::ok);

    // 2. The initiator takes the cookie (AAD = the mac1 it sent) ...
    EXPECT_FALSE(f.a_maker.has_fresh_cookie(t0));
    ASSERT_EQ(f.a_maker.consume_reply(parsed, t0), cookie_maker::reply_error::ok);
    EXPECT_TRUE(f.a_maker.has_fresh_cookie(t0));
    EXPECT_EQ(f.a_maker.consume_reply(parsed, t0), cookie_maker::reply_error::no_mac1_sent)
        << "one reply per mac1 sent";

    // 3. ... and its retry carries a valid mac2: accepted under load.
    auto retry = f.initiation(t0 + k_rekey_timeout, k_wall + k_rekey_timeout);
    EXPECT_EQ(f.b_checker.validate(retry, k_src_a, t0 + k_rekey_timeout, true),
              cookie_checker::verdict::valid_with_cookie);
    // The cookie is bound to the source address.
    EXPECT_EQ(f.b_checker.validate(retry, k_src_b, t0 + k_rekey_timeout, true), cookie_checker::verdict::need_cookie);
    // Not under load, mac2 does not matter.
    EXPECT_EQ(f.b_checker.validate(retry, k_src_b, t0 + k_rekey_timeout, false), cookie_checker::verdict::valid);

    // 4. The responder's secret rotates after 120 s: old cookies stop working.
    const uint64_t later = t0 + k_cookie_secret_max_age + 1;
    EXPECT_EQ(f.b_checker.validate(retry, k_src_a, later, true), cookie_checker::verdict::need_cookie);
    // The initiator stops using a cookie older than 115 s (it would arrive stale).
    EXPECT_TRUE(f.a_maker.has_fresh_cookie(t0 + k_cookie_use_max_age - 1));
    EXPECT_FALSE(f.a_maker.has_fresh_cookie(t0 + k_cookie_use_max_age));
    auto stale = f.initiation(t0 + k_cookie_use_max_age, k_wall + 2 * k_rekey_timeout);
    EXPECT_TRUE(std::all_of(stale.begin() + 132, stale.end(), [](uint8_t x) { return x == 0; }));
}

TEST(WireguardCookie, ForgedOrMisdirectedRepliesAreRefused) {
    fixture f;
    message_cookie_reply reply;
    auto msg = f.initiation(0);
    EXPECT_EQ(f.b_checker.validate(msg, k_src_a, 0, true), cookie_checker::verdict::need_cookie);
    f.b_checker.create_reply(msg, k_src_a, 0, reply);

    // A reply made for an earlier mac1 does not open once a newer initiation went out.
    (void)f.initiation(1);
    EXPECT_EQ(f.a_maker.consume_reply(reply, 1), cookie_maker::reply_error::authentication_failed);
    EXPECT_FALSE(f.a_maker.has_fresh_cookie(1));

    // Someone without b's public key cannot make a reply: wrong XAEAD key.
    auto msg2 = f.initiation(2);
    cookie_checker impostor(x25519_generate().pub);
    message_cookie_reply fake;
    impostor.create_reply(msg2, k_src_a, 2, fake);
    EXPECT_EQ(f.a_maker.consume_reply(fake, 2), cookie_maker::reply_error::authentication_failed);
    // Flipped bits in a genuine reply fail too.
    f.b_checker.create_reply(msg2, k_src_a, 2, reply);
    message_cookie_reply flipped = reply;
    flipped.nonce[0] ^= 1;
    EXPECT_EQ(f.a_maker.consume_reply(flipped, 2), cookie_maker::reply_error::authentication_failed);
    EXPECT_EQ(f.a_maker.consume_reply(reply, 2), cookie_maker::reply_error::ok);

    // A maker that never sent anything takes no reply.
    cookie_maker idle(f.b.static_keys.pub);
    EXPECT_EQ(idle.consume_reply(reply, 2), cookie_maker::reply_error::no_mac1_sent);
}

}  // namespace
}  // namespace eg::crypto
