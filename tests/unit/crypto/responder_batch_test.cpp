// respond_batch (crypto/responder_batch.hpp) against the sequential responder
// (open_initiation → lookup → consume_initiation → create_response, one initiation at a
// time): for the same queue and the same injected ephemerals, every initiation gets the
// same error, and every accepted one the same response bytes and session keys —
// with mixed valid and invalid initiations, one peer twice in a queue, and through
// both X25519 paths (IFMA where this CPU has it, libsodium everywhere).
#include "crypto/responder_batch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "crypto/cookie.hpp"

namespace eg::crypto {
namespace {

constexpr uint64_t k_wall = 1704067200ULL * k_ns_per_s;
constexpr uint64_t k_t0 = 1000 * k_ns_per_s;

private_key key_of(uint8_t seed) {
    private_key k;
    for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(seed * 31 + i * 7 + 1);
    return k;
}

struct outcome {
    handshake_error e = handshake_error::ok;
    int peer = -1;  ///< index into the world's peers, -1 = none
    std::array<uint8_t, k_response_size> response{};
    session_keys keys{};
    bool operator==(const outcome& o) const {
        return e == o.e && peer == o.peer && response == o.response && keys.send == o.keys.send &&
               keys.receive == o.keys.receive && keys.local_index == o.keys.local_index &&
               keys.remote_index == o.keys.remote_index;
    }
};

/// One responder with its peers: the sequential reference and the batch each get one,
/// built alike, so their handshakes start from the same state.
struct world : responder_sink {
    local_identity id = local_identity::from_private(key_of(200));
    std::vector<std::unique_ptr<handshake>> peers;
    std::map<public_key, int> by_key;
    std::vector<outcome> results;
    uint32_t next_index = 1000;

    explicit world(const std::vector<public_key>& peer_keys) {
        for (const public_key& pk : peer_keys) {
            by_key[pk] = int(peers.size());
            peers.push_back(std::make_unique<handshake>(id, pk, key32{}));
        }
    }
    int index_of(const handshake* hs) const {
        for (size_t i = 0; i < peers.size(); ++i)
            if (peers[i].get() == hs) return int(i);
        return -1;
    }
    /// Ephemerals for the responses, per peer, in the order they will be used.
    void inject(int peer, uint8_t seed) { peers[size_t(peer)]->use_ephemeral_for_test(key_of(seed)); }

    handshake* find_peer(const public_key& remote_static) override {
        const auto it = by_key.find(remote_static);
        return it == by_key.end() ? nullptr : peers[size_t(it->second)].get();
    }
    uint32_t new_index(handshake&) override { return next_index++; }
    void done(size_t i, handshake_error e, handshake* hs, const message_response* r) override {
        EXPECT_EQ(i, results.size()) << "reported in arrival order";
        outcome o;
        o.e = e;
        o.peer = index_of(hs);
        if (r) {
            EXPECT_EQ(e, handshake_error::ok);
            serialise(*r, o.response);
            EXPECT_EQ(hs->derive_keys(o.keys), handshake_error::ok);
        }
        results.push_back(o);
    }

    /// The sequential responder, written out as the service did before batching.
    void respond_sequentially(const std::vector<queued_initiation>& q) {
        for (const queued_initiation& qi : q) {
            outcome o;
            initiation_prelude pre;
            o.e = open_initiation(id, qi.msg, pre);
            if (o.e == handshake_error::ok) {
                handshake* hs = find_peer(pre.remote_static);
                o.peer = index_of(hs);
                if (!hs) {
                    o.e = handshake_error::unknown_peer;
                } else if ((o.e = hs->consume_initiation(pre, qi.msg, qi.now)) == handshake_error::ok) {
                    message_response r;
                    o.e = hs->create_response(new_index(*hs), r);
                    if (o.e == handshake_error::ok) {
                        serialise(r, o.response);
                        EXPECT_EQ(hs->derive_keys(o.keys), handshake_error::ok);
                    }
                }
            }
            pre.wipe();
            results.push_back(o);
        }
    }
};

/// Initiators calling the responder of key_of(200).
struct callers {
    std::vector<local_identity> ids;
    std::vector<std::unique_ptr<handshake>> hs;
    public_key responder = local_identity::from_private(key_of(200)).static_keys.pub;

