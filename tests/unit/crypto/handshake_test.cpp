// Noise_IKpsk2 against the cacophony vector, and WireGuard handshakes between two
// instances of ours: keys agree, indices travel, and the replay / flood / wrong-key
// paths are refused.
#include "crypto/handshake.hpp"

#include <gtest/gtest.h>

#include <string>

#include "crypto/aead.hpp"
#include "crypto/cookie.hpp"
#include "crypto/transport.hpp"
#include "tests/unit/crypto/test_hex.hpp"

namespace eg::crypto {
namespace {

using test::bytes_of;
using test::hex;
using test::unhex;
using test::unhex_array;

// cacophony vectors (haskell-cryptography/cacophony vectors/cacophony.txt, as shipped
// in mcginty/snow tests/vectors/cacophony.txt), entry
// "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s".
TEST(WireguardNoise, CacophonyIKpsk2VectorByteForByte) {
    const auto prologue = unhex("4a6f686e2047616c74");  // "John Galt"
    const key32 psk = unhex_array<32>("54686973206973206d7920417573747269616e20706572737065637469766521");
    const auto s_i = x25519_from_private(unhex_array<32>("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"));
    const auto e_i = x25519_from_private(unhex_array<32>("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"));
    const auto s_r = x25519_from_private(unhex_array<32>("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"));
    const auto e_r = x25519_from_private(unhex_array<32>("bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"));
    ASSERT_EQ(hex(s_r.pub), "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62")
        << "init_remote_static of the vector";

    key32 ss_i, ss_r;
    ASSERT_TRUE(x25519(ss_i, s_i.priv, s_r.pub));
    ASSERT_TRUE(x25519(ss_r, s_r.priv, s_i.pub));

    // Message 1: initiator -> responder.
    noise_state ini = noise_initial(prologue, s_r.pub);
    const std::string p1 = "Ludwig von Mises";
    std::vector<uint8_t> m1(noise_msg1_size(p1.size()));
    ASSERT_TRUE(noise_write_msg1(ini, e_i, s_i, s_r.pub, ss_i, bytes_of(p1), m1.data()));
    EXPECT_EQ(hex(m1),
              "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944001e21de9f98ddd8e2ad57527207feb5"
              "6253c9c94a9e496782ecfcb2a75fbcaf1b52948cc48daefe660c62119ab5000980c84831215f2441eba616548e832985"
              "464cf17e51ee93109008399a21f7e13f");

    noise_state res = noise_initial(prologue, s_r.pub);
    public_key got_e, got_s;
    ASSERT_TRUE(noise_read_msg1_static(res, s_r, std::span<const uint8_t, 80>(m1.data(), 80), got_e, got_s));
    EXPECT_EQ(got_s, s_i.pub);
    EXPECT_EQ(got_e, e_i.pub);
    std::vector<uint8_t> pay1(p1.size());
    ASSERT_TRUE(noise_read_msg1_payload(res, ss_r, std::span<const uint8_t>(m1).subspan(80), pay1.data()));
    EXPECT_EQ(std::string(pay1.begin(), pay1.end()), p1);

    // Message 2: responder -> initiator.
    const std::string p2 = "Murray Rothbard";
    std::vector<uint8_t> m2(noise_msg2_size(p2.size()));
    ASSERT_TRUE(noise_write_msg2(res, e_r, got_e, got_s, psk, bytes_of(p2), m2.data()));
    EXPECT_EQ(hex(m2),
              "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843cb765f2caef0751b8f007572dab03222"
              "17755c0632f365717edbf34d33e87a");
    std::vector<uint8_t> pay2(p2.size());
    ASSERT_TRUE(noise_read_msg2(ini, e_i, s_i, psk, m2, pay2.data()));
    EXPECT_EQ(std::string(pay2.begin(), pay2.end()), p2);

    EXPECT_EQ(hex(ini.h), "f5191b875290abcd41347ac3622d9679688a7e980229cb937ef748336cfde0e5");
    EXPECT_EQ(ini.h, res.h);

    // Transport: the first message each way, through the data path's prepared context
    // with WireGuard's nonce for counter 0.
    key32 i_send, i_recv, r_send_first, r_send;
    noise_split(ini, i_send, i_recv);
    noise_split(res, r_send_first, r_send);
    EXPECT_EQ(i_send, r_send_first);
    struct tc {
        const key32& key;
        const char* payload;
        const char* ciphertext;
    };
    for (const tc& c : {tc{i_send, "462e20412e20486179656b", "8153ca9833bc3c1b91a7e66e5f4d4f5b59bf9e64c2f20d15f0bba7"},
                        tc{i_recv, "4361726c204d656e676572", "07af0c9c86e1b4e80f36b04ff7688d51141af3debd0332f0a705ef"}}) {
        aead_context seal;
        ASSERT_TRUE(seal.init(aead_context::mode::seal, c.key));
        auto buf = unhex(c.payload);
        buf.resize(buf.size() + 16);
        ASSERT_TRUE(seal.seal(wg_nonce(0), buf.data(), buf.size() - 16, buf.data(), buf.data() + buf.size() - 16));
        EXPECT_EQ(hex(buf), c.ciphertext);
    }

    // A flipped bit anywhere in message 2 is refused and leaves the state untouched.
    noise_state ini2 = noise_initial(prologue, s_r.pub);
    ASSERT_TRUE(noise_write_msg1(ini2, e_i, s_i, s_r.pub, ss_i, bytes_of(p1), m1.data()));
    const noise_state before = ini2;
    m2[40] ^= 1;
    EXPECT_FALSE(noise_read_msg2(ini2, e_i, s_i, psk, m2, pay2.data()));
    EXPECT_EQ(ini2.h, before.h);
    EXPECT_EQ(ini2.ck, before.ck);
}

constexpr uint64_t k_wall = 1704067200ULL * k_ns_per_s;  // 2024-01-01, any fixed wall time

// The whole WireGuard exchange — framing, indices, TAI64N, mac1, transport keys and
// first packets — against tests/unit/crypto/wireguard_kat.py, an implementation written
// independently from the whitepaper with Python's hashlib/hmac and `cryptography`.
TEST(WireguardHandshake, MatchesAnIndependentImplementationByteForByte) {
    auto key = [](uint8_t seed) {
        key32 k;
        for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(seed + 7 * i);
        return k;
    };
    const char* k_init =
        "0100000044332211bb50ff9e82a574cfbf820e97f60fb9c143ec7415cf514f8cfd98eff59e0596149c8012d193b4aa851af47ce34a"
        "5618c7c0673c2dccf004ae5a2c863e7f8f9187d0f07eebcb322940999de3c569990484d08d25afb218dc8d5067094502b062e73f30"
        "e15531a7b707a52487e1eb983f3382609dd87d89953ac052d3cd00000000000000000000000000000000";
    const char* k_resp =
        "020000008877665544332211f74e5bb7515d565274967af75d88497dc6fc7fcd607da9dd91a617db86ad01104afe239d2fc459b6a7"
        "313136f741d4f5186129b0078cefc7abef4a88bc93840c00000000000000000000000000000000";
    const local_identity ini = local_identity::from_private(key(1));
    const local_identity res = local_identity::from_private(key(2));
    const key32 psk = key(5);
    const uint64_t wall = k_wall + 123456789;
    handshake i_hs(ini, res.static_keys.pub, psk), r_hs(res, ini.static_keys.pub, psk);
    cookie_maker to_res(res.static_keys.pub), to_ini(ini.static_keys.pub);

    // Our initiation, with a fixed ephemeral, is the independent one.
    i_hs.use_ephemeral_for_test(key(3));
    message_initiation init;
    ASSERT_EQ(i_hs.create_initiation(0x11223344, wall, init), handshake_error::ok);
    std::array<uint8_t, k_initiation_size> ib{};
    serialise(init, ib);
    to_res.add_macs(ib, 0);
    EXPECT_EQ(hex(ib), k_init);

    // Our responder accepts the independent initiation and answers byte for byte.
    ASSERT_EQ(parse(unhex(k_init), init), parse_error::ok);
    initiation_prelude pre;
    ASSERT_EQ(open_initiation(res, init, pre), handshake_error::ok);
    EXPECT_EQ(pre.remote_static, ini.static_keys.pub);
    ASSERT_EQ(r_hs.consume_initiation(pre, init, 0), handshake_error::ok);
    r_hs.use_ephemeral_for_test(key(4));
    message_response resp;
    ASSERT_EQ(r_hs.create_response(0x55667788, resp), handshake_error::ok);
    std::array<uint8_t, k_response_size> rb{};
    serialise(resp, rb);
    to_ini.add_macs(rb, 0);
    EXPECT_EQ(hex(rb), k_resp);

    ASSERT_EQ(parse(unhex(k_resp), resp), parse_error::ok);
    ASSERT_EQ(i_hs.consume_response(resp), handshake_error::ok);
    session_keys ki, kr;
    ASSERT_EQ(i_hs.derive_keys(ki), handshake_error::ok);
    ASSERT_EQ(r_hs.derive_keys(kr), handshake_error::ok);
    EXPECT_EQ(hex(ki.send), "a316076be197197a1e0dccfe7ae75c6bfee56565adfb055edc242be87501b587");  // T1
    EXPECT_EQ(hex(ki.receive), "1c0be82383c43e80c763643da5dae99b3e84330b0d0f7b507d2f246aaf581f6f");  // T2
    EXPECT_EQ(kr.send, ki.receive);
    EXPECT_EQ(kr.receive, ki.send);

    // First transport message each way through the data path's keypair.
    keypair kpi, kpr;
    ASSERT_TRUE(kpi.init(ki, 0));
    ASSERT_TRUE(kpr.init(kr, 0));
    std::array<uint8_t, 48> data{};
    size_t len = 0;
    ASSERT_EQ(kpi.seal(bytes_of("hello, wireguard"), data, 0, len), transport_error::ok);
    EXPECT_EQ(hex(std::span<const uint8_t>(data.data(), len)),
              "040000008877665500000000000000001fc77f75185414ac1c5d8f22d21fbc194cd7cf1ab573e43bd5533ad7526e6472");
    std::array<uint8_t, 32> keepalive{};
    ASSERT_EQ(kpr.seal({}, keepalive, 0, len), transport_error::ok);
    EXPECT_EQ(hex(keepalive), "040000004433221100000000000000004c7f7b64237b491192ffc50dc9722415");
}

struct party {
    local_identity id;
    explicit party() : id(local_identity::from_private(x25519_generate().priv)) {}
};

// Initiation bytes from a to b, with mac1 added, and its parsed form.
struct wire_initiation {
    std::array<uint8_t, k_initiation_size> bytes{};
    message_initiation msg;
};

wire_initiation initiate(handshake& hs, cookie_maker& cm, uint32_t index, uint64_t wall, uint64_t now) {
    wire_initiation w;
    EXPECT_EQ(hs.create_initiation(index, wall, w.msg), handshake_error::ok);
    serialise(w.msg, w.bytes);
    cm.add_macs(w.bytes, now);
    EXPECT_EQ(parse(w.bytes, w.msg), parse_error::ok);
    return w;
}

TEST(WireguardHandshake, TwoInstancesAgreeOnKeysAndIndices) {
    for (bool with_psk : {false, true}) {
        SCOPED_TRACE(with_psk);
        party a, b;
        key32 psk{};
        if (with_psk) random_bytes(psk);
        handshake a_hs(a.id, b.id.static_keys.pub, psk);
        handshake b_hs(b.id, a.id.static_keys.pub, psk);
        ASSERT_TRUE(a_hs.valid());
        cookie_maker a_to_b(b.id.static_keys.pub), b_to_a(a.id.static_keys.pub);

        const wire_initiation init = initiate(a_hs, a_to_b, 0x1111, k_wall, 0);
        EXPECT_TRUE(verify_mac1(b.id.macs.mac1, init.bytes));
        EXPECT_FALSE(verify_mac1(a.id.macs.mac1, init.bytes)) << "mac1 is keyed by the receiver's key";

        initiation_prelude pre;
        ASSERT_EQ(open_initiation(b.id, init.msg, pre), handshake_error::ok);
        EXPECT_EQ(pre.remote_static, a.id.static_keys.pub) << "responder learns who calls";
        EXPECT_EQ(pre.sender_index, 0x1111u);
        ASSERT_EQ(b_hs.consume_initiation(pre, init.msg, 0), handshake_error::ok);

        message_response resp;
        ASSERT_EQ(b_hs.create_response(0x2222, resp), handshake_error::ok);
        EXPECT_EQ(resp.receiver_index, 0x1111u);
        std::array<uint8_t, k_response_size> rb{};
        serialise(resp, rb);
        b_to_a.add_macs(rb, 0);
        EXPECT_TRUE(verify_mac1(a.id.macs.mac1, rb));
        ASSERT_EQ(parse(rb, resp), parse_error::ok);
        ASSERT_EQ(a_hs.consume_response(resp), handshake_error::ok);

        session_keys ka, kb;
        ASSERT_EQ(a_hs.derive_keys(ka), handshake_error::ok);
        ASSERT_EQ(b_hs.derive_keys(kb), handshake_error::ok);
        EXPECT_TRUE(ka.initiator);
        EXPECT_FALSE(kb.initiator);
        EXPECT_EQ(ka.send, kb.receive);
        EXPECT_EQ(ka.receive, kb.send);
        EXPECT_NE(ka.send, ka.receive);
        EXPECT_EQ(ka.local_index, 0x1111u);
        EXPECT_EQ(ka.remote_index, 0x2222u);
        EXPECT_EQ(kb.local_index, 0x2222u);
        EXPECT_EQ(kb.remote_index, 0x1111u);
        // Keys derived: back to zeroed; a second derive is refused.
        EXPECT_EQ(a_hs.current_state(), handshake::state::zeroed);
        EXPECT_EQ(a_hs.derive_keys(ka), handshake_error::wrong_state);
    }
}

TEST(WireguardHandshake, ReplayedOrStaleOrFloodingInitiationsAreRefused) {
    party a, b;
    const key32 psk{};
    handshake a_hs(a.id, b.id.static_keys.pub, psk);
    handshake b_hs(b.id, a.id.static_keys.pub, psk);
    cookie_maker cm(b.id.static_keys.pub);

    const uint64_t sec = k_ns_per_s;
    const wire_initiation first = initiate(a_hs, cm, 1, k_wall, 0);
    initiation_prelude pre;
    ASSERT_EQ(open_initiation(b.id, first.msg, pre), handshake_error::ok);
    ASSERT_EQ(b_hs.consume_initiation(pre, first.msg, 10 * sec), handshake_error::ok);

    struct tc {
        const char* what;
        uint64_t wall;        // initiator's wall clock for a fresh initiation (0: replay `first`)
        uint64_t now;         // responder's monotonic clock
        handshake_error want;
    };
    const tc cases[] = {
        {"exact replay, much later", 0, 20 * sec, handshake_error::replayed_timestamp},
        {"older timestamp", k_wall - sec, 20 * sec, handshake_error::replayed_timestamp},
        {"same 2^24 ns slot", k_wall + 1000, 20 * sec, handshake_error::replayed_timestamp},
        {"newer, 10 s after the last", k_wall + sec, 20 * sec, handshake_error::ok},
        {"newer again, 5 ms later", k_wall + 2 * sec, 20 * sec + 5 * k_ns_per_ms, handshake_error::initiation_flood},
        {"newer, 20 ms later", k_wall + 3 * sec, 20 * sec + 20 * k_ns_per_ms, handshake_error::ok},
        {"the flooded one's timestamp is still usable", k_wall + 2 * sec + 500 * k_ns_per_ms, 21 * sec,
         handshake_error::replayed_timestamp},
    };
    for (const tc& c : cases) {
        SCOPED_TRACE(c.what);
        const wire_initiation w = c.wall == 0 ? first : initiate(a_hs, cm, 1, c.wall, 0);
        ASSERT_EQ(open_initiation(b.id, w.msg, pre), handshake_error::ok);
        EXPECT_EQ(b_hs.consume_initiation(pre, w.msg, c.now), c.want);
    }
}

// Re-signs a (tampered) message for `to`, so the test reaches past mac1.
template <class M>
void remac(M& m, const public_key& to) {
    std::array<uint8_t, M::k_size> b{};
    serialise(m, b);
    cookie_maker(to).add_macs(b, 0);
    ASSERT_EQ(parse(b, m), parse_error::ok);
}

TEST(WireguardHandshake, WrongKeysAndTamperingFail) {
    party a, b, c;
    key32 psk_a{}, psk_b{};
    psk_b[0] = 1;  // PSK mismatch: only message 2 can tell
    handshake a_hs(a.id, b.id.static_keys.pub, psk_a);
    handshake b_hs(b.id, a.id.static_keys.pub, psk_b);
    handshake c_hs(c.id, a.id.static_keys.pub, psk_a);
    cookie_maker cm(b.id.static_keys.pub);

    wire_initiation init = initiate(a_hs, cm, 5, k_wall, 0);
    initiation_prelude pre;
    // Sent to b, opened by c: mac1 (keyed by b's public key) stops it before any DH; with
    // a mac1 made for c, c still cannot decrypt a's static key.
    EXPECT_EQ(open_initiation(c.id, init.msg, pre), handshake_error::invalid_mac1);
    message_initiation for_c = init.msg;
    remac(for_c, c.id.static_keys.pub);
    EXPECT_EQ(open_initiation(c.id, for_c, pre), handshake_error::decrypt_failed);
    // b opens it, but b's handshake for peer c refuses a prelude that names a.
    ASSERT_EQ(open_initiation(b.id, init.msg, pre), handshake_error::ok);
    handshake b_for_c(b.id, c.id.static_keys.pub, psk_a);
    EXPECT_EQ(b_for_c.consume_initiation(pre, init.msg, 0), handshake_error::unknown_peer);
    // Tampered timestamp: static opens, timestamp does not.
    message_initiation bad = init.msg;
    bad.encrypted_timestamp[3] ^= 1;
    EXPECT_EQ(open_initiation(b.id, bad, pre), handshake_error::invalid_mac1) << "mac1 covers it";
    remac(bad, b.id.static_keys.pub);
    ASSERT_EQ(open_initiation(b.id, bad, pre), handshake_error::ok);
    EXPECT_EQ(b_hs.consume_initiation(pre, bad, 0), handshake_error::decrypt_failed);
    bad = init.msg;
    bad.encrypted_static[0] ^= 1;
    remac(bad, b.id.static_keys.pub);
    EXPECT_EQ(open_initiation(b.id, bad, pre), handshake_error::decrypt_failed);

    ASSERT_EQ(open_initiation(b.id, init.msg, pre), handshake_error::ok);
    ASSERT_EQ(b_hs.consume_initiation(pre, init.msg, 0), handshake_error::ok);
    message_response resp;
    ASSERT_EQ(b_hs.create_response(6, resp), handshake_error::ok);
    message_response wrong_index = resp;
    wrong_index.receiver_index = 99;
    EXPECT_EQ(a_hs.consume_response(wrong_index), handshake_error::wrong_receiver_index);
    EXPECT_EQ(a_hs.consume_response(resp), handshake_error::invalid_mac1) << "no mac1 yet";
    remac(resp, a.id.static_keys.pub);
    EXPECT_EQ(a_hs.consume_response(resp), handshake_error::decrypt_failed) << "PSK mismatch";
    EXPECT_EQ(a_hs.current_state(), handshake::state::created_initiation) << "a forged response changes nothing";

    // State machine: responses only after initiations, etc.
    handshake fresh(a.id, b.id.static_keys.pub, psk_a);
    EXPECT_EQ(fresh.consume_response(resp), handshake_error::wrong_state);
    EXPECT_EQ(fresh.create_response(1, resp), handshake_error::wrong_state);
    session_keys k;
    EXPECT_EQ(fresh.derive_keys(k), handshake_error::wrong_state);

    // A small-order peer key makes the static-static DH zero: the peer is unusable.
    handshake zero(a.id, public_key{}, psk_a);
    EXPECT_FALSE(zero.valid());
    message_initiation out;
    EXPECT_EQ(zero.create_initiation(1, k_wall, out), handshake_error::invalid_peer);
    EXPECT_STREQ(to_string(handshake_error::replayed_timestamp), "replayed_timestamp");
}

}  // namespace
}  // namespace eg::crypto
