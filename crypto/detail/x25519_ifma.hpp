#pragma once
// Internal to crypto/x25519_batch.cpp: eight X25519 multiplications at once with AVX-512
// IFMA (the Montgomery ladder, and a table method for the base point).
// Callers outside crypto/ use crypto/x25519_batch.hpp, which checks the CPU first.
#include <array>
#include <cstdint>

#include "crypto/x25519_batch.hpp"

namespace eg::crypto::detail {

using x25519_lanes32 = std::array<std::array<uint8_t, 32>, k_x25519_lanes>;

/// True when the CPU and OS support AVX-512F and AVX-512 IFMA (checked once).
bool x25519_ifma_supported();

/// out[l] = X25519(scalars[l], points[l]) for the eight lanes l, all-zero for a
/// small-order point (the caller checks). Scalars are clamped here. Precondition:
/// x25519_ifma_supported(). Constant time in every input.
void x25519_ifma_x8(const x25519_lanes32& scalars, const x25519_lanes32& points,
                    x25519_lanes32& out);

/// out[l] = X25519(scalars[l], 9): public keys by a precomputed table of base-point
/// multiples on the Edwards curve (crypto/x25519_ifma_base.cpp), about 3x faster than
/// the ladder. The table (30 KiB) is built on the first call (about 0.5 ms).
void x25519_ifma_base_x8(const x25519_lanes32& scalars, x25519_lanes32& out);

}  // namespace eg::crypto::detail
