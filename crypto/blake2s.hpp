#pragma once
// BLAKE2s as WireGuard uses it (whitepaper §5.4): HASH = BLAKE2s-256, MAC = keyed
// BLAKE2s with a 16-byte digest (not HMAC, not a truncated BLAKE2s-256: the digest
// length is part of the parameter block), HMAC = RFC 2104 over BLAKE2s-256, and the
// HKDF-style KDF1/2/3 built on it. Our own BLAKE2s (RFC 7693; SSE rows where the target
// has SSSE3, portable C otherwise) on stack states: no call allocates or locks. It
// replaced OpenSSL's EVP BLAKE2s/HMAC (plain-C compression plus a provider-layer re-key
// on every EVP_MAC_init): an HMAC of a KDF step costs about half as much
// (bench/wireguard_microbench.cpp BM_WireGuard_hmac vs BM_WireGuard_evp_hmac in one run;
// docs/wireguard.md "Measured figures").
//
// Used on handshake and cookie paths only, never per data packet. Thread-safe.
#include <cstdint>
#include <span>

#include "crypto/constants.hpp"

namespace eg::crypto {

using bytes_view = std::span<const uint8_t>;

/// HASH(a ‖ b): BLAKE2s-256 of the concatenation.
void blake2s_hash(key32& out, bytes_view a, bytes_view b = {});
/// Keyed BLAKE2s with an out.size()-byte digest (1..32), key 1..32 bytes. WireGuard's
/// MAC() is the 16-byte form.
void blake2s_keyed(std::span<uint8_t> out, bytes_view key, bytes_view data);
/// MAC(key, data) = keyed BLAKE2s-128.
inline mac16 blake2s_mac(bytes_view key, bytes_view data) {
    mac16 m;
    blake2s_keyed(m, key, data);
    return m;
}
/// HMAC-BLAKE2s(key, a ‖ b), 32 bytes.
void hmac_blake2s(key32& out, bytes_view key, bytes_view a, bytes_view b = {});

/// KDFn(C, input) (whitepaper §5.4): τ0 = HMAC(C, input), τ1 = HMAC(τ0, 0x1),
/// τi = HMAC(τ0, τi-1 ‖ i). Writes τ1..τn into the n outputs (n = 1..3); outputs may
/// alias `chaining_key` (the usual C = KDF1(C, x) update).
void kdf(bytes_view chaining_key, bytes_view input, key32* out1, key32* out2 = nullptr,
         key32* out3 = nullptr);

}  // namespace eg::crypto
