// A queue of initiations answered with batched Diffie-Hellmans (see responder_batch.hpp).
#include "crypto/responder_batch.hpp"

#include <sodium/utils.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace eg::crypto {
namespace {

using bytes32 = std::array<uint8_t, 32>;

/// Scratch for one call, wiped on every exit: copies of secret scalars and DH results.
struct batch_scratch {
    std::array<initiation_prelude, k_responder_batch_max> pre{};
    std::array<bytes32, 2 * k_responder_batch_max> scalars{}, points{}, out{};
    std::array<bool, 2 * k_responder_batch_max> ok{};
    ~batch_scratch() {
        for (initiation_prelude& p : pre) p.wipe();
        sodium_memzero(scalars.data(), sizeof scalars);
        sodium_memzero(out.data(), sizeof out);
    }
};

/// The sequential path, for a queue of one: a lone initiation pays no batching overhead
/// (and x25519_batch would send its single DHs to libsodium anyway).
void respond_one(const local_identity& local, const queued_initiation& q, responder_sink& sink) {
    initiation_prelude pre;
    handshake_error e = open_initiation(local, q.msg, pre);
    if (e != handshake_error::ok) {
        pre.wipe();
        sink.done(0, e, nullptr, nullptr);
        return;
    }
    handshake* hs = sink.find_peer(pre.remote_static);
    if (hs == nullptr) {
        pre.wipe();
        sink.done(0, handshake_error::unknown_peer, nullptr, nullptr);
        return;
    }
    e = hs->consume_initiation(pre, q.msg, q.now);
    pre.wipe();
    if (e != handshake_error::ok) {
        sink.done(0, e, hs, nullptr);
        return;
    }
    message_response resp;
    e = hs->create_response(sink.new_index(*hs), resp);
    sink.done(0, e, hs, e == handshake_error::ok ? &resp : nullptr);
}

}  // namespace

responder_batch_stats respond_batch(const local_identity& local, std::span<const queued_initiation> q,
                                    responder_sink& sink, x25519_batch_path path) {
    const size_t n = q.size();
    responder_batch_stats stats;
    if (n == 0) return stats;
    if (n > k_responder_batch_max) {
        std::fprintf(stderr, "eg::crypto: respond_batch given %zu initiations (max %zu)\n", n, k_responder_batch_max);
        std::abort();
    }
    if (n == 1) {
        respond_one(local, q[0], sink);
        return stats;
    }

    batch_scratch s;
    std::array<handshake_error, k_responder_batch_max> err;
    std::array<handshake*, k_responder_batch_max> peer{};
    std::array<bool, k_responder_batch_max> opened{};
    std::array<size_t, k_responder_batch_max> slot_of;  // initiation -> its es in s.out

    // Phase 1: mac1 and the e token of every initiation, then all the es = DH(our static,
    // e_i) in one batch. Nothing here depends on any peer's state.
    size_t m = 0;
    for (size_t i = 0; i < n; ++i) {
        err[i] = open_initiation_begin(local, q[i].msg, s.pre[i]);
        if (err[i] != handshake_error::ok) continue;
        s.scalars[m] = local.static_keys.priv;
        s.points[m] = q[i].msg.ephemeral;
        slot_of[i] = m++;
    }
    x25519_batch(std::span(s.scalars).first(m), std::span(s.points).first(m), std::span(s.out).first(m),
                 std::span(s.ok).first(m), path);
    stats.batched_dh += m;
    std::array<key32, k_responder_batch_max> es;
    std::array<bool, k_responder_batch_max> es_ok{};
    for (size_t i = 0; i < n; ++i) {
        if (err[i] != handshake_error::ok) continue;
        es[i] = s.out[slot_of[i]];
        es_ok[i] = s.ok[slot_of[i]];
    }
    sodium_memzero(s.out.data(), sizeof s.out);

    std::array<message_response, k_responder_batch_max> resp;
    std::array<size_t, k_responder_batch_max> pending;
    size_t i = 0;
    while (i < n) {
        // Phase 2, in arrival order: s, the peer, its timestamp and flood checks, our
        // ephemeral. A peer already waiting for its response in this round ends the
        // round, so that its second initiation meets the state the first one left.
        const size_t first = i;
        size_t np = 0;
        for (; i < n; ++i) {
            if (!opened[i]) {
                opened[i] = true;
                if (err[i] != handshake_error::ok) continue;  // mac1
                err[i] = open_initiation_end(q[i].msg, es[i], es_ok[i], s.pre[i]);
                sodium_memzero(es[i].data(), es[i].size());
                if (err[i] != handshake_error::ok) continue;
                peer[i] = sink.find_peer(s.pre[i].remote_static);
                if (peer[i] == nullptr) {
                    s.pre[i].wipe();
                    err[i] = handshake_error::unknown_peer;
                    continue;
                }
            } else if (err[i] != handshake_error::ok) {
                continue;
            }
            bool again = false;
            for (size_t k = 0; k < np; ++k) again |= peer[pending[k]] == peer[i];
            if (again) break;
            err[i] = peer[i]->consume_initiation(s.pre[i], q[i].msg, q[i].now);
            s.pre[i].wipe();
            if (err[i] != handshake_error::ok) continue;
            err[i] = peer[i]->begin_response();
            if (err[i] != handshake_error::ok) continue;
            pending[np++] = i;
        }
        // Phase 3: ee = DH(e_r, e_i) and se = DH(e_r, s_i) of the round in one batch.
        for (size_t k = 0; k < np; ++k) {
            const handshake& hs = *peer[pending[k]];
            s.scalars[2 * k] = hs.response_scalar();
            s.scalars[2 * k + 1] = hs.response_scalar();
            s.points[2 * k] = hs.response_ee_point();
            s.points[2 * k + 1] = hs.remote_static();
        }
        x25519_batch(std::span(s.scalars).first(2 * np), std::span(s.points).first(2 * np),
                     std::span(s.out).first(2 * np), std::span(s.ok).first(2 * np), path);
        stats.batched_dh += 2 * np;
        for (size_t k = 0; k < np; ++k) {
            const size_t j = pending[k];
            handshake& hs = *peer[j];
            err[j] = hs.finish_response(sink.new_index(hs), s.out[2 * k], s.ok[2 * k], s.out[2 * k + 1],
                                        s.ok[2 * k + 1], resp[j]);
        }
        sodium_memzero(s.scalars.data(), 2 * np * sizeof(bytes32));
        sodium_memzero(s.out.data(), 2 * np * sizeof(bytes32));
        ++stats.rounds;
        for (size_t k = first; k < i; ++k)
            sink.done(k, err[k], peer[k], err[k] == handshake_error::ok ? &resp[k] : nullptr);
    }
    return stats;
}

}  // namespace eg::crypto
