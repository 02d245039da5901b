#pragma once
// WireGuard's handshake (whitepaper §5.4.2-5.4.5): Noise_IKpsk2 (noise.hpp) with the
// WireGuard prologue, a TAI64N payload in the initiation and an empty one in the
// response, sender/receiver indices, and the per-peer replay and flood rules. Sans-I/O:
// the caller passes the time, chooses indices, serialises, adds mac1/mac2 (cookie.hpp)
// and sends.
//
// Responder flow for a received initiation (mac1 and, under load, mac2 checked first by
// cookie_checker::validate, which decides whether to answer with a cookie instead):
//   open_initiation(identity, msg, prelude)      // mac1 again, then e, es, s: who is calling
//   peer = lookup(prelude.remote_static)          // caller's peer table
//   peer.hs.consume_initiation(prelude, msg, now) // ss, timestamp replay + flood checks
//   peer.hs.create_response(new_index, response)  // 2 DH + 1 DH_GENERATE
//   peer.hs.derive_keys(keys)                     // responder: park as "next" (keypairs.hpp)
// Initiator: create_initiation → (response arrives, looked up by receiver index) →
// consume_response → derive_keys.
//
// Owner: one thread per peer (the handshake thread). No exceptions; allocation-free.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/constants.hpp"
#include "crypto/cookie.hpp"
#include "crypto/messages.hpp"
#include "crypto/noise.hpp"
#include "crypto/tai64n.hpp"
#include "crypto/x25519.hpp"

namespace eg::crypto {

#define EG_WG_HANDSHAKE_ERRORS(X) \
    X(ok)                         \
    X(invalid_mac1)               \
    X(wrong_state)                \
    X(invalid_peer)               \
    X(zero_dh)                    \
    X(decrypt_failed)             \
    X(unknown_peer)               \
    X(replayed_timestamp)         \
    X(initiation_flood)           \
    X(wrong_receiver_index)
enum class handshake_error : uint8_t {
#define EG_X(name) name,
    EG_WG_HANDSHAKE_ERRORS(EG_X)
#undef EG_X
};
const char* to_string(handshake_error e);

/// Our static identity and what derives from it, computed once per private key.
struct local_identity {
    x25519_keypair static_keys;
    mac_keys macs;               ///< for checking mac1 of what we receive, and cookie replies
    noise_state responder_init;  ///< ck = Ci, h = HASH(Hi ‖ our public key)

    static local_identity from_private(const private_key& priv);
};

/// What the responder learns from an initiation before it knows the peer.
struct initiation_prelude {
    noise_state st;
    public_key remote_ephemeral{};
    public_key remote_static{};
    uint32_t sender_index = 0;
    void wipe() { st.wipe(); }
};

/// Responder step 1: e, es, s of a parsed initiation. Verifies mac1 itself first (one
/// BLAKE2s), so no path reaches Diffie-Hellman work with a bad mac1 even if the caller
/// skipped cookie_checker. decrypt_failed for anything not made for our key.
handshake_error open_initiation(const local_identity& local, const message_initiation& msg,
                                initiation_prelude& out);
/// open_initiation in two phases around its one Diffie-Hellman, es = X25519(our static
/// private key, msg.ephemeral), so that a responder can compute the es of many
/// initiations in one batch (responder_batch.hpp). begin: mac1, then the e token into
/// out.st (invalid_mac1 or ok). end: es (es_ok = false when it was zero) and s; on
/// failure out is wiped. begin + X25519 + end is exactly open_initiation.
handshake_error open_initiation_begin(const local_identity& local, const message_initiation& msg,
                                      initiation_prelude& out);
handshake_error open_initiation_end(const message_initiation& msg, const key32& es, bool es_ok,
                                    initiation_prelude& out);

/// Keys and indices for a new transport keypair (transport.hpp).
struct session_keys {
    key32 send{};
    key32 receive{};
    uint32_t local_index = 0;   ///< receiver index the peer puts on packets to us
    uint32_t remote_index = 0;  ///< receiver index we put on packets to the peer
    bool initiator = false;
    void wipe();
};

class handshake {
public:
    enum class state : uint8_t {
        zeroed,
        created_initiation,
        consumed_initiation,
        responding,  ///< between begin_response and finish_response
        created_response,
        consumed_response
    };

