#pragma once
// mac1 / mac2 and the cookie mechanism (whitepaper §5.4.4 and §5.4.7; kernel cookie.c;
// wireguard-go cookie.go). Both work on the serialised initiation (148 B) or response
// (92 B); the message type picks where mac1 and mac2 sit.
//
//  - mac1 = MAC(HASH("mac1----" ‖ receiver's static public key), msg[0 .. mac1)):
//    proves the sender knows our public key. Always checked, first, before any
//    Diffie-Hellman work, so a flood of junk costs one BLAKE2s each.
//  - mac2 = MAC(cookie, msg[0 .. mac2)) where cookie = MAC(Rm, source address) was sent
//    to that source in a cookie reply; under load, only messages with a valid mac2 get
//    DH work, which proves the source address is reachable.
#include <cstdint>
#include <span>

#include "crypto/constants.hpp"
#include "crypto/messages.hpp"

namespace eg::crypto {

/// HASH(label ‖ static public key) for both labels, derived once per key.
struct mac_keys {
    key32 mac1{};    ///< HASH("mac1----" ‖ pub)
    key32 cookie{};  ///< HASH("cookie--" ‖ pub), the XAEAD key of cookie replies
    static mac_keys for_public_key(const public_key& pub);
};

/// True when msg is a serialised initiation or response whose mac1 is valid under
/// mac1_key (constant-time compare). Const and thread-safe: usable on an RX core.
bool verify_mac1(const key32& mac1_key, std::span<const uint8_t> msg);

/// Responder side: holds the rotating secret Rm. Owner: one thread (the handshake
/// thread); rotation makes it stateful.
class cookie_checker {
public:
    enum class verdict : uint8_t {
        invalid_mac1,       ///< drop silently, no reply (not even a cookie)
        need_cookie,        ///< under load and mac2 not valid: send a cookie reply, no DH
        valid,              ///< mac1 valid (not under load: mac2 is not looked at)
        valid_with_cookie,  ///< under load and mac2 valid: the source is proven
    };

    explicit cookie_checker(const public_key& own_static);

    /// The checks in the kernel's order: mac1, then (only when under_load) mac2 for a
    /// cookie of `source`. source: the sender's address bytes as the caller encodes
    /// them, e.g. 4 or 16 address bytes then the 2-byte big-endian port (kernel cookie.c).
    verdict validate(std::span<const uint8_t> msg, std::span<const uint8_t> source, uint64_t now, bool under_load);

    /// The cookie reply to msg (an initiation or response whose mac1 was valid) from
    /// source: receiver = the message's sender index, nonce random, cookie encrypted
    /// with XChaCha20-Poly1305 under HASH("cookie--" ‖ our key), AAD = msg's mac1.
    void create_reply(std::span<const uint8_t> msg, std::span<const uint8_t> source, uint64_t now,
                      message_cookie_reply& out);

    const mac_keys& keys() const { return keys_; }

private:
    mac16 cookie_for(std::span<const uint8_t> source, uint64_t now);

    mac_keys keys_;
    key32 secret_{};
    uint64_t secret_birth_ = 0;
    bool have_secret_ = false;
};

/// Initiator side, one per peer: adds mac1/mac2 to what we send and takes cookie
/// replies. Owner: the peer's handshake thread.
class cookie_maker {
public:
    enum class reply_error : uint8_t { ok, no_mac1_sent, authentication_failed };

    explicit cookie_maker(const public_key& peer_static);

    /// Writes mac1 (and mac2 when we hold a cookie younger than 115 s, else zeros)
    /// into the serialised initiation or response msg; remembers mac1 for a reply's AAD.
    void add_macs(std::span<uint8_t> msg, uint64_t now);
    /// Decrypts and stores the cookie (AAD = the last mac1 we sent). Never touches the
    /// endpoint: a cookie reply is not authenticated traffic (reference §1.4).
    reply_error consume_reply(const message_cookie_reply& reply, uint64_t now);

    bool has_fresh_cookie(uint64_t now) const {
        return have_cookie_ && now - cookie_birth_ < k_cookie_use_max_age;
    }

private:
    mac_keys keys_;
    mac16 last_mac1_{};
    bool have_sent_mac1_ = false;
    mac16 cookie_{};
    uint64_t cookie_birth_ = 0;
    bool have_cookie_ = false;
};

}  // namespace eg::crypto
