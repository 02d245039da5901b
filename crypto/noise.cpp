// Noise_IKpsk2 message processing (see noise.hpp; whitepaper §5.4.2-5.4.3).
#include "crypto/noise.hpp"

#include <sodium/utils.h>

#include <cstring>

#include "crypto/aead.hpp"
#include "crypto/blake2s.hpp"

namespace eg::crypto {
namespace {

void mix_hash(noise_state& s, std::span<const uint8_t> data) { blake2s_hash(s.h, s.h, data); }

// Wipes the working copy and the derived key on every exit path.
struct scratch {
    noise_state st;
    key32 k{};
    key32 dh{};
    explicit scratch(const noise_state& from) : st(from) {}
    ~scratch() {
        st.wipe();
        sodium_memzero(k.data(), k.size());
        sodium_memzero(dh.data(), dh.size());
    }
};

}  // namespace

void noise_state::wipe() {
    sodium_memzero(ck.data(), ck.size());
    sodium_memzero(h.data(), h.size());
}

noise_state noise_initial(std::span<const uint8_t> prologue, const public_key& responder_static) {
    noise_state s;
    // The protocol name is 37 bytes, longer than HASHLEN, so h = HASH(name) (Noise §5.2).
    blake2s_hash(s.ck, {reinterpret_cast<const uint8_t*>(k_construction), sizeof k_construction - 1});
    s.h = s.ck;
    mix_hash(s, prologue);
    mix_hash(s, responder_static);
    return s;
}

bool noise_write_msg1(noise_state& st, const x25519_keypair& e, const x25519_keypair& s_i,
                      const public_key& s_r, const key32& ss, std::span<const uint8_t> payload, uint8_t* out) {
    scratch w(st);
    // e
    std::memcpy(out, e.pub.data(), 32);
    kdf(w.st.ck, e.pub, &w.st.ck);
    mix_hash(w.st, e.pub);
    // es
    if (!x25519(w.dh, e.priv, s_r)) return false;
    kdf(w.st.ck, w.dh, &w.st.ck, &w.k);
    // s
    aead_seal(out + 32, w.k, 0, s_i.pub, w.st.h);
    mix_hash(w.st, {out + 32, 48});
    // ss
    kdf(w.st.ck, ss, &w.st.ck, &w.k);
    // {payload}
    aead_seal(out + 80, w.k, 0, payload, w.st.h);
    mix_hash(w.st, {out + 80, payload.size() + 16});
    st = w.st;
    return true;
}

bool noise_read_msg1_static(noise_state& st, const x25519_keypair& s_r, std::span<const uint8_t, 80> in,
                            public_key& e_i, public_key& s_i) {
    scratch w(st);
    public_key e;
    std::memcpy(e.data(), in.data(), 32);
    noise_read_msg1_e(w.st, e);
    const bool es_ok = x25519(w.dh, s_r.priv, e);
    if (!noise_read_msg1_s(w.st, w.dh, es_ok, in.subspan<32, 48>(), s_i)) return false;
    e_i = e;
    st = w.st;
    return true;
}

void noise_read_msg1_e(noise_state& st, const public_key& e_i) {
    kdf(st.ck, e_i, &st.ck);
    mix_hash(st, e_i);
}

bool noise_read_msg1_s(noise_state& st, const key32& es, bool es_ok, std::span<const uint8_t, 48> enc_s,
                       public_key& s_i) {
    if (!es_ok) return false;
    scratch w(st);
    kdf(w.st.ck, es, &w.st.ck, &w.k);
    public_key s;
    if (!aead_open(s.data(), w.k, 0, enc_s, w.st.h)) return false;
    mix_hash(w.st, enc_s);
    s_i = s;
    st = w.st;
    return true;
}

bool noise_read_msg1_payload(noise_state& st, const key32& ss, std::span<const uint8_t> enc_payload,
                             uint8_t* payload_out) {
    if (enc_payload.size() < 16) return false;
    scratch w(st);
    kdf(w.st.ck, ss, &w.st.ck, &w.k);
    if (!aead_open(payload_out, w.k, 0, enc_payload, w.st.h)) return false;
    mix_hash(w.st, enc_payload);
    st = w.st;
    return true;
}

bool noise_write_msg2(noise_state& st, const x25519_keypair& e_r, const public_key& e_i, const public_key& s_i,
                      const key32& psk, std::span<const uint8_t> payload, uint8_t* out) {
    scratch w(st);
    noise_write_msg2_e(w.st, e_r.pub, out);
    key32 se;
    const bool ee_ok = x25519(w.dh, e_r.priv, e_i);
    const bool se_ok = ee_ok && x25519(se, e_r.priv, s_i);  // as before: no se work after a zero ee
    const bool ok = noise_write_msg2_rest(w.st, w.dh, ee_ok, se, se_ok, psk, payload, out);
    sodium_memzero(se.data(), se.size());
    if (!ok) return false;
    st = w.st;
    return true;
}

void noise_write_msg2_e(noise_state& st, const public_key& e_r_pub, uint8_t* out) {
    std::memcpy(out, e_r_pub.data(), 32);
    kdf(st.ck, e_r_pub, &st.ck);
    mix_hash(st, e_r_pub);
}

bool noise_write_msg2_rest(noise_state& st, const key32& ee, bool ee_ok, const key32& se, bool se_ok,
                           const key32& psk, std::span<const uint8_t> payload, uint8_t* out) {
    if (!ee_ok || !se_ok) return false;
    scratch w(st);
    // ee, se
    kdf(w.st.ck, ee, &w.st.ck);
    kdf(w.st.ck, se, &w.st.ck);
    // psk: (C, τ, k) = KDF3(C, Q); h = HASH(h ‖ τ)
    key32 tau;
    kdf(w.st.ck, psk, &w.st.ck, &tau, &w.k);
    mix_hash(w.st, tau);
    sodium_memzero(tau.data(), tau.size());
    // {payload}
    aead_seal(out + 32, w.k, 0, payload, w.st.h);
    mix_hash(w.st, {out + 32, payload.size() + 16});
    st = w.st;
    return true;
}

bool noise_read_msg2(noise_state& st, const x25519_keypair& e_i, const x25519_keypair& s_i, const key32& psk,
                     std::span<const uint8_t> in, uint8_t* payload_out) {
    if (in.size() < 48) return false;
    scratch w(st);
    public_key e;
    std::memcpy(e.data(), in.data(), 32);
    kdf(w.st.ck, e, &w.st.ck);
    mix_hash(w.st, e);
    if (!x25519(w.dh, e_i.priv, e)) return false;
    kdf(w.st.ck, w.dh, &w.st.ck);
    if (!x25519(w.dh, s_i.priv, e)) return false;
    kdf(w.st.ck, w.dh, &w.st.ck);
    key32 tau;
    kdf(w.st.ck, psk, &w.st.ck, &tau, &w.k);
    mix_hash(w.st, tau);
    sodium_memzero(tau.data(), tau.size());
    if (!aead_open(payload_out, w.k, 0, in.subspan(32), w.st.h)) return false;
    mix_hash(w.st, in.subspan(32));
    st = w.st;
    return true;
}

void noise_split(const noise_state& st, key32& initiator_send, key32& responder_send) {
    kdf(st.ck, {}, &initiator_send, &responder_send);
}

}  // namespace eg::crypto
