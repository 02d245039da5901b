// Per-peer timer state machine (see timers.hpp).
#include "crypto/timers.hpp"

#include "crypto/transport.hpp"

namespace eg::crypto {

peer_timers::peer_timers(uint64_t seed, uint64_t persistent_keepalive_ns)
    : rng_(seed ^ 0x9e3779b97f4a7c15ULL), persistent_interval_(persistent_keepalive_ns) {}

uint64_t peer_timers::jitter() {
    // splitmix64: the jitter only de-synchronises peers; it needs no secrecy.
    uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z % k_rekey_timeout_jitter_max;
}

void peer_timers::on_data_sent(uint64_t now) {
    if (new_handshake_ == k_never) new_handshake_ = now + k_keepalive_timeout + k_rekey_timeout + jitter();
}

void peer_timers::on_data_received(uint64_t now) {
    if (keepalive_ == k_never)
        keepalive_ = now + k_keepalive_timeout;
    else
        need_another_keepalive_ = true;
}

void peer_timers::on_authenticated_packet_sent(uint64_t) { keepalive_ = k_never; }

void peer_timers::on_authenticated_packet_received(uint64_t) { new_handshake_ = k_never; }

void peer_timers::on_authenticated_packet_traversal(uint64_t now) {
    if (persistent_interval_ != 0) persistent_ = now + persistent_interval_;
}

void peer_timers::on_handshake_initiated(uint64_t now) {
    last_sent_handshake_ = now;
    sent_handshake_ = true;
    retransmit_ = now + k_rekey_timeout + jitter();
}

void peer_timers::on_handshake_complete(uint64_t) {
    retransmit_ = k_never;
    handshake_attempts_ = 0;
    sent_lastminute_handshake_ = false;
}

void peer_timers::on_session_derived(uint64_t now) { zero_keys_ = now + k_zero_keys_after; }

timer_actions peer_timers::initiate(uint64_t now, bool is_retry) {
    timer_actions a;
    if (!is_retry) handshake_attempts_ = 0;
    // At most one initiation per REKEY_TIMEOUT (kernel send.c: last_sent_handshake).
    if (sent_handshake_ && now - last_sent_handshake_ < k_rekey_timeout) return a;
    a.bits |= timer_actions::send_initiation;
    return a;
}

timer_actions peer_timers::on_send_attempt(const keypair* current, uint64_t now) {
    if (current == nullptr || !current->valid() || current->expired(now) || current->wants_rekey_on_send(now))
        return initiate(now, false);
    return {};
}

timer_actions peer_timers::on_receive_check(const keypair* current, uint64_t now) {
    if (current != nullptr && current->initiator() && !sent_lastminute_handshake_ &&
        current->age(now) >= k_rekey_on_receive_age) {
        sent_lastminute_handshake_ = true;
        return initiate(now, false);
    }
    return {};
}

timer_actions peer_timers::poll(uint64_t now) {
    timer_actions a;
    if (retransmit_ <= now) {
        retransmit_ = k_never;
        if (handshake_attempts_ > k_max_timer_handshakes) {
            // Give up (kernel wg_expired_retransmit_handshake): stop keepalives, drop what
            // waits for a session, and wipe any residue of the partial exchange later.
            keepalive_ = k_never;
            a.bits |= timer_actions::drop_staged;
            if (zero_keys_ == k_never) zero_keys_ = now + k_zero_keys_after;
        } else {
            ++handshake_attempts_;
            a.bits |= timer_actions::clear_endpoint_source;
            a.bits |= initiate(now, true).bits;
        }
    }
    if (keepalive_ <= now) {
        keepalive_ = k_never;
        a.bits |= timer_actions::send_keepalive;
        if (need_another_keepalive_) {
            need_another_keepalive_ = false;
            keepalive_ = now + k_keepalive_timeout;
        }
    }
    if (new_handshake_ <= now) {
        new_handshake_ = k_never;
        a.bits |= timer_actions::clear_endpoint_source;
        a.bits |= initiate(now, false).bits;
    }
    if (zero_keys_ <= now) {
        zero_keys_ = k_never;
        a.bits |= timer_actions::wipe_keys;
    }
    if (persistent_ <= now) {
        persistent_ = k_never;
        a.bits |= timer_actions::send_keepalive;
    }
    return a;
}

uint64_t peer_timers::next_deadline() const {
    uint64_t d = retransmit_;
    for (uint64_t t : {keepalive_, new_handshake_, zero_keys_, persistent_})
        if (t < d) d = t;
    return d;
}

}  // namespace eg::crypto