    /// local must outlive the handshake. psk: 32 zero bytes when none is configured. Precomputes DH(our static, theirs);
    /// valid() is false when that is zero (a small-order peer key), and such a peer can
    /// never handshake.
    handshake(const local_identity& local, const public_key& remote_static, const key32& psk);
    ~handshake();
    handshake(const handshake&) = delete;
    handshake& operator=(const handshake&) = delete;

    bool valid() const { return ss_valid_; }
    state current_state() const { return state_; }
    const public_key& remote_static() const { return remote_static_; }
    /// Our index for the handshake in flight (a response names it as receiver).
    uint32_t local_index() const { return local_index_; }

    // Initiator. create_initiation leaves mac1/mac2 zero: serialise, then
    // cookie_maker::add_macs. consume_response checks mac1 (under our key) before any DH.
    handshake_error create_initiation(uint32_t local_index, uint64_t wall_unix_ns, message_initiation& out);
    handshake_error consume_response(const message_response& msg);

    // Responder. now: monotonic ns, for the 50-per-second flood limit.
    handshake_error consume_initiation(const initiation_prelude& prelude, const message_initiation& msg,
                                       uint64_t now);
    handshake_error create_response(uint32_t local_index, message_response& out);
    /// create_response in two phases around its two Diffie-Hellmans, so that a responder
    /// can batch them across peers (responder_batch.hpp). begin_response (after
    /// consume_initiation) picks our ephemeral and mixes it in; the caller then computes
    /// ee = X25519(response_scalar(), response_ee_point()) and
    /// se = X25519(response_scalar(), remote_static()); finish_response takes them (and
    /// whether each was non-zero) and writes the response. begin + the two X25519 +
    /// finish is exactly create_response; a zero DH clears the handshake as there.
    handshake_error begin_response();
    /// Valid between begin_response and finish_response. Secret: the caller wipes copies.
    const private_key& response_scalar() const { return ephemeral_.priv; }
    const public_key& response_ee_point() const { return remote_ephemeral_; }
    handshake_error finish_response(uint32_t local_index, const key32& ee, bool ee_ok, const key32& se, bool se_ok,
                                    message_response& out);

    /// After consume_response (initiator) or create_response (responder): the transport
    /// keys (initiator sends with T1, responder with T2). Wipes the handshake secrets and
    /// returns to zeroed; the timestamp/flood history stays.
    handshake_error derive_keys(session_keys& out);

    /// Forgets the handshake in flight (secrets wiped), keeping replay history.
    void clear();

    /// Test hook: the next create_initiation / create_response uses this ephemeral
    /// private key instead of a random one (known-answer tests against an independent
    /// implementation; up to four queued, used in order, for a peer answered more than
    /// once in one batch). Never call it outside tests: a reused ephemeral breaks
    /// forward secrecy.
    void use_ephemeral_for_test(const private_key& k) {
        if (test_ephemerals_ < test_ephemeral_.size()) test_ephemeral_[test_ephemerals_++] = k;
    }

private:
    const local_identity& local_;
    public_key remote_static_;
    key32 psk_;
    key32 ss_{};
    bool ss_valid_ = false;

    state state_ = state::zeroed;
    noise_state st_{};
    x25519_keypair ephemeral_{};
    public_key remote_ephemeral_{};
    uint32_t local_index_ = 0;
    uint32_t remote_index_ = 0;

    x25519_keypair next_ephemeral();

    std::array<private_key, 4> test_ephemeral_{};
    size_t test_ephemerals_ = 0;
    tai64n latest_timestamp_{};
    uint64_t last_initiation_consumed_ = 0;
    bool have_consumed_initiation_ = false;
};

}  // namespace eg::crypto