    explicit callers(size_t n) {
        for (size_t i = 0; i < n; ++i) ids.push_back(local_identity::from_private(key_of(uint8_t(i + 1))));
        for (size_t i = 0; i < n; ++i) hs.push_back(std::make_unique<handshake>(ids[i], responder, key32{}));
    }
    std::vector<public_key> keys(size_t n) const {
        std::vector<public_key> v;
        for (size_t i = 0; i < n; ++i) v.push_back(ids[i].static_keys.pub);
        return v;
    }
    /// Caller c's initiation with timestamp `second`, arriving at `now`, with mac1; `mutate`
    /// changes the bytes before the macs are (re)written.
    template <class F>
    queued_initiation make(size_t c, uint64_t second, uint64_t now, F mutate) {
        message_initiation m;
        hs[c]->use_ephemeral_for_test(key_of(uint8_t(100 + c)));
        EXPECT_EQ(hs[c]->create_initiation(uint32_t(0x100 + c), k_wall + second * k_ns_per_s, m),
                  handshake_error::ok);
        std::array<uint8_t, k_initiation_size> b;
        serialise(m, b);
        mutate(b);
        cookie_maker(responder).add_macs(b, now);
        queued_initiation q;
        EXPECT_EQ(parse(b, q.msg), parse_error::ok);
        q.now = now;
        return q;
    }
    queued_initiation make(size_t c, uint64_t second, uint64_t now) {
        return make(c, second, now, [](auto&) {});
    }
};

std::vector<x25519_batch_path> paths() {
    std::vector<x25519_batch_path> v{x25519_batch_path::sodium};
    if (x25519_batch_default_path() == x25519_batch_path::ifma) v.push_back(x25519_batch_path::ifma);
    return v;
}

TEST(WireguardResponderBatch, DistinctPeersGetTheSequentialResponsesAndKeysByteForByte) {
    for (size_t n : {2u, 8u, 9u, 16u, 64u}) {
        for (x25519_batch_path path : paths()) {
            SCOPED_TRACE(testing::Message() << n << " initiations, path " << int(path));
            callers c(n);
            std::vector<queued_initiation> q;
            for (size_t i = 0; i < n; ++i) q.push_back(c.make(i, 1, k_t0 + i));
            world seq(c.keys(n)), bat(c.keys(n));
            for (size_t i = 0; i < n; ++i) {
                seq.inject(int(i), uint8_t(150 + i));
                bat.inject(int(i), uint8_t(150 + i));
            }
            seq.respond_sequentially(q);
            const responder_batch_stats st = respond_batch(bat.id, q, bat, path);
            ASSERT_EQ(bat.results.size(), n);
            EXPECT_EQ(st.rounds, 1u);
            EXPECT_EQ(st.batched_dh, 3 * n);
            for (size_t i = 0; i < n; ++i) {
                SCOPED_TRACE(i);
                EXPECT_EQ(bat.results[i].e, handshake_error::ok);
                EXPECT_TRUE(bat.results[i] == seq.results[i]);
            }
        }
    }
}

TEST(WireguardResponderBatch, MixedValidAndInvalidInitiationsMatchTheSequentialPathOneByOne) {
    struct expect {
        const char* what;
        handshake_error e;
    };
    for (x25519_batch_path path : paths()) {
        SCOPED_TRACE(int(path));
        callers c(6);  // caller 5 is not a peer of the responder
        const std::vector<public_key> peers = c.keys(5);
        std::vector<queued_initiation> q;
        std::vector<expect> want;
        uint64_t now = k_t0;
        auto add = [&](queued_initiation qi, const char* what, handshake_error e) {
            q.push_back(qi);
            want.push_back({what, e});
        };
        add(c.make(0, 10, now += k_ns_per_ms), "valid", handshake_error::ok);
        add(c.make(1, 10, now += k_ns_per_ms, [](auto& b) { b[40] ^= 1; }), "static tampered, mac1 rewritten",
            handshake_error::decrypt_failed);
        add(c.make(2, 10, now += k_ns_per_ms, [](auto& b) { std::fill(b.begin() + 8, b.begin() + 40, 0); }),
            "small-order ephemeral (zero es)", handshake_error::decrypt_failed);
        {
            queued_initiation bad = c.make(3, 10, now += k_ns_per_ms);
            bad.msg.mac1[0] ^= 1;
            add(bad, "bad mac1", handshake_error::invalid_mac1);
        }
        add(c.make(5, 10, now += k_ns_per_ms), "unknown peer", handshake_error::unknown_peer);
        add(c.make(4, 10, now += k_ns_per_ms, [](auto& b) { b[100] ^= 1; }), "timestamp tampered",
            handshake_error::decrypt_failed);
        {
            queued_initiation replay = q[0];
            replay.now = now += k_ns_per_ms;
            add(replay, "caller 0's initiation replayed", handshake_error::replayed_timestamp);
        }
        add(c.make(0, 9, now += 30 * k_ns_per_ms), "caller 0, an older timestamp", handshake_error::replayed_timestamp);
        add(c.make(0, 11, now += k_ns_per_ms), "caller 0 again, newer, over 20 ms after its first",
            handshake_error::ok);
        add(c.make(0, 12, now += k_ns_per_ms), "caller 0 again, 1 ms later: flood", handshake_error::initiation_flood);
        add(c.make(1, 11, now += k_ns_per_ms), "caller 1, valid after its tampered one", handshake_error::ok);
        add(c.make(4, 11, now += k_ns_per_ms), "caller 4, valid", handshake_error::ok);
        add(c.make(4, 12, now += 25 * k_ns_per_ms), "caller 4 twice in a row", handshake_error::ok);
        add(c.make(2, 11, now += k_ns_per_ms), "caller 2, valid", handshake_error::ok);

        world seq(peers), bat(peers);
        for (int p = 0; p < 5; ++p) {
            for (uint8_t k = 0; k < 3; ++k) {
                seq.inject(p, uint8_t(150 + 10 * p + k));
                bat.inject(p, uint8_t(150 + 10 * p + k));
            }
        }
        seq.respond_sequentially(q);
        const responder_batch_stats st = respond_batch(bat.id, q, bat, path);
        ASSERT_EQ(bat.results.size(), q.size());
        EXPECT_GE(st.rounds, 3u) << "caller 0 and caller 4 each come back while waiting for a response";
        for (size_t i = 0; i < q.size(); ++i) {
            SCOPED_TRACE(testing::Message() << i << ": " << want[i].what);
            EXPECT_EQ(seq.results[i].e, want[i].e) << to_string(seq.results[i].e);
            EXPECT_EQ(bat.results[i].e, seq.results[i].e) << to_string(bat.results[i].e);
            EXPECT_TRUE(bat.results[i] == seq.results[i]);
        }
        // The peers' replay history ends up the same: the next initiation is judged alike.
        std::vector<queued_initiation> next{c.make(0, 11, now + k_ns_per_s)};
        world* both[] = {&seq, &bat};
        for (world* w : both) {
            w->results.clear();
            w->respond_sequentially(next);
            EXPECT_EQ(w->results[0].e, handshake_error::replayed_timestamp);
        }
    }
}

TEST(WireguardResponderBatch, AQueueOfOneTakesTheSequentialPath) {
    callers c(1);
    const queued_initiation q = c.make(0, 1, k_t0);
    world seq(c.keys(1)), bat(c.keys(1));
    seq.inject(0, 77);
    bat.inject(0, 77);
    seq.respond_sequentially({q});
    const responder_batch_stats st = respond_batch(bat.id, std::span(&q, 1), bat);
    EXPECT_EQ(st.rounds, 0u);
    EXPECT_EQ(st.batched_dh, 0u);
    ASSERT_EQ(bat.results.size(), 1u);
    EXPECT_EQ(bat.results[0].e, handshake_error::ok);
    EXPECT_TRUE(bat.results[0] == seq.results[0]);
}

TEST(WireguardResponderBatch, TheInitiatorAcceptsABatchedResponse) {
    callers c(3);
    std::vector<queued_initiation> q;
    for (size_t i = 0; i < 3; ++i) q.push_back(c.make(i, 1, k_t0));
    world bat(c.keys(3));
    respond_batch(bat.id, q, bat);
    ASSERT_EQ(bat.results.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        message_response r;
        ASSERT_EQ(parse(bat.results[i].response, r), parse_error::ok);
        std::array<uint8_t, k_response_size> b;
        serialise(r, b);
        cookie_maker(c.ids[i].static_keys.pub).add_macs(b, k_t0);
        ASSERT_EQ(parse(b, r), parse_error::ok);
        ASSERT_EQ(c.hs[i]->consume_response(r), handshake_error::ok);
        session_keys k;
        ASSERT_EQ(c.hs[i]->derive_keys(k), handshake_error::ok);
        EXPECT_EQ(k.send, bat.results[i].keys.receive);
        EXPECT_EQ(k.receive, bat.results[i].keys.send);
    }
}

}  // namespace
}  // namespace eg::crypto
