#pragma once
// Batched X25519 (RFC 7748): many independent scalar multiplications in one call, eight
// at a time in the lanes of AVX-512 IFMA registers (vpmadd52luq/vpmadd52huq), so that a
// handshake thread that has queued several initiations pays a fraction of libsodium's
// cost per Diffie-Hellman. Results are byte-for-byte those of libsodium's
// crypto_scalarmult_curve25519 / _base, including its failure: an all-zero result (a
// small-order peer point) is reported as not ok, and the caller must reject it exactly as
// it rejects x25519() returning false (WireGuard whitepaper §5.4).
//
// Constant time: the IFMA path has no branch and no memory index that depends on a
// scalar, a point or a result (the ladder's conditional swap is a masked blend, the
// public-key table is read whole and selected from by masks, the final reduction and the
// zero check are arithmetic). Lane count and positions are public.
//
// Runtime dispatch: the IFMA code is compiled with function-level target attributes, so
// the project's -march does not matter; on a CPU without AVX-512F + IFMA (checked once
// with __builtin_cpu_supports) the same calls run lane by lane through libsodium.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace eg::crypto {

/// Multiplications one IFMA pass computes together (one per 64-bit lane of a zmm).
constexpr size_t k_x25519_lanes = 8;

/// Which implementation runs a batch.
enum class x25519_batch_path : uint8_t {
    ifma,    ///< AVX-512 IFMA, 8 lanes per pass (falls back to sodium where unsupported)
    sodium,  ///< libsodium, one multiplication at a time
};

/// ifma when this CPU (and OS) supports AVX-512F and AVX-512 IFMA, else sodium.
x25519_batch_path x25519_batch_default_path();

/// out[i] = X25519(scalars[i], points[i]) for every i; ok[i] = false when out[i] is all
/// zero (the point had small order), as libsodium's -1. Scalars are clamped as RFC 7748
/// §5 decodes them (callers need not clamp), the top bit of each u is ignored and
/// non-canonical u (≥ 2^255 - 19) are reduced, as §5 requires. Any count: full groups of
/// k_x25519_lanes go through IFMA, a remainder is padded to a group or done by libsodium,
/// whichever is faster. All four spans have the same size (checked: std::abort
/// otherwise). Thread-safe; scalar copies are wiped before return. `path` is for tests
/// and benchmarks; sodium may be forced anywhere, ifma degrades to sodium where absent.
void x25519_batch(std::span<const std::array<uint8_t, 32>> scalars,
                  std::span<const std::array<uint8_t, 32>> points,
                  std::span<std::array<uint8_t, 32>> out, std::span<bool> ok,
                  x25519_batch_path path = x25519_batch_default_path());

/// pubs[i] = X25519(scalars[i], 9), the public keys of the (clamped) private keys, as
/// libsodium's crypto_scalarmult_curve25519_base (never all zero). Uses a precomputed
/// table (built on the first call, about 0.5 ms) and is about 3x cheaper per key than
/// x25519_batch, so even a lone key goes through IFMA where present. Spans of equal size.
void x25519_batch_base(std::span<const std::array<uint8_t, 32>> scalars,
                       std::span<std::array<uint8_t, 32>> pubs,
                       x25519_batch_path path = x25519_batch_default_path());

}  // namespace eg::crypto
