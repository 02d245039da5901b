#pragma once
// Per-peer WireGuard timers as a sans-I/O state machine (whitepaper §6; kernel
// timers.c and send.c/receive.c keep_key_fresh; wireguard-go timers.go). Nothing here
// reads a clock: every call takes `now` (monotonic ns) and returns what to do. The
// adapter calls the on_* events from the send/receive paths, calls poll(now) when
// next_deadline() passes, and performs the returned actions, reporting what it sent
// back through the events (an initiation it sent → on_handshake_initiated, and so on).
//
// Timers (deadline = when it fires):
//   retransmit_handshake  REKEY_TIMEOUT + jitter after an initiation; retried until
//                         more than MAX_TIMER_HANDSHAKES (90 s / 5 s) attempts, then give up
//   send_keepalive        KEEPALIVE_TIMEOUT after data received if we sent nothing since
//   new_handshake         KEEPALIVE + REKEY_TIMEOUT + jitter after data sent if nothing
//                         authenticated came back (15 s)
//   zero_key_material     3 × REJECT_AFTER_TIME (540 s) after a session was derived
//   persistent_keepalive  the configured interval after any authenticated packet
// Owner: the peer's handshake/timer thread. Allocation-free.
#include <cstdint>

#include "crypto/constants.hpp"

namespace eg::crypto {

class keypair;

/// What the adapter must do; several may be set at once.
struct timer_actions {
    enum bit : uint8_t {
        send_initiation = 1,       ///< create and send a handshake initiation
        send_keepalive = 2,        ///< send an empty transport message on the current keypair
        wipe_keys = 4,             ///< clear the handshake and every keypair of the peer
        drop_staged = 8,           ///< handshake gave up: drop packets queued for it
        clear_endpoint_source = 16 ///< forget the cached local source address (roaming)
    };
    uint8_t bits = 0;
    bool has(bit b) const { return bits & b; }
    bool none() const { return bits == 0; }
};

class peer_timers {
public:
    static constexpr uint64_t k_never = ~0ULL;

    /// seed drives the retransmit jitter (deterministic per seed, for tests and
    /// reproducible simulations); persistent_keepalive_ns 0 = off.
    explicit peer_timers(uint64_t seed, uint64_t persistent_keepalive_ns = 0);

    // --- events (kernel timers.c wg_timers_*) -----------------------------------------
    void on_data_sent(uint64_t now);                  ///< a non-keepalive transport packet went out
    void on_data_received(uint64_t now);              ///< a non-keepalive transport packet came in
    void on_authenticated_packet_sent(uint64_t now);  ///< any: data, keepalive, handshake
    void on_authenticated_packet_received(uint64_t now);
    void on_authenticated_packet_traversal(uint64_t now);  ///< sent or received
    void on_handshake_initiated(uint64_t now);        ///< an initiation was sent
    void on_handshake_complete(uint64_t now);         ///< a response consumed / first data under next
    void on_session_derived(uint64_t now);            ///< a keypair was derived

    // --- rekey rules on the packet paths (kernel send.c / receive.c keep_key_fresh) ----
    /// Before sending data: initiate when there is no usable keypair, or it is due for a
    /// rekey (counter, or initiator and older than REKEY_AFTER_TIME). Rate limited to
    /// one initiation per REKEY_TIMEOUT.
    timer_actions on_send_attempt(const keypair* current, uint64_t now);
    /// After receiving data: the initiator's one "last-minute" rekey when its keypair is
    /// older than REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT (165 s).
    timer_actions on_receive_check(const keypair* current, uint64_t now);

    /// Fires every timer due at now and returns the union of their actions.
    timer_actions poll(uint64_t now);
    /// The earliest armed deadline, k_never when none: when to call poll next.
    uint64_t next_deadline() const;

    uint32_t handshake_attempts() const { return handshake_attempts_; }
    uint64_t retransmit_deadline() const { return retransmit_; }
    uint64_t keepalive_deadline() const { return keepalive_; }
    uint64_t new_handshake_deadline() const { return new_handshake_; }
    uint64_t zero_keys_deadline() const { return zero_keys_; }
    uint64_t persistent_keepalive_deadline() const { return persistent_; }

private:
    uint64_t jitter();
    /// Asks for an initiation unless one went out less than REKEY_TIMEOUT ago.
    timer_actions initiate(uint64_t now, bool is_retry);

    uint64_t rng_;
    uint64_t persistent_interval_;
    uint64_t retransmit_ = k_never;
    uint64_t keepalive_ = k_never;
    uint64_t new_handshake_ = k_never;
    uint64_t zero_keys_ = k_never;
    uint64_t persistent_ = k_never;
    uint64_t last_sent_handshake_ = 0;
    bool sent_handshake_ = false;
    bool need_another_keepalive_ = false;
    bool sent_lastminute_handshake_ = false;
    uint32_t handshake_attempts_ = 0;
};

}  // namespace eg::crypto
