// mac1 / mac2 / cookie replies (see cookie.hpp).
#include "crypto/cookie.hpp"

#include <sodium/utils.h>

#include <cstring>

#include "crypto/aead.hpp"
#include "crypto/blake2s.hpp"
#include "crypto/x25519.hpp"

namespace eg::crypto {
namespace {

// mac1 offset of a serialised initiation or response; 0 for anything else.
size_t mac1_offset(std::span<const uint8_t> msg) {
    message_type t;
    if (peek_type(msg, t) != parse_error::ok) return 0;
    if (t == message_type::initiation && msg.size() == k_initiation_size) return message_initiation::k_mac1_offset;
    if (t == message_type::response && msg.size() == k_response_size) return message_response::k_mac1_offset;
    return 0;
}

}  // namespace

mac_keys mac_keys::for_public_key(const public_key& pub) {
    mac_keys k;
    blake2s_hash(k.mac1, {reinterpret_cast<const uint8_t*>(k_label_mac1), 8}, pub);
    blake2s_hash(k.cookie, {reinterpret_cast<const uint8_t*>(k_label_cookie), 8}, pub);
    return k;
}

bool verify_mac1(const key32& mac1_key, std::span<const uint8_t> msg) {
    const size_t off = mac1_offset(msg);
    if (off == 0) return false;
    const mac16 m = blake2s_mac(mac1_key, msg.first(off));
    return sodium_memcmp(m.data(), msg.data() + off, m.size()) == 0;
}

cookie_checker::cookie_checker(const public_key& own_static) : keys_(mac_keys::for_public_key(own_static)) {}

mac16 cookie_checker::cookie_for(std::span<const uint8_t> source, uint64_t now) {
    // Rm changes every two minutes (whitepaper §5.4.7), lazily on use as the kernel does.
    if (!have_secret_ || now - secret_birth_ >= k_cookie_secret_max_age) {
        random_bytes(secret_);
        secret_birth_ = now;
        have_secret_ = true;
    }
    return blake2s_mac(secret_, source);
}

cookie_checker::verdict cookie_checker::validate(std::span<const uint8_t> msg, std::span<const uint8_t> source,
                                                 uint64_t now, bool under_load) {
    if (!verify_mac1(keys_.mac1, msg)) return verdict::invalid_mac1;
    if (!under_load) return verdict::valid;
    const size_t mac2_off = mac1_offset(msg) + 16;
    const mac16 cookie = cookie_for(source, now);
    const mac16 m = blake2s_mac(cookie, msg.first(mac2_off));
    if (sodium_memcmp(m.data(), msg.data() + mac2_off, m.size()) != 0) return verdict::need_cookie;
    return verdict::valid_with_cookie;
}

void cookie_checker::create_reply(std::span<const uint8_t> msg, std::span<const uint8_t> source, uint64_t now,
                                  message_cookie_reply& out) {
    const size_t off = mac1_offset(msg);
    // Precondition: msg passed validate(); anything else gets a reply nobody can use.
    out.receiver_index = msg.size() >= 8 ? load_le32(msg.data() + 4) : 0;
    random_bytes(out.nonce);
    const mac16 cookie = cookie_for(source, now);
    const std::span<const uint8_t> aad = off ? msg.subspan(off, 16) : std::span<const uint8_t>{};
    xaead_seal(out.encrypted_cookie.data(), keys_.cookie, out.nonce, cookie, aad);
}

cookie_maker::cookie_maker(const public_key& peer_static) : keys_(mac_keys::for_public_key(peer_static)) {}

void cookie_maker::add_macs(std::span<uint8_t> msg, uint64_t now) {
    const size_t off = mac1_offset(msg);
    if (off == 0) return;  // not a handshake message: nothing to sign
    last_mac1_ = blake2s_mac(keys_.mac1, msg.first(off));
    std::memcpy(msg.data() + off, last_mac1_.data(), 16);
    have_sent_mac1_ = true;
    if (has_fresh_cookie(now)) {
        const mac16 m2 = blake2s_mac(cookie_, msg.first(off + 16));
        std::memcpy(msg.data() + off + 16, m2.data(), 16);
    } else {
        std::memset(msg.data() + off + 16, 0, 16);
    }
}

cookie_maker::reply_error cookie_maker::consume_reply(const message_cookie_reply& reply, uint64_t now) {
    if (!have_sent_mac1_) return reply_error::no_mac1_sent;
    mac16 cookie;
    if (!xaead_open(cookie.data(), keys_.cookie, reply.nonce, reply.encrypted_cookie, last_mac1_))
        return reply_error::authentication_failed;
    cookie_ = cookie;
    cookie_birth_ = now;
    have_cookie_ = true;
    // One reply per mac1 sent (kernel cookie.c clears have_sent_mac1): a replayed
    // reply cannot refresh the cookie's age.
    have_sent_mac1_ = false;
    return reply_error::ok;
}

}  // namespace eg::crypto
