// Transport data sealing and opening (see transport.hpp).
#include "crypto/transport.hpp"

#include <cstring>

#include "crypto/messages.hpp"

namespace eg::crypto {

const char* to_string(transport_error e) {
    switch (e) {
#define EG_X(name)              \
    case transport_error::name: \
        return #name;
        EG_WG_TRANSPORT_ERRORS(EG_X)
#undef EG_X
    }
    return "?";
}

bool keypair::init(const session_keys& keys, uint64_t now) {
    valid_ = send_.init(aead_context::mode::seal, keys.send) && receive_.init(aead_context::mode::open, keys.receive);
    replay_.reset();
    send_counter_ = 0;
    birth_ = now;
    local_index_ = keys.local_index;
    remote_index_ = keys.remote_index;
    initiator_ = keys.initiator;
    return valid_;
}

transport_error keypair::seal(std::span<const uint8_t> plaintext, std::span<uint8_t> out, uint64_t now,
                              size_t& written, size_t mtu) {
    if (!valid_ || expired(now)) return transport_error::key_expired;
    const size_t padded = padded_size(plaintext.size(), mtu);
    const size_t total = k_transport_header_size + padded + k_aead_tag_size;
    if (out.size() < total) return transport_error::buffer_too_small;
    if (send_counter_ >= k_reject_after_messages) return transport_error::counter_exhausted;
    const uint64_t counter = send_counter_++;

    uint8_t* body = out.data() + k_transport_header_size;
    if (plaintext.data() != body && !plaintext.empty()) std::memmove(body, plaintext.data(), plaintext.size());
    std::memset(body + plaintext.size(), 0, padded - plaintext.size());
    if (!send_.seal(wg_nonce(counter), body, padded, body, body + padded)) return transport_error::crypto_failure;
    serialise(transport_header{remote_index_, counter}, std::span<uint8_t, k_transport_header_size>(out.data(), 16));
    written = total;
    return transport_error::ok;
}

transport_error keypair::open(std::span<uint8_t> packet, uint64_t now, std::span<uint8_t>& plaintext) {
    transport_header h;
    if (parse(packet, h) != parse_error::ok) return transport_error::malformed;
    if (!valid_ || h.receiver_index != local_index_) return transport_error::wrong_receiver;
    if (expired(now)) return transport_error::key_expired;
    if (h.counter >= k_reject_after_messages) return transport_error::counter_exhausted;
    // Duplicates and too-old counters are refused before paying for the AEAD; the
    // window itself moves only after authentication.
    if (!replay_.would_accept(h.counter)) return transport_error::replayed;
    const size_t len = packet.size() - k_transport_header_size - k_aead_tag_size;
    uint8_t* body = packet.data() + k_transport_header_size;
    if (!receive_.open(wg_nonce(h.counter), body, len, body + len, body))
        return transport_error::authentication_failed;
    if (!replay_.check_and_update(h.counter)) return transport_error::replayed;
    plaintext = std::span<uint8_t>(body, len);
    return transport_error::ok;
}

}  // namespace eg::crypto
