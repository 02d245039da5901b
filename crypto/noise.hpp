#pragma once
// The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s pattern itself, without WireGuard's framing
// (indices, mac1/mac2, TAI64N): the handshake state machine (handshake.hpp) runs
// WireGuard through these functions with the WireGuard prologue and payloads, and the
// tests run the cacophony vector through the same functions with its own prologue,
// payloads and PSK.
//
//   <- s
//   ...
//   -> e, es, s, ss, {payload}
//   <- e, ee, se, psk, {payload}
//
// In psk mode the e token also mixes e.pub into the chaining key (Noise §9.2), which is
// WireGuard's "C = KDF1(C, E_pub)". Every function works on a copy and commits to the
// state only on success, so a forged message leaves the handshake as it was.
#include <cstdint>
#include <span>

#include "crypto/constants.hpp"
#include "crypto/x25519.hpp"

namespace eg::crypto {

struct noise_state {
    key32 ck{};  ///< chaining key
    key32 h{};   ///< handshake hash
    void wipe();
};

/// ck = h = HASH(protocol name); h = HASH(h ‖ prologue); h = HASH(h ‖ responder static)
/// (the pre-message "<- s"). With k_identifier as prologue this gives WireGuard's
/// Ci and HASH(Hi ‖ Spub_r).
noise_state noise_initial(std::span<const uint8_t> prologue, const public_key& responder_static);

/// Bytes of message 1 for a payload of n bytes: e (32) ‖ {s} (48) ‖ {payload} (n+16).
constexpr size_t noise_msg1_size(size_t n) { return 32 + 48 + n + 16; }
/// Bytes of message 2: e (32) ‖ {payload} (n+16).
constexpr size_t noise_msg2_size(size_t n) { return 32 + n + 16; }

/// Initiator writes message 1 into out[0 .. noise_msg1_size(payload.size())).
/// ss = DH(s_i, s_r), precomputed per peer. False when DH(e, s_r) is zero.
bool noise_write_msg1(noise_state& st, const x25519_keypair& e, const x25519_keypair& s_i,
                      const public_key& s_r, const key32& ss, std::span<const uint8_t> payload, uint8_t* out);

/// Responder, message 1 up to the initiator's static key (e, es, s): enough to know who
/// is calling. in = the first 80 bytes of the message. The two halves below, with the DH
/// es = X25519(s_r, e_i) computed by the caller between them (a responder batching many
/// initiations: responder_batch.hpp).
bool noise_read_msg1_static(noise_state& st, const x25519_keypair& s_r, std::span<const uint8_t, 80> in,
                            public_key& e_i, public_key& s_i);
/// The e token of message 1 (C = KDF1(C, e), h = HASH(h ‖ e)). Never fails.
void noise_read_msg1_e(noise_state& st, const public_key& e_i);
/// es and s of message 1, given es = X25519(s_r, e_i) and es_ok = false when that was
/// zero. enc_s = the 48 bytes after e. False (st untouched) on a zero DH or a bad tag.
bool noise_read_msg1_s(noise_state& st, const key32& es, bool es_ok, std::span<const uint8_t, 48> enc_s,
                       public_key& s_i);
/// Responder, rest of message 1 (ss, {payload}) once the peer and its ss are known.
/// payload_out gets enc_payload.size() - 16 bytes.
bool noise_read_msg1_payload(noise_state& st, const key32& ss, std::span<const uint8_t> enc_payload,
                             uint8_t* payload_out);

/// Responder writes message 2 into out[0 .. noise_msg2_size(payload.size())). Also in
/// two halves around the DHs ee = X25519(e_r, e_i) and se = X25519(e_r, s_i):
bool noise_write_msg2(noise_state& st, const x25519_keypair& e_r, const public_key& e_i, const public_key& s_i,
                      const key32& psk, std::span<const uint8_t> payload, uint8_t* out);
/// The e token of message 2: out[0..32) = e_r.pub, C = KDF1(C, e_r.pub), h = HASH(h ‖ e_r.pub).
void noise_write_msg2_e(noise_state& st, const public_key& e_r_pub, uint8_t* out);
/// ee, se, psk and {payload} (written at out + 32), given the two DH results and whether
/// each was non-zero. False (st untouched) when either DH was zero.
bool noise_write_msg2_rest(noise_state& st, const key32& ee, bool ee_ok, const key32& se, bool se_ok,
                           const key32& psk, std::span<const uint8_t> payload, uint8_t* out);
/// Initiator reads message 2 (in = e ‖ {payload}); payload_out gets in.size() - 48 bytes.
bool noise_read_msg2(noise_state& st, const x25519_keypair& e_i, const x25519_keypair& s_i, const key32& psk,
                     std::span<const uint8_t> in, uint8_t* payload_out);

/// Split(): (initiator→responder key, responder→initiator key) = KDF2(ck, "").
void noise_split(const noise_state& st, key32& initiator_send, key32& responder_send);

}  // namespace eg::crypto
