// Transport: the replay window as a table (the kernel's / wireguard-go's cases), sealing
// and opening with padding, keepalives, limits, keypair rotation, and a full handshake
// between two instances of ours followed by data both ways.
#include "crypto/transport.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "crypto/cookie.hpp"
#include "crypto/keypairs.hpp"
#include "tests/unit/crypto/test_hex.hpp"

namespace eg::crypto {
namespace {

TEST(WireguardReplayWindow, KernelSelftestTable) {
    // drivers/net/wireguard/selftest/counter.c as ported in wireguard-go
    // replay/replay_test.go, with its limit 2^64 - 2^4 - 1.
    const uint64_t lim = replay_window::k_window + 1;
    const uint64_t rej = ~0ULL - (1ULL << 4);
    struct tc {
        uint64_t counter;
        bool accept;
    };
    const tc cases[] = {
        {0, true},                       {1, true},                        // in order
        {1, false},                                                        // duplicate
        {9, true},                       {8, true},      {7, true},        // out of order within window
        {7, false},                      {lim, true},    {lim - 1, true},  // window jump
        {lim - 1, false},                {lim - 2, true},                  //
        {2, true},                                                         // oldest still inside
        {2, false},                      {lim + 16, true},                 //
        {3, false},                                                        // now too old
        {lim + 16, false},               {lim * 4, true},                  // big jump
        {lim * 4 - (lim - 1), true},     {10, false},                      //
        {lim * 4 - lim, false},          {lim * 4 - (lim + 1), false},     //
        {lim * 4 - (lim - 2), true},     {lim * 4 + 1 - lim, false},       //
        {0, false},                                                        //
        {rej, false},                    {rej - 1, true},                  // counter limit
        {rej, false},                    {rej - 1, false},               {rej - 2, true},
        {rej + 1, false},                {rej + 2, false},               {rej - 2, false},
        {rej - 3, true},                 {0, false},
    };
    replay_window w;
    int n = 0;
    for (const tc& c : cases) {
        ++n;
        EXPECT_EQ(w.check_and_update(c.counter, rej), c.accept) << "case " << n << " counter " << c.counter;
    }
}

TEST(WireguardReplayWindow, BulkEdges) {
    const uint64_t ws = replay_window::k_window;
    {
        replay_window w;  // the whole window in order, then the oldest
        for (uint64_t i = 1; i <= ws; ++i) ASSERT_TRUE(w.check_and_update(i));
        EXPECT_TRUE(w.check_and_update(0));
        EXPECT_FALSE(w.check_and_update(0));
    }
    {
        replay_window w;  // one past: 0 falls out
        for (uint64_t i = 2; i <= ws + 1; ++i) ASSERT_TRUE(w.check_and_update(i));
        EXPECT_TRUE(w.check_and_update(1));
        EXPECT_FALSE(w.check_and_update(0));
    }
    {
        replay_window w;  // backwards through the whole window
        for (uint64_t i = ws + 1; i > 0; --i) ASSERT_TRUE(w.check_and_update(i));
    }
    {
        replay_window w;
        for (uint64_t i = ws + 2; i > 1; --i) ASSERT_TRUE(w.check_and_update(i));
        EXPECT_FALSE(w.check_and_update(0));
    }
    {
        replay_window w;
        for (uint64_t i = ws; i > 0; --i) ASSERT_TRUE(w.check_and_update(i));
        EXPECT_TRUE(w.check_and_update(ws + 1));
        EXPECT_FALSE(w.check_and_update(0));
    }
    {
        replay_window w;  // would_accept agrees and does not mark
        EXPECT_TRUE(w.would_accept(5));
        EXPECT_TRUE(w.would_accept(5));
        EXPECT_TRUE(w.check_and_update(5));
        EXPECT_FALSE(w.would_accept(5));
        EXPECT_FALSE(w.would_accept(k_reject_after_messages));
        EXPECT_EQ(w.greatest(), 5u);
    }
}

session_keys pair_keys(bool initiator, uint32_t local, uint32_t remote) {
    session_keys k;
    for (int i = 0; i < 32; ++i) {
        k.send[i] = uint8_t(initiator ? i : 100 + i);
        k.receive[i] = uint8_t(initiator ? 100 + i : i);
    }
    k.initiator = initiator;
    k.local_index = local;
    k.remote_index = remote;
    return k;
}

TEST(WireguardTransport, PaddingSizes) {
    struct tc {
        size_t n, mtu, padded;
    };
    for (const tc c : {tc{0, 0, 0}, tc{1, 0, 16}, tc{16, 0, 16}, tc{17, 0, 32}, tc{1419, 1420, 1420},
                       tc{1420, 1420, 1420}, tc{1415, 1418, 1418}, tc{1500, 1420, 1500}, tc{100, 1420, 112}}) {
        EXPECT_EQ(padded_size(c.n, c.mtu), c.padded) << c.n << "/" << c.mtu;
    }
    EXPECT_EQ(sealed_size(0), k_transport_min_size);
}

TEST(WireguardTransport, SealOpenBothWaysWithPaddingAndKeepalive) {
    keypair a, b;
    ASSERT_TRUE(a.init(pair_keys(true, 1, 2), 0));
    ASSERT_TRUE(b.init(pair_keys(false, 2, 1), 0));
    for (size_t n : {size_t(0), size_t(1), size_t(15), size_t(16), size_t(64), size_t(1420)}) {
        SCOPED_TRACE(n);
        std::vector<uint8_t> pt(n);
        for (size_t i = 0; i < n; ++i) pt[i] = uint8_t(i * 7);
        std::vector<uint8_t> wire(sealed_size(n) + 8);
        size_t len = 0;
        ASSERT_EQ(a.seal(pt, wire, 1, len), transport_error::ok);
        ASSERT_EQ(len, sealed_size(n));
        EXPECT_EQ(len % 16, 0u);
        EXPECT_EQ(wire[0], 4);
        EXPECT_EQ(load_le32(&wire[4]), 2u) << "receiver index = the peer's";
        std::span<uint8_t> out;
        ASSERT_EQ(b.open(std::span<uint8_t>(wire.data(), len), 1, out), transport_error::ok);
        ASSERT_EQ(out.size(), padded_size(n));
        EXPECT_TRUE(std::equal(pt.begin(), pt.end(), out.begin()));
        EXPECT_TRUE(std::all_of(out.begin() + long(n), out.end(), [](uint8_t x) { return x == 0; }));
    }
    // In place: plaintext already at out + 16.
    std::vector<uint8_t> buf(sealed_size(5));
    std::memcpy(buf.data() + 16, "hello", 5);
    size_t len = 0;
    ASSERT_EQ(b.seal(std::span<const uint8_t>(buf.data() + 16, 5), buf, 1, len), transport_error::ok);
    std::span<uint8_t> out;
    ASSERT_EQ(a.open(buf, 1, out), transport_error::ok);
    EXPECT_EQ(std::string(out.begin(), out.begin() + 5), "hello");
    EXPECT_EQ(a.send_counter(), 6u);
    EXPECT_EQ(b.send_counter(), 1u);
}

TEST(WireguardTransport, RefusalsTable) {
    keypair a, b;
    ASSERT_TRUE(a.init(pair_keys(true, 1, 2), 0));
    ASSERT_TRUE(b.init(pair_keys(false, 2, 1), 0));
    std::vector<uint8_t> m(sealed_size(32));
    size_t len = 0;
    ASSERT_EQ(a.seal(std::vector<uint8_t>(32, 1), m, 0, len), transport_error::ok);
    const std::vector<uint8_t> good = m;

    struct tc {
        const char* what;
        void (*mutate)(std::vector<uint8_t>&);
        uint64_t now;
        transport_error want;
    };
    const tc cases[] = {
        {"tag bit", [](std::vector<uint8_t>& p) { p.back() ^= 1; }, 0, transport_error::authentication_failed},
        {"ciphertext bit", [](std::vector<uint8_t>& p) { p[20] ^= 1; }, 0, transport_error::authentication_failed},
        {"counter changed", [](std::vector<uint8_t>& p) { p[8] ^= 1; }, 0, transport_error::authentication_failed},
        {"receiver index", [](std::vector<uint8_t>& p) { p[4] ^= 1; }, 0, transport_error::wrong_receiver},
        {"reserved byte", [](std::vector<uint8_t>& p) { p[1] = 1; }, 0, transport_error::malformed},
        {"too short", [](std::vector<uint8_t>& p) { p.resize(31); }, 0, transport_error::malformed},
        {"key too old", [](std::vector<uint8_t>&) {}, k_reject_after_time, transport_error::key_expired},
        {"counter at REJECT_AFTER_MESSAGES",
         [](std::vector<uint8_t>& p) { store_le64(&p[8], k_reject_after_messages); }, 0,
         transport_error::counter_exhausted},
        {"genuine", [](std::vector<uint8_t>&) {}, k_reject_after_time - 1, transport_error::ok},
        {"duplicate", [](std::vector<uint8_t>&) {}, 0, transport_error::replayed},
    };
    for (const tc& c : cases) {
        SCOPED_TRACE(c.what);
        std::vector<uint8_t> p = good;
        c.mutate(p);
        std::span<uint8_t> out;
        EXPECT_EQ(b.open(p, c.now, out), c.want);
    }
    // A forged packet with a fresh counter does not consume that counter.
    std::vector<uint8_t> m2(sealed_size(0));
    ASSERT_EQ(a.seal({}, m2, 0, len), transport_error::ok);
    std::vector<uint8_t> forged = m2;
    forged.back() ^= 1;
    std::span<uint8_t> out;
    EXPECT_EQ(b.open(forged, 0, out), transport_error::authentication_failed);
    EXPECT_EQ(b.open(m2, 0, out), transport_error::ok);
    EXPECT_TRUE(out.empty()) << "keepalive";

    // Send-side limits.
    EXPECT_EQ(a.seal({}, m2, k_reject_after_time, len), transport_error::key_expired);
    std::vector<uint8_t> small(sealed_size(32) - 1);
    EXPECT_EQ(a.seal(std::vector<uint8_t>(32), small, 0, len), transport_error::buffer_too_small);
    a.set_send_counter_for_test(k_reject_after_messages - 1);
    EXPECT_EQ(a.seal({}, m2, 0, len), transport_error::ok);
    EXPECT_EQ(a.seal({}, m2, 0, len), transport_error::counter_exhausted);
    EXPECT_EQ(b.open(m2, 0, out), transport_error::ok) << "the last usable counter is accepted";
    EXPECT_STREQ(to_string(transport_error::replayed), "replayed");
}

TEST(WireguardTransport, RekeyRuleOnSend) {
    keypair i, r;
    ASSERT_TRUE(i.init(pair_keys(true, 1, 2), 1000));
    ASSERT_TRUE(r.init(pair_keys(false, 2, 1), 1000));
    EXPECT_FALSE(i.wants_rekey_on_send(1000 + k_rekey_after_time - 1));
    EXPECT_TRUE(i.wants_rekey_on_send(1000 + k_rekey_after_time));
    EXPECT_FALSE(r.wants_rekey_on_send(1000 + k_rekey_after_time)) << "only the initiator rekeys on time";
    r.set_send_counter_for_test(k_rekey_after_messages + 1);
    EXPECT_TRUE(r.wants_rekey_on_send(1000));
}

std::unique_ptr<keypair> make(bool initiator, uint32_t local, uint32_t remote) {
    auto kp = std::make_unique<keypair>();
    EXPECT_TRUE(kp->init(pair_keys(initiator, local, remote), 0));
    return kp;
}

TEST(WireguardKeypairs, RotationKeepsOldKeysUntilConfirmed) {
    peer_keypairs slots;
    // Responder: a new keypair waits in next and is not used for sending.
    slots.install(make(false, 10, 1));
    EXPECT_EQ(slots.current(), nullptr);
    keypair* n = slots.next();
    ASSERT_NE(n, nullptr);
    EXPECT_FALSE(slots.received_with(slots.find(99)));
    EXPECT_TRUE(slots.received_with(n)) << "first packet under next confirms it";
    EXPECT_EQ(slots.current(), n);
    EXPECT_EQ(slots.next(), nullptr);
    EXPECT_FALSE(slots.received_with(n)) << "only once";

    // Rekey as responder again: current keeps sending, the new one waits.
    slots.install(make(false, 11, 2));
    EXPECT_EQ(slots.current(), n);
    EXPECT_EQ(slots.find(11), slots.next());
    peer_keypairs::dropped d;
    EXPECT_TRUE(slots.received_with(slots.next(), &d));
    EXPECT_EQ(slots.current()->local_index(), 11u);
    EXPECT_EQ(slots.previous(), n) << "the old current still opens packets in flight";
    EXPECT_EQ(d.count, 0u);

    // Now we initiate: the new keypair is current at once; old current -> previous,
    // old previous dropped.
    d = slots.install(make(true, 12, 3));
    EXPECT_EQ(slots.current()->local_index(), 12u);
    EXPECT_EQ(slots.previous()->local_index(), 11u);
    ASSERT_EQ(d.count, 1u);
    EXPECT_EQ(d.index[0], 10u);
    EXPECT_EQ(slots.find(10), nullptr);

    // Responder install with an unconfirmed next, then we initiate: next becomes previous.
    slots.install(make(false, 13, 4));  // drops previous (11)
    EXPECT_EQ(slots.previous(), nullptr);
    d = slots.install(make(true, 14, 5));
    EXPECT_EQ(slots.current()->local_index(), 14u);
    EXPECT_EQ(slots.previous()->local_index(), 13u);
    EXPECT_EQ(slots.next(), nullptr);
    ASSERT_EQ(d.count, 1u);
    EXPECT_EQ(d.index[0], 12u);

    d = slots.clear();
    EXPECT_EQ(d.count, 2u);
    EXPECT_EQ(slots.find(14), nullptr);
}

// Two instances of ours: handshake, then data both ways, then a rekey that loses nothing.
TEST(WireguardSession, FullHandshakeThenTransportBothWays) {
    const local_identity a = local_identity::from_private(x25519_generate().priv);
    const local_identity b = local_identity::from_private(x25519_generate().priv);
    key32 psk;
    random_bytes(psk);
    handshake a_hs(a, b.static_keys.pub, psk), b_hs(b, a.static_keys.pub, psk);
    peer_keypairs a_slots, b_slots;
    cookie_maker a_to_b(b.static_keys.pub), b_to_a(a.static_keys.pub);
    const uint64_t wall = 1704067200ULL * k_ns_per_s;

    auto run_handshake = [&](uint32_t ai, uint32_t bi, uint64_t now) {
        message_initiation init;
        ASSERT_EQ(a_hs.create_initiation(ai, wall + now, init), handshake_error::ok);
        std::array<uint8_t, k_initiation_size> ib{};
        serialise(init, ib);
        a_to_b.add_macs(ib, now);
        ASSERT_EQ(parse(ib, init), parse_error::ok);
        initiation_prelude pre;
        ASSERT_EQ(open_initiation(b, init, pre), handshake_error::ok);
        ASSERT_EQ(b_hs.consume_initiation(pre, init, now), handshake_error::ok);
        message_response resp;
        ASSERT_EQ(b_hs.create_response(bi, resp), handshake_error::ok);
        std::array<uint8_t, k_response_size> rb{};
        serialise(resp, rb);
        b_to_a.add_macs(rb, now);
        ASSERT_EQ(parse(rb, resp), parse_error::ok);
        ASSERT_EQ(a_hs.consume_response(resp), handshake_error::ok);
        session_keys ka, kb;
        ASSERT_EQ(a_hs.derive_keys(ka), handshake_error::ok);
        ASSERT_EQ(b_hs.derive_keys(kb), handshake_error::ok);
        auto kpa = std::make_unique<keypair>();
        auto kpb = std::make_unique<keypair>();
        ASSERT_TRUE(kpa->init(ka, now));
        ASSERT_TRUE(kpb->init(kb, now));
        a_slots.install(std::move(kpa));
        b_slots.install(std::move(kpb));
    };
    // Sends from one side, receives on the other by receiver-index lookup.
    auto deliver = [](keypair* from, peer_keypairs& to, const std::string& text, uint64_t now) -> std::string {
        std::vector<uint8_t> wire(sealed_size(text.size()));
        size_t len = 0;
        if (from->seal(test::bytes_of(text), wire, now, len) != transport_error::ok) return "<seal failed>";
        transport_header h;
        if (parse(std::span<const uint8_t>(wire.data(), len), h) != parse_error::ok) return "<parse>";
        keypair* kp = to.find(h.receiver_index);
        if (kp == nullptr) return "<no keypair>";
        std::span<uint8_t> pt;
        if (kp->open(std::span<uint8_t>(wire.data(), len), now, pt) != transport_error::ok) return "<open failed>";
        to.received_with(kp);
        return std::string(pt.begin(), pt.begin() + long(text.size()));
    };

    run_handshake(0xa1, 0xb1, 0);
    ASSERT_NE(a_slots.current(), nullptr) << "initiator may send at once";
    EXPECT_EQ(b_slots.current(), nullptr) << "responder waits for confirmation";
    EXPECT_EQ(deliver(a_slots.current(), b_slots, "", 1), "") << "keepalive confirms";
    ASSERT_NE(b_slots.current(), nullptr);
    EXPECT_EQ(deliver(a_slots.current(), b_slots, "ping from a", 2), "ping from a");
    EXPECT_EQ(deliver(b_slots.current(), a_slots, "pong from b", 3), "pong from b");

    // Rekey: a packet b sent under the old keypair and still in flight opens after it.
    std::vector<uint8_t> in_flight(sealed_size(4));
    size_t len = 0;
    ASSERT_EQ(b_slots.current()->seal(test::bytes_of("late"), in_flight, 4, len), transport_error::ok);
    run_handshake(0xa2, 0xb2, k_rekey_after_time);
    EXPECT_EQ(a_slots.current()->local_index(), 0xa2u);
    EXPECT_EQ(b_slots.current()->local_index(), 0xb1u) << "b keeps sending on the confirmed keypair";
    EXPECT_EQ(deliver(b_slots.current(), a_slots, "old key still fine", k_rekey_after_time + 1),
              "old key still fine");
    transport_header h;
    ASSERT_EQ(parse(in_flight, h), parse_error::ok);
    std::span<uint8_t> pt;
    ASSERT_NE(a_slots.find(h.receiver_index), nullptr);
    EXPECT_EQ(a_slots.find(h.receiver_index)->open(in_flight, k_rekey_after_time + 1, pt), transport_error::ok);
    EXPECT_EQ(deliver(a_slots.current(), b_slots, "new key", k_rekey_after_time + 2), "new key");
    EXPECT_EQ(b_slots.current()->local_index(), 0xb2u) << "confirmed by the first packet under it";
    EXPECT_EQ(deliver(b_slots.current(), a_slots, "both on new", k_rekey_after_time + 3), "both on new");
}

}  // namespace
}  // namespace eg::crypto
