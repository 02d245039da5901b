#pragma once
// WireGuard protocol constants in one place (whitepaper §5.4 and §6; kernel
// drivers/net/wireguard/messages.h; wireguard-go device/constants.go). Times are
// nanoseconds of a monotonic clock the caller reads: nothing in crypto/ reads a clock.
#include <array>
#include <cstddef>
#include <cstdint>

namespace eg::crypto {

using key32 = std::array<uint8_t, 32>;  ///< symmetric key, chaining key or hash
using public_key = std::array<uint8_t, 32>;
using private_key = std::array<uint8_t, 32>;
using mac16 = std::array<uint8_t, 16>;

constexpr uint64_t k_ns_per_ms = 1'000'000ULL;
constexpr uint64_t k_ns_per_s = 1'000'000'000ULL;

// Construction, identifier and labels (whitepaper §5.4).
inline constexpr char k_construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr char k_identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
inline constexpr char k_label_mac1[] = "mac1----";
inline constexpr char k_label_cookie[] = "cookie--";

// Message sizes (kernel messages.h); types 1..3 must match exactly.
constexpr size_t k_initiation_size = 148;
constexpr size_t k_response_size = 92;
constexpr size_t k_cookie_reply_size = 64;
constexpr size_t k_transport_header_size = 16;
constexpr size_t k_aead_tag_size = 16;
constexpr size_t k_transport_min_size = k_transport_header_size + k_aead_tag_size;  ///< keepalive
constexpr size_t k_timestamp_size = 12;  ///< TAI64N
constexpr size_t k_cookie_size = 16;
constexpr size_t k_cookie_nonce_size = 24;
constexpr size_t k_padding_multiple = 16;  ///< transport plaintext padded to this

// Counters (wireguard-go constants.go; kernel messages.h).
constexpr uint64_t k_rekey_after_messages = 1ULL << 60;
/// 2^64 - 2^13 - 1: the highest counter either side may use, kept below 2^64 by more
/// than the replay window so a counter near the end cannot wrap the window.
constexpr uint64_t k_reject_after_messages = ~0ULL - (1ULL << 13);

// Timers (whitepaper §6.1, §6.4).
constexpr uint64_t k_rekey_after_time = 120 * k_ns_per_s;
constexpr uint64_t k_reject_after_time = 180 * k_ns_per_s;
constexpr uint64_t k_rekey_attempt_time = 90 * k_ns_per_s;
constexpr uint64_t k_rekey_timeout = 5 * k_ns_per_s;
constexpr uint64_t k_rekey_timeout_jitter_max = 334 * k_ns_per_ms;  ///< jitter in [0, 334) ms
constexpr uint64_t k_keepalive_timeout = 10 * k_ns_per_s;
constexpr uint64_t k_cookie_secret_max_age = 120 * k_ns_per_s;
/// A held cookie is used for mac2 only while younger than this (kernel cookie.c:
/// COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY), so it is still valid on arrival.
constexpr uint64_t k_cookie_use_max_age = 115 * k_ns_per_s;
/// The initiator's one "last-minute" rekey on receive (kernel receive.c keep_key_fresh).
constexpr uint64_t k_rekey_on_receive_age = k_reject_after_time - k_keepalive_timeout - k_rekey_timeout;
constexpr uint64_t k_zero_keys_after = 3 * k_reject_after_time;  ///< 540 s
constexpr uint32_t k_max_timer_handshakes = uint32_t(k_rekey_attempt_time / k_rekey_timeout);  ///< 18
/// Initiations from one peer closer together than this are dropped (kernel noise.c:
/// INITIATIONS_PER_SECOND = 50), checked after the timestamp.
constexpr uint64_t k_min_initiation_interval = k_ns_per_s / 50;

}  // namespace eg::crypto
