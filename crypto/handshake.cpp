// WireGuard handshake state machine over the Noise_IKpsk2 core (see handshake.hpp).
#include "crypto/handshake.hpp"

#include <sodium/utils.h>

#include <array>
#include <cstring>

namespace eg::crypto {
namespace {

std::span<const uint8_t> identifier() {
    return {reinterpret_cast<const uint8_t*>(k_identifier), sizeof k_identifier - 1};
}

template <class M>
bool mac1_valid(const key32& mac1_key, const M& m) {
    std::array<uint8_t, M::k_size> b;
    serialise(m, b);
    return verify_mac1(mac1_key, b);
}

}  // namespace

const char* to_string(handshake_error e) {
    switch (e) {
#define EG_X(name)              \
    case handshake_error::name: \
        return #name;
        EG_WG_HANDSHAKE_ERRORS(EG_X)
#undef EG_X
    }
    return "?";
}

local_identity local_identity::from_private(const private_key& priv) {
    local_identity id;
    id.static_keys = x25519_from_private(priv);
    id.macs = mac_keys::for_public_key(id.static_keys.pub);
    id.responder_init = noise_initial(identifier(), id.static_keys.pub);
    return id;
}

handshake_error open_initiation(const local_identity& local, const message_initiation& msg,
                                initiation_prelude& out) {
    const handshake_error e = open_initiation_begin(local, msg, out);
    if (e != handshake_error::ok) return e;
    key32 es;
    const bool es_ok = x25519(es, local.static_keys.priv, msg.ephemeral);
    const handshake_error r = open_initiation_end(msg, es, es_ok, out);
    sodium_memzero(es.data(), es.size());
    return r;
}

handshake_error open_initiation_begin(const local_identity& local, const message_initiation& msg,
                                      initiation_prelude& out) {
    if (!mac1_valid(local.macs.mac1, msg)) return handshake_error::invalid_mac1;
    out.st = local.responder_init;
    noise_read_msg1_e(out.st, msg.ephemeral);
    return handshake_error::ok;
}

handshake_error open_initiation_end(const message_initiation& msg, const key32& es, bool es_ok,
                                    initiation_prelude& out) {
    if (!noise_read_msg1_s(out.st, es, es_ok, msg.encrypted_static, out.remote_static)) {
        out.wipe();
        return handshake_error::decrypt_failed;
    }
    out.remote_ephemeral = msg.ephemeral;
    out.sender_index = msg.sender_index;
    return handshake_error::ok;
}

void session_keys::wipe() {
    sodium_memzero(send.data(), send.size());
    sodium_memzero(receive.data(), receive.size());
}

handshake::handshake(const local_identity& local, const public_key& remote_static, const key32& psk)
    : local_(local), remote_static_(remote_static), psk_(psk) {
    ss_valid_ = x25519(ss_, local_.static_keys.priv, remote_static_);
}

x25519_keypair handshake::next_ephemeral() {
    if (test_ephemerals_ == 0) return x25519_generate();
    x25519_keypair kp = x25519_from_private(test_ephemeral_[0]);
    for (size_t i = 1; i < test_ephemerals_; ++i) test_ephemeral_[i - 1] = test_ephemeral_[i];
    --test_ephemerals_;
    sodium_memzero(test_ephemeral_[test_ephemerals_].data(), sizeof(private_key));
    return kp;
}

handshake::~handshake() {
    clear();
    sodium_memzero(ss_.data(), ss_.size());
    sodium_memzero(psk_.data(), psk_.size());
}

void handshake::clear() {
    st_.wipe();
    ephemeral_.wipe();
    sodium_memzero(remote_ephemeral_.data(), remote_ephemeral_.size());
    state_ = state::zeroed;
}

handshake_error handshake::create_initiation(uint32_t local_index, uint64_t wall_unix_ns, message_initiation& out) {
    if (!ss_valid_) return handshake_error::invalid_peer;
    clear();
    // Initiator: ck = Ci, h = HASH(Hi ‖ Spub_r), the same derivation with the peer's key.
    st_ = noise_initial(identifier(), remote_static_);
    ephemeral_ = next_ephemeral();
    const tai64n ts = tai64n_from_unix_ns(wall_unix_ns);
    uint8_t body[noise_msg1_size(k_timestamp_size)];
    if (!noise_write_msg1(st_, ephemeral_, local_.static_keys, remote_static_, ss_, ts, body)) {
        clear();
        return handshake_error::zero_dh;
    }
    out.sender_index = local_index;
    std::memcpy(out.ephemeral.data(), body, 32);
    std::memcpy(out.encrypted_static.data(), body + 32, 48);
    std::memcpy(out.encrypted_timestamp.data(), body + 80, 28);
    out.mac1 = {};
    out.mac2 = {};
    local_index_ = local_index;
    state_ = state::created_initiation;
    return handshake_error::ok;
}

handshake_error handshake::consume_initiation(const initiation_prelude& prelude, const message_initiation& msg,
                                              uint64_t now) {
    if (!ss_valid_) return handshake_error::invalid_peer;
    if (sodium_memcmp(prelude.remote_static.data(), remote_static_.data(), 32) != 0)
        return handshake_error::unknown_peer;
    noise_state st = prelude.st;
    tai64n ts;
    if (!noise_read_msg1_payload(st, ss_, msg.encrypted_timestamp, ts.data())) {
        st.wipe();
        return handshake_error::decrypt_failed;
    }
    // Both checks only after authentication (kernel noise.c consume_initiation): a replayed
    // initiation must not be able to move the stored timestamp or the flood clock.
    if (!tai64n_after(ts, latest_timestamp_)) {
        st.wipe();
        return handshake_error::replayed_timestamp;
    }
    if (have_consumed_initiation_ && now - last_initiation_consumed_ < k_min_initiation_interval) {
        st.wipe();
        return handshake_error::initiation_flood;
    }
    clear();
    st_ = st;
    st.wipe();
    remote_ephemeral_ = prelude.remote_ephemeral;
    remote_index_ = prelude.sender_index;
    latest_timestamp_ = ts;
    last_initiation_consumed_ = now;
    have_consumed_initiation_ = true;
    state_ = state::consumed_initiation;
    return handshake_error::ok;
}

handshake_error handshake::create_response(uint32_t local_index, message_response& out) {
    const handshake_error e = begin_response();
    if (e != handshake_error::ok) return e;
    key32 ee, se;
    const bool ee_ok = x25519(ee, ephemeral_.priv, remote_ephemeral_);
    const bool se_ok = ee_ok && x25519(se, ephemeral_.priv, remote_static_);  // no se work after a zero ee
    const handshake_error r = finish_response(local_index, ee, ee_ok, se, se_ok, out);
    sodium_memzero(ee.data(), ee.size());
    sodium_memzero(se.data(), se.size());
    return r;
}

handshake_error handshake::begin_response() {
    if (state_ != state::consumed_initiation) return handshake_error::wrong_state;
    ephemeral_ = next_ephemeral();
    uint8_t e[32];
    noise_write_msg2_e(st_, ephemeral_.pub, e);
    state_ = state::responding;
    return handshake_error::ok;
}

handshake_error handshake::finish_response(uint32_t local_index, const key32& ee, bool ee_ok, const key32& se,
                                           bool se_ok, message_response& out) {
    if (state_ != state::responding) return handshake_error::wrong_state;
    uint8_t body[noise_msg2_size(0)];
    std::memcpy(body, ephemeral_.pub.data(), 32);
    if (!noise_write_msg2_rest(st_, ee, ee_ok, se, se_ok, psk_, {}, body)) {
        clear();
        return handshake_error::zero_dh;
    }
    out.sender_index = local_index;
    out.receiver_index = remote_index_;
    std::memcpy(out.ephemeral.data(), body, 32);
    std::memcpy(out.encrypted_nothing.data(), body + 32, 16);
    out.mac1 = {};
    out.mac2 = {};
    local_index_ = local_index;
    state_ = state::created_response;
    return handshake_error::ok;
}

handshake_error handshake::consume_response(const message_response& msg) {
    if (state_ != state::created_initiation) return handshake_error::wrong_state;
    if (msg.receiver_index != local_index_) return handshake_error::wrong_receiver_index;
    if (!mac1_valid(local_.macs.mac1, msg)) return handshake_error::invalid_mac1;
    uint8_t body[noise_msg2_size(0)];
    std::memcpy(body, msg.ephemeral.data(), 32);
    std::memcpy(body + 32, msg.encrypted_nothing.data(), 16);
    uint8_t nothing[1];
    if (!noise_read_msg2(st_, ephemeral_, local_.static_keys, psk_, body, nothing))
        return handshake_error::decrypt_failed;  // state kept: a forged response changes nothing
    remote_index_ = msg.sender_index;
    state_ = state::consumed_response;
    return handshake_error::ok;
}

handshake_error handshake::derive_keys(session_keys& out) {
    if (state_ != state::consumed_response && state_ != state::created_response) return handshake_error::wrong_state;
    out.initiator = state_ == state::consumed_response;
    key32 t1, t2;
    noise_split(st_, t1, t2);
    out.send = out.initiator ? t1 : t2;
    out.receive = out.initiator ? t2 : t1;
    out.local_index = local_index_;
    out.remote_index = remote_index_;
    sodium_memzero(t1.data(), t1.size());
    sodium_memzero(t2.data(), t2.size());
    clear();
    return handshake_error::ok;
}

}  // namespace eg::crypto
