// Per-peer timers driven by a number we pass as the clock: keepalives, the 15 s new
// handshake, retransmits until giving up, key wiping after 540 s, rekey rules.
#include "crypto/timers.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "crypto/transport.hpp"

namespace eg::crypto {
namespace {

constexpr uint64_t s = k_ns_per_s;
constexpr uint64_t ms = k_ns_per_ms;
constexpr uint64_t j = k_rekey_timeout_jitter_max;  // past any jitter

enum class op { data_sent, data_received, auth_sent, auth_received, hs_initiated, hs_complete, derived, poll };
using A = timer_actions;

struct step {
    uint64_t at;
    op what;
    uint8_t want = 0;  // for poll
};

void run(peer_timers& t, const std::vector<step>& steps) {
    int n = 0;
    for (const step& st : steps) {
        ++n;
        switch (st.what) {
            case op::data_sent: t.on_data_sent(st.at); break;
            case op::data_received: t.on_data_received(st.at); break;
            case op::auth_sent: t.on_authenticated_packet_sent(st.at); break;
            case op::auth_received: t.on_authenticated_packet_received(st.at); break;
            case op::hs_initiated: t.on_handshake_initiated(st.at); break;
            case op::hs_complete: t.on_handshake_complete(st.at); break;
            case op::derived: t.on_session_derived(st.at); break;
            case op::poll: EXPECT_EQ(int(t.poll(st.at).bits), int(st.want)) << "step " << n << " at " << st.at; break;
        }
    }
}

TEST(WireguardTimers, KeepaliveAndNewHandshakeTable) {
    peer_timers t(1);
    run(t, {
               // Data received, nothing sent back: a keepalive after 10 s.
               {0, op::data_received},
               {5 * s, op::poll, 0},
               {10 * s - 1, op::poll, 0},
               {10 * s, op::poll, A::send_keepalive},
               {10 * s, op::auth_sent},
               // Sending anything authenticated cancels the pending keepalive.
               {11 * s, op::data_received},
               {12 * s, op::auth_sent},
               {21 * s, op::poll, 0},
               // Two receives while armed: one more keepalive is owed after the first.
               {30 * s, op::data_received},
               {31 * s, op::data_received},
               {40 * s, op::poll, A::send_keepalive},
               {49 * s, op::poll, 0},
               {50 * s, op::poll, A::send_keepalive},
               // Data sent, an authenticated reply within 15 s: no new handshake.
               {60 * s, op::data_sent},
               {70 * s, op::auth_received},
               {80 * s, op::poll, 0},
               // Data sent and silence: a new handshake after 15 s (+ jitter), and the
               // cached source address is forgotten.
               {100 * s, op::data_sent},
               {105 * s, op::data_sent},  // does not push the deadline out
               {115 * s - 1, op::poll, 0},
               {115 * s + j, op::poll, A::send_initiation | A::clear_endpoint_source},
           });
}

TEST(WireguardTimers, NewHandshakeJitterStaysInRange) {
    for (uint64_t seed = 0; seed < 200; ++seed) {
        peer_timers t(seed);
        t.on_data_sent(1000);
        const uint64_t d = t.new_handshake_deadline() - 1000;
        ASSERT_GE(d, k_keepalive_timeout + k_rekey_timeout);
        ASSERT_LT(d, k_keepalive_timeout + k_rekey_timeout + k_rekey_timeout_jitter_max);
        t.on_handshake_initiated(1000);
        ASSERT_GE(t.retransmit_deadline() - 1000, k_rekey_timeout);
        ASSERT_LT(t.retransmit_deadline() - 1000, k_rekey_timeout + k_rekey_timeout_jitter_max);
    }
}

TEST(WireguardTimers, RetransmitsUntilGivingUpThenWipes) {
    peer_timers t(7);
    t.on_handshake_initiated(0);
    uint32_t retries = 0;
    uint64_t now = 0;
    for (;;) {
        now = t.retransmit_deadline();
        ASSERT_NE(now, peer_timers::k_never);
        EXPECT_EQ(int(t.poll(now - 1).bits), 0);
        const timer_actions a = t.poll(now);
        if (a.has(timer_actions::drop_staged)) {
            EXPECT_FALSE(a.has(timer_actions::send_initiation));
            break;
        }
        ASSERT_TRUE(a.has(timer_actions::send_initiation));
        EXPECT_TRUE(a.has(timer_actions::clear_endpoint_source));
        ++retries;
        t.on_handshake_initiated(now);
        ASSERT_LT(retries, 100u);
    }
    // Kernel semantics: give up once attempts exceed MAX_TIMER_HANDSHAKES (18), i.e.
    // after 19 retries, about REKEY_ATTEMPT_TIME (90 s) plus one REKEY_TIMEOUT later.
    EXPECT_EQ(retries, k_max_timer_handshakes + 1);
    EXPECT_GE(now, k_rekey_attempt_time + k_rekey_timeout);
    EXPECT_LT(now, k_rekey_attempt_time + 2 * k_rekey_timeout + 20 * j);
    EXPECT_EQ(t.retransmit_deadline(), peer_timers::k_never) << "no more tries";
    EXPECT_EQ(t.zero_keys_deadline(), now + k_zero_keys_after);
    EXPECT_EQ(int(t.poll(now + k_zero_keys_after - 1).bits), 0);
    EXPECT_EQ(int(t.poll(now + k_zero_keys_after).bits), int(timer_actions::wipe_keys));
    EXPECT_EQ(t.next_deadline(), peer_timers::k_never);
}

TEST(WireguardTimers, HandshakeCompleteStopsRetriesAndKeysAreWipedAfter540s) {
    peer_timers t(3);
    run(t, {
               {0, op::hs_initiated},
               {5 * s + j, op::poll, A::send_initiation | A::clear_endpoint_source},
               {5 * s + j, op::hs_initiated},
               {6 * s, op::hs_complete},
               {6 * s, op::derived},
               {20 * s, op::poll, 0},
               {6 * s + 540 * s - 1, op::poll, 0},
               {6 * s + 540 * s, op::poll, A::wipe_keys},
               // A later session pushes the wipe out.
               {600 * s, op::derived},
               {700 * s, op::derived},
               {600 * s + 540 * s, op::poll, 0},
               {700 * s + 540 * s, op::poll, A::wipe_keys},
           });
    EXPECT_EQ(t.handshake_attempts(), 0u);
}

std::unique_ptr<keypair> kp(bool initiator, uint64_t birth) {
    session_keys k;
    k.send.fill(1);
    k.receive.fill(2);
    k.initiator = initiator;
    auto p = std::make_unique<keypair>();
    EXPECT_TRUE(p->init(k, birth));
    return p;
}

TEST(WireguardTimers, RekeyRulesOnSendAndReceive) {
    const uint64_t t0 = 1000 * s;
    const auto ini = kp(true, t0);
    const auto res = kp(false, t0);
    struct tc {
        const char* what;
        const keypair* current;
        uint64_t now;
        bool want;
    };
    const tc send_cases[] = {
        {"no session", nullptr, t0, true},
        {"fresh initiator key", ini.get(), t0 + 119 * s, false},
        {"initiator key at 120 s", ini.get(), t0 + 120 * s, true},
        {"responder key at 120 s", res.get(), t0 + 120 * s, false},
        {"responder key expired at 180 s", res.get(), t0 + 180 * s, true},
    };
    for (const tc& c : send_cases) {
        SCOPED_TRACE(c.what);
        peer_timers t(1);  // fresh: no rate limit in play
        EXPECT_EQ(t.on_send_attempt(c.current, c.now).has(timer_actions::send_initiation), c.want);
    }
    // Rate limit: one initiation per REKEY_TIMEOUT.
    peer_timers t(1);
    EXPECT_TRUE(t.on_send_attempt(nullptr, t0).has(timer_actions::send_initiation));
    t.on_handshake_initiated(t0);
    EXPECT_TRUE(t.on_send_attempt(nullptr, t0 + 4 * s).none());
    EXPECT_TRUE(t.on_send_attempt(nullptr, t0 + 5 * s).has(timer_actions::send_initiation));

    // Receive side: the initiator's last-minute rekey at 165 s, once per handshake.
    peer_timers r(2);
    EXPECT_TRUE(r.on_receive_check(ini.get(), t0 + 164 * s).none());
    EXPECT_TRUE(r.on_receive_check(res.get(), t0 + 170 * s).none()) << "responder never";
    EXPECT_TRUE(r.on_receive_check(ini.get(), t0 + 165 * s).has(timer_actions::send_initiation));
    r.on_handshake_initiated(t0 + 165 * s);
    EXPECT_TRUE(r.on_receive_check(ini.get(), t0 + 171 * s).none()) << "only once";
    r.on_handshake_complete(t0 + 172 * s);
    EXPECT_TRUE(r.on_receive_check(ini.get(), t0 + 178 * s).has(timer_actions::send_initiation))
        << "re-armed by a completed handshake";
}

TEST(WireguardTimers, PersistentKeepalive) {
    peer_timers t(5, 25 * s);
    EXPECT_EQ(t.next_deadline(), peer_timers::k_never);
    t.on_authenticated_packet_traversal(0);
    EXPECT_TRUE(t.poll(25 * s - 1).none());
    t.on_authenticated_packet_traversal(10 * s);  // re-armed by traffic
    EXPECT_TRUE(t.poll(25 * s).none());
    EXPECT_EQ(int(t.poll(35 * s).bits), int(timer_actions::send_keepalive));
    peer_timers off(5);
    off.on_authenticated_packet_traversal(0);
    EXPECT_EQ(off.next_deadline(), peer_timers::k_never);
}

}  // namespace
}  // namespace eg::crypto
