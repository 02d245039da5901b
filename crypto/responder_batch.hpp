#pragma once
// The responder's handshake work for a queue of initiations at once, so that their
// Diffie-Hellmans run through the batched X25519 (x25519_batch.hpp: eight per AVX-512
// IFMA pass where the CPU has it) instead of one libsodium call each: first every
// initiation's es, then — per initiation, in arrival order — static decryption, the peer
// lookup and the timestamp/flood checks (handshake::consume_initiation), then the ee and
// se of all accepted initiations together. Sans-I/O like the rest of crypto/: the caller
// owns the queue, the peer table and what happens with each result.
//
// Same results as the sequential path (open_initiation → lookup → consume_initiation →
// create_response per initiation, in order), initiation by initiation: the same errors,
// and for the same ephemerals byte-identical responses and keys. The DH results are
// libsodium's byte for byte (x25519_batch.hpp), and the only state carried from one
// initiation to the next is the peer's handshake (its timestamp and flood history and
// the handshake in flight); so when a peer appears a second time in the queue, the
// batch first finishes everything before it (a "round") and then goes on, which keeps
// arrival order exactly. A queue of one runs the sequential functions themselves.
//
// Every initiation in the queue must already have passed mac1, mac2 under load and the
// rate limit (cookie_checker::validate and the caller's limiter): those checks stay in
// front of any DH work; open_initiation_begin verifies mac1 once more, as
// open_initiation does. Owner: the handshake thread. Allocation-free: the scratch for up
// to k_responder_batch_max initiations lives on the stack (about 30 KB), and every copy
// of a secret in it (our static key for the es lanes, ephemerals, DH results, Noise
// states) is wiped before return.
#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/handshake.hpp"
#include "crypto/x25519_batch.hpp"

namespace eg::crypto {

/// Initiations one respond_batch call takes at most (its scratch lives on the stack).
constexpr size_t k_responder_batch_max = 64;

/// One admitted initiation waiting for the responder.
struct queued_initiation {
    message_initiation msg;  ///< parsed
    uint64_t now = 0;        ///< monotonic ns when it arrived (the 20 ms flood rule)
};

/// What respond_batch needs from its caller and tells it, per initiation.
class responder_sink {
public:
    virtual ~responder_sink() = default;
    /// The handshake of the peer with this static key, or nullptr (not ours).
    virtual handshake* find_peer(const public_key& remote_static) = 0;
    /// A new local index for hs's response (called just before it is written, in
    /// arrival order, also when the response then fails with a zero DH, as the
    /// sequential caller's create_response(new_index(p), ...) does).
    virtual uint32_t new_index(handshake& hs) = 0;
    /// Initiation i's outcome, in arrival order, once per initiation. ok: *response is
    /// written (mac1/mac2 zero) and hs is in created_response (derive_keys next).
    /// Otherwise hs is the peer when known (null for failures before the lookup) and
    /// e says why: what open_initiation returned (invalid_mac1, decrypt_failed),
    /// unknown_peer from the lookup, then consume_initiation's and create_response's
    /// errors.
    virtual void done(size_t i, handshake_error e, handshake* hs, const message_response* response) = 0;
};

/// How a call went (tests and benchmarks).
struct responder_batch_stats {
    size_t rounds = 0;         ///< 0: the queue of one went the sequential way
    size_t batched_dh = 0;     ///< Diffie-Hellmans computed through x25519_batch
};

/// Processes q (1..k_responder_batch_max initiations; more is a caller bug: abort) for
/// our identity `local`, reporting every initiation to `sink` in order. `path` is for
/// tests and benchmarks.
responder_batch_stats respond_batch(const local_identity& local, std::span<const queued_initiation> q,
                                    responder_sink& sink,
                                    x25519_batch_path path = x25519_batch_default_path());

}  // namespace eg::crypto
