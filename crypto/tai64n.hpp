#pragma once
// TAI64N timestamps for handshake initiations (whitepaper §5.4.2; kernel noise.c
// tai64n_now; wireguard-go tai64n/tai64n.go): 8 bytes big-endian seconds + 2^62 + 10,
// then 4 bytes big-endian nanoseconds, rounded down to a multiple of 2^24 ns (~16.7 ms)
// so the timestamp does not leak precise timing. Responders accept an initiation only
// if its timestamp is strictly greater than the greatest one seen from that peer, so
// the sender's wall clock must not step back.
#include <array>
#include <cstdint>

namespace eg::crypto {

using tai64n = std::array<uint8_t, 12>;

/// Encodes a wall-clock time given as nanoseconds since the Unix epoch (whitened).
tai64n tai64n_from_unix_ns(uint64_t unix_ns);
/// True when a is strictly later than b (big-endian, so byte order is time order).
bool tai64n_after(const tai64n& a, const tai64n& b);

}  // namespace eg::crypto
